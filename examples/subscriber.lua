-- subscriber.lua: a custom subscriber that counts events by kind (the
-- reference crate's "metrics" example). A flaky job fails three times, then
-- succeeds; the subscriber sees every step in order, in its own coroutine.
--
--   taskvisor examples/subscriber.lua
local tv = require("taskvisor")

local counts = {}
local metrics = {
  name = "metrics",
  queue = 2048,
  on_event = function(ev)
    counts[ev.kind] = (counts[ev.kind] or 0) + 1
  end,
}

local sup = tv.supervisor({ grace = 5 })
sup:subscribe(metrics)

local runs = 0
assert(sup:add(tv.restartable("flaky-job", function(ctx)
  runs = runs + 1
  ctx:sleep(0.05)
  if runs <= 3 then tv.fail("not ready yet (run " .. runs .. ")") end
end, { backoff = { first = 0.1, factor = 1 } })))

assert(sup:run()) -- returns once the job is done and every event was delivered

local kinds = {}
for kind in pairs(counts) do kinds[#kinds + 1] = kind end
table.sort(kinds)
for _, kind in ipairs(kinds) do
  print(string.format("%-20s %d", kind, counts[kind]))
end
print(string.format("starts=%d stops=%d failures=%d retries=%d",
  counts.TaskStarting or 0, counts.TaskStopped or 0, counts.TaskFailed or 0,
  counts.BackoffScheduled or 0))
