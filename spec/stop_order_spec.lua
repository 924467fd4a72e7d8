-- stop_order_spec: at shutdown, a task stops only after the tasks that start
-- `after` it have ended (systemd stops units in the reverse of their start
-- order; issue 14.3). The dependency here stops at once on SIGTERM and its
-- dependents take their time: stopped all together, db went first.
local H = require("helpers")
local tv = H.tv

local function slow_stopper(name, after, secs)
  return tv.process({ name = name, after = after, stop_timeout = 20,
    cmd = { "/bin/sh", "-c", "trap 'sleep " .. secs .. "; exit 0' TERM; while :; do sleep 0.05; done" } })
end

describe("shutdown order", function()
  it("stops dependents before their dependencies, at the top level", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    assert(sup:subscribe(function(ev)
      if ev.kind == "TaskStarting" and ev.task == "worker" then sup:shutdown() end
    end))
    assert(sup:run({
      tv.process({ name = "db", cmd = { "/bin/sh", "-c", "exec sleep 60" } }),
      slow_stopper("web", { "db" }, 0.2),
      slow_stopper("worker", { "web" }, 0.3),
      H.cooperative("bystander"),
    }))
    local worker_gone = H.index(events, "TaskRemoved", "worker")
    local web_stopped, web_gone = H.index(events, "TaskStopped", "web"), H.index(events, "TaskRemoved", "web")
    local db_stopped = H.index(events, "TaskStopped", "db")
    assert.is_truthy(worker_gone and web_gone and db_stopped)
    assert.is_true(worker_gone < web_stopped, "web stopped before worker ended")
    assert.is_true(web_gone < db_stopped, "db stopped before web ended")
    -- a task nothing depends on stops at once, not after the chain
    assert.is_true(H.index(events, "TaskRemoved", "bystander") < web_stopped)
    assert.is_not_nil(H.first(events, "AllStoppedWithinGrace"))
  end)
end)
