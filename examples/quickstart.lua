-- quickstart.lua: the reference crate's README demo. One task does half a
-- second of "work" and fails 30% of the time; it restarts after every run
-- (restart = "always"), backing off 1 s, 2 s, 4 s, then 5 s while failures
-- repeat. The log writer prints every lifecycle event.
--
--   taskvisor examples/quickstart.lua        (stop it with Ctrl+C)
local tv = require("taskvisor")

local sup = tv.supervisor({ grace = 5 })
sup:subscribe(tv.log_writer())

assert(sup:add(tv.task({
  name = "demo",
  restart = "always",
  backoff = { first = 1, max = 5, factor = 2, jitter = "none" },
  run = function(ctx)
    ctx:sleep(0.5) -- the work; returns early if the task is cancelled
    if math.random() < 0.3 then error("simulated failure") end
  end,
})))

-- Runs until Ctrl+C (SIGINT), SIGTERM or SIGQUIT: then every task is
-- cancelled and given `grace` seconds to stop.
local ok, err = sup:run()
if not ok then
  io.stderr:write(err, "\n")
  os.exit(2)
end
