-- operator_spec: an operator's stop / start / delete / update of one task
-- (supervisord's stop and start, OTP's terminate_child, restart_child and
-- delete_child, issue 19.4): a stopped task stays registered and stopped
-- (no restart, no budget charged, TaskStopped reason "operator"), inside a
-- one_for_all group too; start resets the failure streak; delete removes
-- only a stopped task; update swaps the policy without a restart. Each
-- scenario waits for the events it checks, never for the clock.
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv

local function has(s, sub) return s ~= nil and s:find(sub, 1, true) ~= nil end

-- A supervisor running `specs` and a driver task `drive(sup, events)`; the
-- driver shuts the supervisor down when it returns. Events, run's results.
local function scenario(specs, drive, opts)
  local sup = tv.supervisor(opts or { grace = 5 })
  local events = H.collect(sup)
  local failure
  specs[#specs + 1] = tv.task({ name = "driver", restart = "never", run = function()
    local ok, err = pcall(drive, sup, events)
    if not ok then failure = err end
    sup:shutdown()
  end })
  local r = table.pack(sup:run(specs))
  assert(failure == nil, failure)
  return events, r, sup
end

local function worker(name, opts)
  local spec = { name = name, restart = "always", backoff = { first = 0.01 },
    run = function(ctx) while ctx:sleep(0.01) do end end }
  for k, v in pairs(opts or {}) do spec[k] = v end
  return tv.task(spec)
end

