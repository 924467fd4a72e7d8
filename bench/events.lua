-- bench/events.lua [EVENTS] [BATCH]: event delivery into one Lua subscriber.
-- A task publishes EVENTS events in batches of BATCH (through an internal
-- benchmark hook that publishes synthetic TaskStarting events), yielding to the
-- loop between batches; a subscriber with a queue of BATCH counts them.
-- Prints events per second delivered (table built + on_event called).
local tv = require("taskvisor")

local total = tonumber(arg[1]) or 2000000
local batch = tonumber(arg[2]) or 1000

local sup = tv.supervisor({ grace = 5 })
local seen = 0
assert(sup:subscribe({ name = "count", queue = batch + 16, on_event = function(ev)
  if ev.task == "bench" then seen = seen + 1 end
end }))

local t0, t1
sup:add(tv.once("publisher", function(ctx)
  t0 = tv.monotime()
  for _ = 1, total // batch do
    sup.core:_bench_publish(batch)
    ctx:yield() -- the subscriber drains its queue before we publish more
  end
  t1 = tv.monotime()
end))
assert(sup:run())
local dt = t1 - t0
print(string.format("events: published=%d delivered=%d time=%.3fs events/s=%.0f",
  total, seen, dt, seen / dt))
