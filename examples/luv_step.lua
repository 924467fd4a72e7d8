-- examples/luv_step.lua: driving taskvisor from a loop that is not its own.
-- taskvisor is required first, so it keeps libuv's default loop; the other
-- loop here is luv's own loop standing in for any loop that can watch an fd
-- and a timeout (cqueues, a GUI toolkit's main loop, ...). The recipe: call
-- tv.step() (one pass that never waits) whenever tv.backend()'s fd is
-- readable or its timeout has passed. Run: lua5.4 examples/luv_step.lua
local tv = require("taskvisor") -- first: taskvisor keeps its own loop
local uv = require("luv")       -- the "other" loop

local sup = tv.supervisor{ grace = 5 }
local finished = false
assert(sup:start({
  tv.task{ name = "counter", restart = "never", run = function()
    for i = 1, 3 do tv.sleep(0.05); print("counter: tick " .. i) end
  end },
  tv.process{ name = "child", restart = "never", cmd = { "sh", "-c", "echo child: hello" } },
}, {
  external_loop = true, -- luv is loaded, but this program drives taskvisor itself
  on_done = function(ok, outcomes)
    print(string.format("done: %s; counter %s, child %s", tostring(ok), outcomes.counter.status,
      outcomes.child.status))
    finished = true
  end,
}))

local fd = tv.backend()
local poll, timer = uv.new_poll(fd), uv.new_timer()
local passes = 0
local function pump()
  tv.step()
  passes = passes + 1
  if finished then -- on_done ran (in that step): nothing more to drive
    poll:close()
    timer:close()
    return
  end
  local _, timeout = tv.backend() -- seconds until taskvisor's next deadline, or nil
  timer:stop()
  if timeout then timer:start(math.ceil(timeout * 1000), 0, pump) end
end
poll:start("r", pump) -- readable: a child exited, a pipe has data, a signal came
pump()
uv.run()
print("the other loop ended; " .. (passes > 1 and "several" or "one") .. " tv.step() passes")
