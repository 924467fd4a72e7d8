-- bench/storm.lua [TASKS [SECONDS]]: a restart storm of TASKS process tasks running
-- /bin/true under restart = "always", beside a 10 ms Lua ticker: how late the
-- ticker gets (worst and mean) and how many restarts the storm made. Results: BENCHMARKS.md.
local tv = require("taskvisor")
local n, secs = tonumber(arg[1] or 200), tonumber(arg[2] or 3)
local sup = tv.supervisor({ grace = 10 })
local specs, gaps = {}, {}
for i = 1, n do specs[i] = tv.process({ name = "p" .. i, cmd = { "/bin/true" }, restart = "always", backoff = { first = 0.001 } }) end
local worst, sum, count = 0, 0, 0
specs[#specs + 1] = tv.task({ name = "ticker", run = function(ctx)
  local last = tv.monotime()
  local t0 = last
  while tv.monotime() - t0 < secs do
    ctx:sleep(0.01)
    local now = tv.monotime()
    local gap = now - last - 0.01
    if gap > worst then worst = gap end
    sum, count = sum + gap, count + 1
    last = now
  end
  sup:shutdown()
end })
local starts = 0
sup:subscribe(function(ev) if ev.kind == "TaskStarting" then starts = starts + 1 end end)
assert(sup:run(specs))
print(string.format("worst_late_ms=%.1f mean_late_ms=%.1f ticks=%d starts=%d", worst * 1000, sum / count * 1000, count, starts))
