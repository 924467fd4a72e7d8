-- bench/memory.lua [TASKS]: resident memory per idle supervised task.
-- Adds TASKS tasks that each sleep for an hour in ctx:sleep, waits until all
-- of them are asleep, runs a full GC, and reports (RSS now - RSS before the
-- tasks were added) / TASKS. RSS is read from /proc/self/statm.
local tv = require("taskvisor")

local ntasks = tonumber(arg[1]) or 100000

local function rss_bytes()
  local f = assert(io.open("/proc/self/statm"))
  local _, resident = f:read("n", "n")
  f:close()
  return resident * 4096
end

local function sleeper(ctx) ctx:sleep(3600) end

local sup = tv.supervisor({ grace = 120 }) -- 1 M tasks take seconds to stop
collectgarbage()
collectgarbage()
local before = rss_bytes()
local lua_before = collectgarbage("count")
for i = 1, ntasks do
  assert(sup:add(tv.task({ name = "task-" .. i, restart = "never", run = sleeper })))
end

local result
sup:add(tv.once("probe", function(ctx)
  ctx:sleep(0.5) -- every task has started and is sleeping
  assert(#sup:snapshot() == ntasks + 1, "not all tasks are running")
  collectgarbage()
  collectgarbage()
  local rss = rss_bytes() - before
  local lua = (collectgarbage("count") - lua_before) * 1024
  result = string.format("memory: tasks=%d rss_total=%.1fMiB rss_per_task=%.0fB lua_heap_per_task=%.0fB",
    ntasks, rss / 1048576, rss / ntasks, lua / ntasks)
  sup:shutdown()
end))
assert(sup:run())
print(result)
