-- bench/restart_rate.lua [N]: prints one number, the restarts per second of a
-- process task running /bin/false under restart = "always" with no backoff
-- and no subscriber, over N attempts (default 1000). bench/spawn_ratio.sh
-- runs it beside raw spawns.
local tv = require("taskvisor")
local n = tonumber(arg[1]) or 1000
local sup = tv.supervisor({ grace = 5 })
assert(sup:add(tv.process({ name = "false", cmd = { "/bin/false" }, restart = "always",
  backoff = { first = 0, max = 0 }, max_retries = n - 1 })))
local t0 = tv.monotime()
assert(sup:run())
print(string.format("%.0f", n / (tv.monotime() - t0)))
