-- bench/ctl_config.lua MODE TASKS OUT: the host config bench/ctl.sh drives
-- through taskvisor ctl. MODE "idle": TASKS Lua tasks asleep (for `ctl status`
-- with that many tasks); "storm": TASKS Lua tasks restarting at once
-- (restart = "always", run returns), the restart benchmark's load. Either
-- way a probe task sleeps 1 ms in a loop and appends one line a second to
-- OUT: "<second> <attempts that second> <worst lateness of its 1 ms sleeps, ms>",
-- the loop's longest stall as a timer inside the host sees it.
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
  local second, worst, last_attempts = math.floor(tv.monotime()), 0, attempts
  local t = tv.monotime()
  while ctx:sleep(0.001) do
    local now = tv.monotime()
    local late = now - t - 0.001
    if late > worst then worst = late end
    t = now
    local s = math.floor(now)
    if s ~= second then
      f:write(string.format("%d %d %.3f\n", s, attempts - last_attempts, worst * 1000))
      second, worst, last_attempts = s, 0, attempts
    end
  end
  f:close()
end }

return tv.config{ supervisor = { grace = 10 }, tasks = tasks }
