-- bench/ctl_config.lua MODE TASKS OUT: the host config bench/ctl.sh drives
-- through taskvisor ctl. MODE "idle": TASKS Lua tasks asleep (for `ctl status`
-- with that many tasks); "storm": TASKS Lua tasks restarting at once
-- (restart = "always", run returns), the restart benchmark's load. Either
-- way a probe task sleeps 1 ms in a loop and appends one line a second to
-- OUT: "<second> <attempts that second> <worst lateness of its 1 ms sleeps, ms>
-- <worst host CPU between two of its wakeups, less the 1 ms, ms> <Lua heap,
-- KiB>": the loop's
-- longest stall as a timer inside the host sees it, first in wall time (which
-- counts the time other processes held the core), then in the host's own CPU
-- time (the loop's own work).
local tv = require("taskvisor")
local mode, ntasks, out = ...
ntasks = tonumber(ntasks) or 10000
out = out or "/tmp/taskvisor-ctl-bench.log"

local attempts = 0
local tasks = {}
for i = 1, ntasks do
  if mode == "storm" then
    tasks[i] = tv.task{ name = "t" .. i, restart = "always", run = function() attempts = attempts + 1 end }
  else
    tasks[i] = tv.task{ name = "t" .. i, restart = "always", run = function(ctx) while ctx:sleep(3600) do end end }
  end
end
tasks[#tasks + 1] = tv.task{ name = "probe", restart = "never", run = function(ctx)
  local f = assert(io.open(out, "a"))
  f:setvbuf("line")
  local second, worst, worst_cpu, last_attempts = math.floor(tv.monotime()), 0, 0, attempts
  local t, c = tv.monotime(), os.clock()
  while ctx:sleep(0.001) do
    local now, cpu = tv.monotime(), os.clock()
    local late = now - t - 0.001
    if late > worst then worst = late end
    -- the host's own CPU between two wakeups (the loop is busy throughout a
    -- storm): its longest stretch of work, without the time other processes
    -- on the machine held the core
    local late_cpu = cpu - c - 0.001
    if late_cpu > worst_cpu then worst_cpu = late_cpu end
    t, c = now, cpu
    local s = math.floor(now)
    if s ~= second then
      f:write(string.format("%d %d %.3f %.3f %.0f\n", s, attempts - last_attempts, worst * 1000, worst_cpu * 1000,
        collectgarbage("count")))
      second, worst, worst_cpu, last_attempts = s, 0, 0, attempts
    end
  end
  f:close()
end }

return tv.config{ supervisor = { grace = 10 }, tasks = tasks }
