-- first_config.lua: your first config. A web server and a worker as
-- supervised processes, each restarted when it ends, their output in log
-- files; the log writer prints one line per lifecycle event.
--
--   taskvisor examples/first_config.lua     (stop it with Ctrl+C)
--   PORT=9000 LOG_DIR=/var/log/myapp taskvisor examples/first_config.lua
local tv = require("taskvisor")

local port = os.getenv("PORT") or "8080"
local logs = os.getenv("LOG_DIR") or "/tmp"   -- must exist: sup:add checks

local sup = tv.supervisor{ grace = 5 }        -- on Ctrl+C: 5 s for everything to stop
sup:subscribe(tv.log_writer())                -- one line per event on stdout

-- python3 -u: unbuffered, so its lines reach the log as they are written
assert(sup:add(tv.process{
  name = "web",
  cmd = { "python3", "-u", "-m", "http.server", port, "--bind", "127.0.0.1" },
  stdout = logs .. "/web.log", stderr = logs .. "/web.log",
  restart = "always",                         -- whenever it exits, start it again,
  backoff = { first = 1, max = 30, factor = 2 }, -- waiting 1 s, 2 s, 4 s ... after crashes
}))

assert(sup:add(tv.process{
  name = "worker",
  cmd = { "sh", "-c", "echo processing a batch; sleep 1; echo batch done" },
  stdout = logs .. "/worker.log",
  restart = "always", interval = 2,           -- run it again 2 s after each success
}))

local ok, err = sup:run()                     -- runs until Ctrl+C or SIGTERM
if not ok then
  io.stderr:write(err, "\n")
  os.exit(2)
end