-- Events about `task` from index `from` on.
local function since(events, from, task, kind)
  local out = {}
  for i = from, #events do
    local ev = events[i]
    if ev.task == task and (kind == nil or ev.kind == kind) then out[#out + 1] = ev end
  end
  return out
end

describe("sup:stop_task", function()
  it("stops a running task and keeps it registered and stopped until started", function()
    local mark
    local events = scenario({ worker("w") }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "w", 1)))
      assert.same({ true }, { sup:stop_task("w", 30) })
      assert.is_true(sup:stopped("w"))
      assert.truthy(H.contains(sup:list(), "w"))
      assert.is_false(sup:is_alive("w"))
      local o = sup:outcomes().w
      assert.equal("cancelled", o.status)
      assert.equal("stopped by an operator", o.reason)
      mark = #ev
      assert.same({ true }, { sup:start_task("w") })
      assert.is_false(sup:stopped("w"))
      assert(H.wait_for(H.has(ev, "TaskStarting", "w", 2)))
    end)
    local stopped = H.only(events, "w", "TaskStopped")
    assert.equal("operator", stopped[1].reason)
    assert.equal(1, stopped[1].attempt)
    -- between the stop and the start: nothing restarted it
    local between = {}
    for i = H.index(events, "TaskStopped", "w"), mark do
      if events[i].task == "w" then between[#between + 1] = events[i].kind end
    end
    assert.same({ "TaskStopped" }, between)
    assert.equal(0, H.count(events, "BackoffScheduled", "w"))
  end)

  it("drops a pending restart of a task in its backoff (TaskStopped told once)", function()
    local fails = 0
    local events = scenario({ tv.task({ name = "f", restart = "on_failure", backoff = { first = 30 },
      run = function() fails = fails + 1 error("boom") end }) }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "BackoffScheduled", "f")))
      assert(sup:stop_task("f"))
      assert.is_true(sup:stopped("f")) -- (no attempt ran: held at once)
      local mark = #ev
      assert(sup:start_task("f")) -- at once, not after the 30 s backoff
      assert(H.wait_for(H.has(ev, "TaskStarting", "f", 2)))
      assert.equal(1, #since(ev, mark, "f", "TaskStarting"))
    end)
    local stopped = H.only(events, "f", "TaskStopped")
    assert.equal(1, #stopped)
    assert.equal("operator", stopped[1].reason)
    assert.equal(1, stopped[1].attempt)
    assert.truthy(fails >= 2)
  end)

  it("charges no restart budget: stop and start many times under intensity 1", function()
    local events = scenario({ worker("w", { intensity = { max_restarts = 1, within = 60 },
      on_exhausted = "give_up" }) }, function(sup, ev)
      for i = 1, 4 do
        assert(H.wait_for(H.has(ev, "TaskStarting", "w", i)))
        assert(sup:stop_task("w", 30))
        assert(sup:start_task("w"))
      end
      assert(H.wait_for(H.has(ev, "TaskStarting", "w", 5)))
    end, { grace = 5, intensity = { max_restarts = 1, within = 60 } })
    assert.equal(0, H.count(events, "ActorExhausted", "w"))
    assert.equal(0, H.count(events, "Escalated"))
    assert.equal(4, #H.only(events, "w", "TaskStopped") - 1) -- (and the shutdown's)
  end)

  it("start resets the failure streak (supervisord's retry count), the attempts go on", function()
    local go = {}
    local events = scenario({ tv.task({ name = "r", restart = "on_failure", max_retries = 1,
      backoff = { first = 0.01 }, run = function(ctx)
        if ctx.attempt == 2 then while ctx:sleep(0.01) do end return end
        error("fail " .. ctx.attempt)
      end }) }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "r", 2)))
      assert(sup:stop_task("r", 30))
      assert(sup:start_task("r"))
      assert(H.wait_for(H.has(ev, "ActorExhausted", "r")))
    end)
    -- attempt 1 fails (streak 1), 2 is stopped, 3 fails (a fresh streak: 1 <= max_retries), 4 fails
    assert.equal(4, H.count(events, "TaskStarting", "r"))
    assert.equal(3, H.count(events, "TaskFailed", "r"))
    assert.equal(4, H.first(events, "ActorExhausted", "r").attempt)
  end)

  it("stops a process: its pid is gone; start runs a new one", function()
    local first, second
    scenario({ tv.process({ name = "p", cmd = { "sleep", "100" } }) }, function(sup, ev)
      assert(H.wait_for(function() return (sup:process("p") or {}).pid end))
      first = sup:process("p").pid
      assert(sup:stop_task("p", 30))
      assert.is_nil(sup:process("p").pid)
      assert(H.wait_for(function() return not P.alive(first) end))
      assert(sup:start_task("p"))
      assert(H.wait_for(function() return (sup:process("p") or {}).pid end))
      second = sup:process("p").pid
    end)
    assert.is_number(first)
    assert.is_number(second)
    assert.are_not.equal(first, second)
  end)

  it("keeps the run going while only stopped tasks are left (as supervisord does)", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    local started_again
    sup:subscribe(function(ev)
      if ev.kind == "TaskRemoved" and ev.task == "driver" then
        -- the driver is gone; only the stopped "w" is registered: still open
        started_again = { sup:start_task("w") }
      elseif ev.kind == "TaskStarting" and ev.task == "w" and ev.attempt == 2 then
        sup:shutdown()
      end
    end)
    assert(sup:run({ worker("w"), tv.task({ name = "driver", restart = "never", run = function()
      assert(H.wait_for(H.has(events, "TaskStarting", "w", 1)))
      assert(sup:stop_task("w", 30))
    end }) }))
    assert.same({ true }, started_again)
    assert.truthy(H.index(events, "ShutdownRequested"))
    assert.truthy(H.index(events, "TaskStarting", "w") < H.index(events, "TaskRemoved", "driver"))
    assert.equal(2, H.count(events, "TaskStarting", "w"))
  end)
end)

describe("an operator-stopped child of a one_for_all group", function()
  it("stays stopped when the group restarts its siblings; start brings it back", function()
    local crash = false
    local events = scenario({ tv.group({ name = "g", strategy = "one_for_all", children = {
      tv.task({ name = "a", restart = "always", backoff = { first = 0.01 }, run = function(ctx)
        while ctx:sleep(0.01) do if crash then crash = false error("crash") end end
      end }),
      worker("b"),
      worker("c"),
    } }) }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "c", 1)))
      assert(sup:stop_task("b", 30))
      crash = true -- a fails: one_for_all restarts a and c, not b
      assert(H.wait_for(H.has(ev, "TaskStarting", "c", 2)))
      assert(H.wait_for(H.has(ev, "TaskStarting", "a", 2)))
      assert.is_true(sup:stopped("b"))
      assert.equal(1, H.count(ev, "TaskStarting", "b"))
      local d = { sup:delete("b") }
      assert.is_nil(d[1])
      assert.truthy(has(d[2], "EINVAL: task 'b' is a child of a group"), d[2])
      assert(sup:start_task("b"))
      assert(H.wait_for(H.has(ev, "TaskStarting", "b", 2)))
    end)
    assert.equal("operator", H.first(events, "TaskStopped", "b").reason)
    assert.equal(2, H.count(events, "TaskStarting", "b"))
  end)
