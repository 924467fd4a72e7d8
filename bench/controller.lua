-- bench/controller.lua [MODE] [SUBMISSIONS] [SLOTS]: controller admissions.
--   queue   (default): SUBMISSIONS (default 200,000) `queue` submissions spread
--           round-robin over SLOTS (default 1,000) slots; tasks complete at once.
--   replace: SUBMISSIONS `replace` submissions into one hot slot whose running
--           task never ends by itself (each replace displaces the queue head).
-- Prints admissions per second for the submit calls alone (the time `sup:submit`
-- takes, validation through the core included), and for the whole run (every
-- admitted task started, completed and removed, slots advanced).
local tv = require("taskvisor")

local mode = arg[1] or "queue"
local total = tonumber(arg[2]) or 200000
local nslots = tonumber(arg[3]) or 1000
assert(mode == "queue" or mode == "replace", "mode: queue or replace")

local sup = tv.supervisor({ grace = 5, controller = { max_slot_queue = total } })
local done = function() end
local forever = function(ctx) while ctx:sleep(3600) do end end

local specs, slots = {}, {}
for i = 1, nslots do slots[i] = "slot-" .. i end
-- specs are built before timing: the benchmark measures admission, not tv.task
for i = 1, total do
  specs[i] = tv.task({ name = "job-" .. i, restart = "never", run = mode == "queue" and done or forever })
end

local admitted, rejected = 0, 0
local t0, t_submit, t_end
assert(sup:add(tv.once("submitter", function()
  t0 = tv.monotime()
  if mode == "queue" then
    for i = 1, total do
      if sup:submit({ task = specs[i], slot = slots[(i - 1) % nslots + 1] }) then
        admitted = admitted + 1
      else
        rejected = rejected + 1
      end
    end
  else
    for i = 1, total do
      if sup:submit({ task = specs[i], slot = "hot", admission = "replace" }) then
        admitted = admitted + 1
      else
        rejected = rejected + 1
      end
    end
  end
  t_submit = tv.monotime()
  if mode == "replace" then sup:shutdown() end
end)))
assert(sup:run())
t_end = tv.monotime()
print(string.format("controller: mode=%s submissions=%d slots=%d admitted=%d rejected=%d "
  .. "submit=%.3fs admissions/s=%.0f whole_run=%.3fs end_to_end/s=%.0f",
  mode, total, mode == "queue" and nslots or 1, admitted, rejected, t_submit - t0,
  admitted / (t_submit - t0), t_end - t0, admitted / (t_end - t0)))
