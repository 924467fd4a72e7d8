-- bench/observe_storm.lua [TASKS] [ATTEMPTS] [GOFILE]: bench/restarts.lua's
-- storm as a script for `taskvisor run` (so the control API, --http and a
-- status page watch it): waits until GOFILE exists (the page is open and
-- live), then TASKS always-restarting tasks that return at once run until
-- ATTEMPTS attempts; prints attempts per second and the host's CPU time. bench/observe.sh drives it.
local tv = require("taskvisor")

local argv = { ... } -- (the words after the script: `taskvisor run` passes them as ...)
local ntasks = tonumber(argv[1]) or 1000
local total = tonumber(argv[2]) or 200000
local gofile = argv[3]

local sup = tv.supervisor({ grace = 5 })
local attempts, t0, t1, c0, c1 = 0, nil, nil, nil, nil
local function run()
  attempts = attempts + 1
  if attempts == total then
    t1, c1 = tv.monotime(), os.clock()
    sup:shutdown()
  end
end
assert(sup:add(tv.task({ name = "gate", restart = "never", run = function()
  while gofile and not io.open(gofile) do tv.sleep(0.05) end
  t0, c0 = tv.monotime(), os.clock()
  for i = 1, ntasks do assert(sup:add(tv.task({ name = "t" .. i, restart = "always", run = run }))) end
end })))
assert(sup:run())
-- cpu: the host's own CPU time over the storm (a browser on the same cores
-- slows the wall time without costing the host anything)
print(string.format("observe_storm: tasks=%d attempts=%d time=%.3fs cpu=%.3fs attempts/s=%.0f", ntasks, attempts,
  t1 - t0, c1 - c0, total / (t1 - t0)))