end)

describe("sup:restart_task", function()
  it("stops and starts again: a new attempt, no budget charged, a backoff cut short", function()
    local pids = {}
    local events = scenario({ worker("w", { intensity = { max_restarts = 1, within = 60 },
      on_exhausted = "give_up" }), tv.process({ name = "p", cmd = { "sleep", "100" } }),
      tv.task({ name = "f", restart = "on_failure", backoff = { first = 30 },
        run = function(ctx) if ctx.attempt > 1 then while ctx:sleep(0.01) do end end error("x") end }) },
      function(sup, ev)
        for i = 1, 3 do
          assert(H.wait_for(H.has(ev, "TaskStarting", "w", i)))
          assert.same({ true }, { sup:restart_task("w") })
        end
        assert(H.wait_for(H.has(ev, "TaskStarting", "w", 4)))
        assert(H.wait_for(function() return (sup:process("p") or {}).pid end))
        pids[1] = sup:process("p").pid
        assert(sup:restart_task("p"))
        assert(H.wait_for(function()
          local p = sup:process("p").pid
          return p and p ~= pids[1]
        end))
        pids[2] = sup:process("p").pid
        assert(H.wait_for(H.has(ev, "BackoffScheduled", "f")))
        assert(sup:restart_task("f")) -- at once, not after 30 s
        assert(H.wait_for(H.has(ev, "TaskStarting", "f", 2)))
        assert.is_false(sup:stopped("w"))
        -- an operator-stopped task just starts
        assert(sup:stop_task("w", 30))
        assert(sup:restart_task("w"))
        assert(H.wait_for(H.has(ev, "TaskStarting", "w", 5)))
        assert.same({ nil, "ENOENT: no task named 'ghost'" }, { sup:restart_task("ghost") })
      end)
    assert.equal(0, H.count(events, "ActorExhausted", "w"))
    assert.equal("operator", H.first(events, "TaskStopped", "w").reason)
    assert.equal("operator", H.first(events, "TaskStopped", "f").reason)
    assert.are_not.equal(pids[1], pids[2])
    assert.equal(0, H.count(events, "TaskRemoveRequested", "w"))
  end)

  it("restarts a child of a one_for_all group alone", function()
    local events = scenario({ tv.group({ name = "g", strategy = "one_for_all", children = {
      worker("a"), worker("b"), worker("c") } }) }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "c", 1)))
      assert(sup:restart_task("b"))
      assert(H.wait_for(H.has(ev, "TaskStarting", "b", 2)))
    end)
    assert.equal(1, H.count(events, "TaskStarting", "a"))
    assert.equal(1, H.count(events, "TaskStarting", "c"))
    assert.equal(2, H.count(events, "TaskStarting", "b"))
    assert.equal(1, H.count(events, "TaskStarting", "g"))
  end)
end)

describe("sup:delete", function()
  it("removes a stopped task (TaskRemoveRequested, TaskRemoved) and refuses a running one", function()
    local refused, deleted
    local events = scenario({ worker("w") }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "w", 1)))
      refused = { sup:delete("w") }
      assert(sup:stop_task("w", 30))
      deleted = { sup:delete("w") }
      assert(H.wait_for(H.has(ev, "TaskRemoved", "w")))
      assert.falsy(H.contains(sup:list(), "w"))
      assert.same({ nil, "ENOENT: no task named 'w'" }, { sup:stop_task("w") })
    end)
    assert.is_nil(refused[1])
    assert.equal("EBUSY: task 'w' is not stopped (it is running): stop it first with sup:stop_task "
      .. "(or remove it with sup:remove)", refused[2])
    assert.same({ true }, deleted)
    local i = H.index(events, "TaskStopped", "w")
    assert.truthy(i < H.index(events, "TaskRemoveRequested", "w"))
    assert.truthy(H.index(events, "TaskRemoveRequested", "w") < H.index(events, "TaskRemoved", "w"))
    assert.equal(1, H.count(events, "TaskStarting", "w"))
  end)
