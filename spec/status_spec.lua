-- status_spec: sup:status(name) / sup:status(), each task's state in
-- supervisord's words (STARTING, RUNNING, BACKOFF, STOPPING, STOPPED, EXITED,
-- FATAL) with the time it entered it, the last exit, pid and next retry
-- (issue 19.10). Each scenario waits for the event whose state it checks,
-- never for the clock.
local H = require("helpers")
local tv = H.tv

local function scenario(specs, drive, opts)
  local sup = tv.supervisor(opts or { grace = 5 })
  local events = H.collect(sup)
  local failure
  specs[#specs + 1] = tv.task({ name = "driver", restart = "never", run = function()
    local ok, err = pcall(drive, sup, events)
    if not ok then failure = err end
    sup:shutdown()
  end })
  sup:run(specs)
  assert(failure == nil, failure)
  return events, sup
end

local function sleeper(name, opts)
  local spec = { name = name, restart = "always", run = function(ctx) while ctx:sleep(10) do end end }
  for k, v in pairs(opts or {}) do spec[k] = v end
  return tv.task(spec)
end

local function last(events, kind, task)
  for i = #events, 1, -1 do
    local ev = events[i]
    if ev.kind == kind and ev.task == task then return ev end
  end
end

-- `since` is the event's time: the same loop pass's clock, read two ways.
local function near(a, b) return math.abs(a - b) < 1 end

