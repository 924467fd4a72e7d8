-- bench/events_fields.lua [EVENTS] [BATCH]: as bench/events.lua, but the
-- subscriber reads what a log writer reads (seq, kind, task, attempt, reason,
-- pid), so the cost of reading fields shows, not only of delivering events.
local tv = require("taskvisor")

local total = tonumber(arg[1]) or 2000000
local batch = tonumber(arg[2]) or 1000

local sup = tv.supervisor({ grace = 5 })
local seen, sum = 0, 0
assert(sup:subscribe({ name = "fields", queue = batch + 16, on_event = function(ev)
  if ev.task == "bench" and ev.kind == "TaskStarting" and ev.reason == nil then
    seen = seen + 1
    sum = sum + ev.seq % 7 + ev.attempt + (ev.pid or 0)
  end
end }))

local t0, t1
sup:add(tv.once("publisher", function(ctx)
  t0 = tv.monotime()
  for _ = 1, total // batch do
    sup.core:_bench_publish(batch)
    ctx:yield()
  end
  t1 = tv.monotime()
end))
assert(sup:run())
local dt = t1 - t0
print(string.format("events_fields: published=%d delivered=%d time=%.3fs events/s=%.0f",
  total, seen, dt, seen / dt))