end)

describe("sup:update", function()
  it("swaps the policy live: the next decision follows it, no restart", function()
    local release = false
    local events = scenario({ tv.task({ name = "u", restart = "always", run = function(ctx)
      while not release do ctx:sleep(0.01) end
    end }) }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "u", 1)))
      assert.same({ true }, { sup:update("u", { restart = "never" }) })
      release = true
      assert(H.wait_for(H.has(ev, "ActorExhausted", "u")))
    end)
    assert.equal(1, H.count(events, "TaskStarting", "u")) -- not restarted, after its success
    assert.equal(0, H.count(events, "TaskRemoveRequested", "u"))
  end)

  it("takes a new backoff at the next failure", function()
    local go = false
    local events = scenario({ tv.task({ name = "b", restart = "on_failure", backoff = { first = 0.01 },
      run = function(ctx)
        if ctx.attempt >= 3 then while ctx:sleep(0.01) do end return end
        while ctx.attempt == 2 and not go do ctx:sleep(0.01) end
        error("x")
      end }) },
      function(sup, ev)
        assert(H.wait_for(H.has(ev, "TaskStarting", "b", 2)))
        assert(sup:update("b", { restart = "on_failure", backoff = { first = 0.4 } }))
        go = true -- attempt 2 fails now, under the new policy
        assert(H.wait_for(H.has(ev, "TaskStarting", "b", 3)))
      end)
    local delays = H.field_list(H.only(events, "b", "BackoffScheduled"), "delay_ms")
    assert.same({ 10, 400 }, delays)
    assert.equal(0, H.count(events, "TaskRemoveRequested", "b"))
  end)
end)

describe("bad input", function()
  it("names the field, the task and the state", function()
    scenario({ worker("w"), H.stubborn("s") }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "s", 1)))
      assert.has_error(function() sup:stop_task(42) end)
      local ok, err = pcall(sup.stop_task, sup, 42)
      assert.truthy(has(err, "sup:stop_task: 'name'"), err)
      ok, err = pcall(sup.stop_task, sup, "w", -1)
      assert.truthy(has(err, "sup:stop_task: 'wait'"), err)
      assert.same({ nil, "ENOENT: no task named 'nope'" }, { sup:stop_task("nope") })
      assert.same({ nil, "ENOENT: no task named 'nope'" }, { sup:start_task("nope") })
      assert.same({ nil, "ENOENT: no task named 'nope'" }, { sup:delete("nope") })
      assert.same({ nil, "ENOENT: no task named 'nope'" }, { sup:update("nope", {}) })
      assert.same({ nil, "ENOENT: no task named 'nope'" }, { sup:stopped("nope") })
      local r = { sup:start_task("w") }
      assert.is_nil(r[1])
      assert.truthy(has(r[2], "EINVAL: task 'w' is not stopped by an operator"), r[2])
      ok, err = pcall(sup.update, sup, "w", { restrat = "never" })
      assert.truthy(has(err, "restrat"), err)
      ok, err = pcall(sup.update, sup, "w", { restart = function() return true end })
      assert.is_false(ok)
      ok, err = pcall(sup.update, sup, "w", "never")
      assert.truthy(has(err, "sup:update: expected a table"), err)
      -- s ignores cancellation: it is stopping until force-stopped at its grace
      assert(sup:stop_task("s"))
      assert.equal("stopping", sup:stopped("s"))
      assert.same({ nil, "EEXIST: task 's' is already stopped" }, { sup:stop_task("s") })
      r = { sup:start_task("s") }
      assert.truthy(has(r[2], "EBUSY: task 's' is still stopping"), r[2])
      r = { sup:delete("s") }
      assert.truthy(has(r[2], "EBUSY: task 's' is still stopping"), r[2])
    end, { grace = 0.3 })
  end)

  it("refuses a wait outside a task or subscriber", function()
    local sup = tv.supervisor({})
    assert(sup:add(worker("w")))
    local ok, err = pcall(sup.stop_task, sup, "w", 1)
    assert.is_false(ok)
    assert.truthy(has(err, "sup:stop_task: a wait needs a task or a subscriber"), err)
  end)
end)
