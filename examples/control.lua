-- control.lua: adding, removing and cancelling tasks while the supervisor
-- runs (the reference crate's "dynamic" example). An "operator" task drives
-- the changes; supervisor methods work from inside tasks and subscribers.
--
--   taskvisor examples/control.lua
local tv = require("taskvisor")

local sup = tv.supervisor({ grace = 5 })

-- A worker ticks until it is cancelled, then returns cleanly.
local function worker(name)
  return tv.restartable(name, function(ctx)
    local ticks = 0
    while ctx:sleep(0.3) do ticks = ticks + 1 end
    print(string.format("%s stopped after %d ticks", ctx.name, ticks))
  end)
end

local function show()
  print("list: " .. table.concat(sup:list(), ", "))
end

assert(sup:add(worker("worker-a")))
assert(sup:add(worker("worker-b")))

assert(sup:add(tv.once("operator", function(ctx)
  ctx:sleep(1)
  show()
  assert(sup:remove("worker-a"))
  print("removed worker-a")
  ctx:sleep(0.2)
  assert(sup:add(worker("worker-c")))
  show()
  ctx:sleep(0.5)
  -- cancel waits (yielding only this task) until worker-b is gone
  print("cancel worker-b: " .. tostring(sup:cancel("worker-b")))
  print("worker-b alive: " .. tostring(sup:is_alive("worker-b")))
  show()
  sup:shutdown()
end)))

assert(sup:run())
print("done")
