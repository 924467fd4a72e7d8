-- bench/observe_storm.lua [TASKS] [ATTEMPTS] [GOFILE] [at-go|before]:
-- bench/restarts.lua's storm as a script for `taskvisor run` (so the control
-- API, --http and a status page watch it): waits until GOFILE exists (the
-- page is open and live), then TASKS always-restarting tasks that return at
-- once run until ATTEMPTS attempts; prints attempts per second and the
-- host's CPU time. The tasks are added when GOFILE appears (at-go: a page
-- builds their rows during the storm), or before, their first attempts
-- waiting for it (before: a page shows them before the storm, which it then
-- only follows). bench/observe.sh drives it.
local tv = require("taskvisor")

local argv = { ... } -- (the words after the script: `taskvisor run` passes them as ...)
local ntasks = tonumber(argv[1]) or 1000
local total = tonumber(argv[2]) or 200000
local gofile = argv[3]
local before = argv[4] == "before"

-- /proc/self/schedstat: seconds on a CPU, seconds waiting for one (runnable)
local function sched()
  local f = io.open("/proc/self/schedstat")
  if not f then return 0, 0 end
  local run, wait = f:read("n", "n")
  f:close()
  return run / 1e9, wait / 1e9
end

local sup = tv.supervisor({ grace = 5 })
local attempts, t0, t1, c0, c1, w0, w1 = 0, nil, nil, nil, nil, nil, nil
local function run()
  if not t0 then repeat tv.sleep(0.05) until t0 end -- (before: the storm starts with GOFILE)
  attempts = attempts + 1
  if attempts == total then
    t1, c1, w1 = tv.monotime(), os.clock(), select(2, sched())
    sup:shutdown()
  end
end
local function add_tasks()
  for i = 1, ntasks do assert(sup:add(tv.task({ name = "t" .. i, restart = "always", run = run }))) end
end
assert(sup:add(tv.task({ name = "gate", restart = "never", run = function()
  if before then add_tasks() end
  while gofile and not io.open(gofile) do tv.sleep(0.05) end
  t0, c0, w0 = tv.monotime(), os.clock(), select(2, sched())
  if not before then add_tasks() end
end })))
assert(sup:run())
-- cpu: the host's own CPU time over the storm; runq: the time it was ready
-- to run but waited for a core (a browser on the same cores); the rest of
-- the wall time it slept in its loop (nothing to do)
print(string.format("observe_storm: tasks=%d attempts=%d time=%.3fs cpu=%.3fs runq=%.3fs idle=%.3fs attempts/s=%.0f",
  ntasks, attempts, t1 - t0, c1 - c0, w1 - w0, math.max(0, (t1 - t0) - (c1 - c0) - (w1 - w0)), total / (t1 - t0)))
