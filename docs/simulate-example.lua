-- docs/simulate-example.lua: the README's "Try a policy before you deploy it".
local tv = require("taskvisor")
return tv.config{
  supervisor = { grace = 10 },
  tasks = {
    tv.process{ name = "web", cmd = { "/usr/local/bin/web" }, restart = "always",
      backoff = { first = 1, max = 60, factor = 2, jitter = "full" }, reset_after = 60,
      intensity = { max_restarts = 5, within = 60 }, on_exhausted = { cooldown = 300 } },
    tv.process{ name = "db", cmd = { "/usr/local/bin/db" }, ready = { notify = true, timeout = 30 } },
    tv.task{ name = "report", restart = "always", interval = 900, after = { "db" },
      run = function(ctx) ctx:sleep(120) end }, -- a 2-minute job every 15 minutes
  },
}