describe("sup:status(name)", function()
  it("shows a running task as RUNNING since its TaskStarting, with attempt, restarts and uptime", function()
    scenario({ sleeper("w") }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "w", 1)))
      local st = assert(sup:status("w"))
      assert.equal("w", st.name)
      assert.equal("task", st.kind)
      assert.equal("RUNNING", st.state)
      assert.is_true(near(st.since, last(ev, "TaskStarting", "w").at))
      assert.equal(1, st.attempt)
      assert.equal(0, st.restarts)
      assert.is_true(st.ready)
      assert.is_true(st.registered)
      assert.is_false(st.operator_stopped)
      assert.is_true(st.uptime >= 0)
      assert.is_nil(st.pid)
      assert.is_nil(st.last_exit)
      assert.is_nil(st.next_retry_at)
    end)
  end)

  it("shows STARTING until a task that says when it is ready calls ctx:ready(), then RUNNING", function()
    local go = false
    scenario({ tv.task({ name = "db", restart = "never", ready = "notify", run = function(ctx)
      while not go do ctx:sleep(0.005) end
      ctx:ready()
      ctx:sleep(10)
    end }) }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "db", 1)))
      local st = sup:status("db")
      assert.equal("STARTING", st.state)
      assert.is_false(st.ready)
      go = true
      assert(H.wait_for(H.has(ev, "TaskReady", "db", 1)))
      st = sup:status("db")
      assert.equal("RUNNING", st.state)
      assert.is_true(st.ready)
      assert.is_true(near(st.since, last(ev, "TaskReady", "db").at))
    end)
  end)

  it("shows a failed task waiting to restart as BACKOFF, with its last exit and next retry", function()
    scenario({ tv.task({ name = "c", restart = "always", backoff = { first = 30, jitter = "none" },
      run = function() error("boom") end }) }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "BackoffScheduled", "c", 1)))
      local st = sup:status("c")
      assert.equal("BACKOFF", st.state)
      local b = last(ev, "BackoffScheduled", "c")
      assert.is_true(near(st.since, b.at))
      assert.is_true(near(st.next_retry_at, b.at + b.delay_ms / 1000))
      assert.is_true(st.next_retry_at > st.since + 20)
      local le = assert(st.last_exit)
      assert.is_true(le.failed)
      assert.truthy(le.reason:find("boom", 1, true), le.reason)
      assert.is_true(near(le.at, last(ev, "TaskFailed", "c").at))
      assert.equal(1, st.attempt)
    end)
  end)

  it("gives a process task's pid and its exit code", function()
    scenario({ tv.process({ name = "p", cmd = { "sh", "-c", "exec sleep 30" } }),
      tv.process({ name = "q", cmd = { "sh", "-c", "exit 3" }, restart = "always",
        backoff = { first = 30, jitter = "none" } }) }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "p", 1)))
      local st = sup:status("p")
      assert.equal("process", st.kind)
      assert.equal("RUNNING", st.state)
      assert.equal(sup:process_info("p").pid, st.pid)
      assert.equal(last(ev, "TaskStarting", "p").pid, st.pid)
      assert(H.wait_for(H.has(ev, "BackoffScheduled", "q", 1)))
      st = sup:status("q")
      assert.equal("BACKOFF", st.state)
      assert.is_nil(st.pid)
      assert.is_false(st.ready)
      assert.equal(3, st.last_exit.code)
      assert.is_true(st.last_exit.failed)
    end)
  end)

  it("shows an operator's stop as STOPPED (operator_stopped) until started again", function()
    scenario({ sleeper("w") }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskStarting", "w", 1)))
      assert(sup:stop_task("w", 30))
      local st = sup:status("w")
      assert.equal("STOPPED", st.state)
      assert.is_true(st.operator_stopped)
      assert.is_true(st.registered)
      assert.is_true(near(st.since, last(ev, "TaskStopped", "w").at))
      assert(sup:start_task("w"))
      assert(H.wait_for(H.has(ev, "TaskStarting", "w", 2)))
      st = sup:status("w")
      assert.equal("RUNNING", st.state)
      assert.is_false(st.operator_stopped)
      assert.equal(2, st.attempt)
      assert.equal(1, st.restarts)
    end)
  end)

  it("shows STOPPING until a stopped or removed task has ended, then STOPPED", function()
    scenario({ tv.process({ name = "p", cmd = { "sleep", "30" } }), sleeper("r") }, function(sup, ev)
      assert(H.wait_for(function() return H.has(ev, "TaskStarting", "p", 1)() and H.has(ev, "TaskStarting", "r", 1)() end))
      assert(sup:stop_task("p"))
      local st = sup:status("p")
      assert.equal("STOPPING", st.state)
      assert.is_true(st.operator_stopped)
      assert.is_number(st.pid)
      assert(sup:remove("r"))
      assert.equal("STOPPING", sup:status("r").state)
      assert(H.wait_for(H.has(ev, "TaskRemoved", "r")))
      assert.equal("STOPPED", sup:status("r").state)
      assert.is_false(sup:status("r").registered)
      assert(H.wait_for(H.has(ev, "TaskStopped", "p", 1)))
      assert.equal("STOPPED", sup:status("p").state)
    end)
  end)

  it("answers for tasks that ended: EXITED when done, FATAL when the budget gave up", function()
    scenario({ tv.task({ name = "once", restart = "never", run = function() end }),
      tv.task({ name = "bad", restart = "always", backoff = { first = 0.001 },
        intensity = { max_restarts = 1, within = 60 }, on_exhausted = "give_up",
        run = function() error("no") end }) }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskRemoved", "once")))
      local st = sup:status("once")
      assert.equal("EXITED", st.state)
      assert.is_false(st.registered)
      assert.is_false(st.last_exit.failed)
      assert(H.wait_for(H.has(ev, "TaskRemoved", "bad")))
      st = sup:status("bad")
      assert.equal("FATAL", st.state)
      assert.is_false(st.registered)
      assert.truthy(st.last_exit.reason:find("intensity", 1, true), st.last_exit.reason)
      assert.equal(2, st.attempt)
    end)
  end)

  it("names a group's children's group", function()
    scenario({ tv.group({ name = "g", children = { sleeper("a"), sleeper("b") } }) }, function(sup, ev)
      assert(H.wait_for(H.has(ev, "TaskReady", "g")))
      assert.equal("group", sup:status("g").kind)
      assert.equal("RUNNING", sup:status("g").state)
      assert.equal("g", sup:status("a").group)
      assert.is_nil(sup:status("g").group)
    end)
  end)

  it("refuses a name that is not a string, and answers nil + ENOENT for an unknown one", function()
    scenario({}, function(sup)
      local ok, err = pcall(sup.status, sup, 42)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("status", 1, true), err)
      local st, msg = sup:status("nobody")
      assert.is_nil(st)
      assert.truthy(msg:find("^ENOENT"), msg)
    end)
  end)
end)

describe("sup:status()", function()
  it("lists every registered task, sorted by name", function()
    scenario({ sleeper("b"), sleeper("a"), sleeper("c") }, function(sup, ev)
      assert(H.wait_for(function()
        return H.has(ev, "TaskStarting", "a")() and H.has(ev, "TaskStarting", "b")() and
          H.has(ev, "TaskStarting", "c")()
      end))
      local names = {}
      for _, st in ipairs(sup:status()) do names[#names + 1] = st.name .. "=" .. st.state end
      assert.same({ "a=RUNNING", "b=RUNNING", "c=RUNNING", "driver=RUNNING" }, names)
    end)
  end)
end)
