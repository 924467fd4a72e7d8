-- spec/runaway_spec.lua: code that never yields to the loop (max_instructions).
-- A task or an on_event call that runs past its instruction budget without
-- yielding is stopped, even through pcall, a coroutine it resumed or a C call,
-- and fails like any error (then its policy applies), while the loop keeps
-- serving everything else. Work that yields often is never hit.
local H = require("helpers")
local tv = H.tv

-- Grace only bounds a stuck shutdown: a runaway caught mid-spin stops at its
-- budget, which under valgrind on a loaded machine takes seconds, so no spec
-- here expects a stop within a short grace.
local GRACE = 30

local SRC = debug.getinfo(1, "S").short_src
local REASON = "^execution failed: runaway: ran (%d+) instructions without yielding "
  .. "%(max_instructions = (%d+)%)$"

-- Spins without yielding, calling only a C function: 1e7 times (4e7 VM
-- instructions, far past every budget here however slow the machine; a
-- fraction of a second without a budget). Every loop in this file ends by
-- itself, so a build that does not stop runaways fails instead of hanging.
local function spin()
  for _ = 1, 1e7 do tv.monotime() end
  error("not stopped: spun 1e7 times without yielding", 0)
end

-- Calls f again and again (for 2 s), as `while true do f() end` would.
local function forever(f)
  local stop = tv.monotime() + 2
  while tv.monotime() < stop do f() end
end

-- Pure Lua without calls, for a second or so on an unbounded build.
local function crunch()
  local x = 0
  for i = 1, 3e8 do x = x + i % 7 end
  error("not stopped: crunched 3e8 iterations (" .. x .. ")", 0)
end

-- The instructions run and the budget a runaway TaskFailed (or
-- BackoffScheduled) reports, or nil.
local function runaway_reason(ev)
  if not (ev and ev.reason) then return nil end
  return ev.reason:match(REASON)
end

describe("runaway tasks", function()
  it("fail with a runaway reason once past the budget, then follow their policy", function()
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e6 })
    local events = H.collect(sup)
    local closed = 0
    assert(sup:add(tv.task({
      name = "spinner", max_retries = 1, backoff = { first = 0.01 },
      run = function()
        local _ <close> = setmetatable({}, { __close = function() closed = closed + 1 end })
        spin()
      end,
    })))
    assert.is_true(sup:run())
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1",
      "BackoffScheduled#1", "TaskStarting#2", "TaskFailed#2", "ActorExhausted#2", "TaskRemoved" },
      H.trace(events, "spinner"))
    for _, ev in ipairs(H.only(events, "spinner", "TaskFailed")) do
      local ran, max = runaway_reason(ev)
      assert.equal("1000000", max, ev.reason)
      assert.is_true(tonumber(ran) >= 1e6)
      assert.is_nil(ev.exit_code)
      -- the traceback shows where it was spinning
      assert.truthy(ev.traceback:find(SRC, 1, true), ev.traceback)
    end
    local backoff = H.first(events, "BackoffScheduled", "spinner")
    assert.equal("failure", backoff.backoff_source)
    assert.truthy(runaway_reason(backoff))
    assert.truthy(H.first(events, "ActorExhausted", "spinner").reason
      :find("^max_retries_exceeded%(1/1%): execution failed: runaway: "))
    assert.equal(2, closed) -- each attempt's <close> variable ran
  end)

  it("are stopped whatever they spin in: pure Lua, pcall, xpcall, a coroutine they "
    .. "resume, a C call that calls back", function()
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e5 })
    local events = H.collect(sup)
    local cases = {
      crunch = crunch,
      pcall = function() forever(function() pcall(spin) end) end,
      nested_pcall = function()
        forever(function() pcall(forever, function() pcall(spin) end) end)
      end,
      xpcall = function() forever(function() xpcall(spin, function(e) return e end) end) end,
      error_in_handler = function()
        forever(function() xpcall(spin, function() spin() end) end)
      end,
      coroutine = function() coroutine.wrap(spin)() end,
      coroutines_swallowed = function()
        forever(function() coroutine.resume(coroutine.create(spin)) end)
      end,
      sort = function()
        local t = {}
        for i = 1, 100 do t[i] = i end
        forever(function() pcall(table.sort, t, function() spin() end) end)
      end,
      gsub = function()
        forever(function() pcall(string.gsub, "aaa", "a", function() spin() end) end)
      end,
      metamethod = function()
        local t = setmetatable({}, { __index = function() spin() end })
        forever(function() pcall(function() return t.x end) end)
      end,
    }
    local names = {}
    for name, fn in pairs(cases) do
      names[#names + 1] = name
      assert(sup:add(tv.once(name, fn)))
    end
    assert.is_true(sup:run())
    for _, name in ipairs(names) do
      assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1",
        "ActorExhausted#1", "TaskRemoved" }, H.trace(events, name))
      local reason = H.first(events, "TaskFailed", name).reason
      -- a coroutine that raised it adds its position (coroutine.wrap does)
      assert.truthy(reason:find("^execution failed: .-runaway: ran %d+ instructions without "
        .. "yielding %(max_instructions = 100000%)$"), name .. ": " .. reason)
    end
  end)

  it("do not stop the loop: other tasks keep their timers, timeouts and restarts", function()
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e6 })
    local events = H.collect(sup)
    local log = {}
    assert(sup:add(tv.task({
      name = "runaway", restart = "always", backoff = { first = 0.01 },
      run = function()
        log[#log + 1] = "spin"
        spin()
      end,
    })))
    local ticks = 0
    assert(sup:add(tv.once("ticker", function(ctx)
      while ctx:sleep(0.01) do
        ticks = ticks + 1
        log[#log + 1] = "tick"
      end
    end)))
    assert(sup:add(tv.task({ name = "slowpoke", timeout = 0.05, max_retries = 1,
      backoff = { first = 0.01 }, run = function(ctx) ctx:sleep(10) end })))
    assert(sup:add(tv.restartable("flaky", function(ctx)
      if ctx.attempt < 3 then error("flaky") end
    end, { backoff = { first = 0.02 } })))
    -- stops once enough happened (or after 20 s): no assumption on speed
    local spins = 0
    assert(sup:add(tv.once("stopper", function(ctx)
      local give_up = tv.monotime() + 20
      repeat
        ctx:sleep(0.01)
        spins = 0
        for _, what in ipairs(log) do if what == "spin" then spins = spins + 1 end end
      until (spins >= 5 and ticks >= 5 and sup:contains("slowpoke") == false
        and sup:contains("flaky") == false) or tv.monotime() > give_up
      sup:shutdown()
    end)))
    assert.is_true(sup:run())
    local failures = H.only(events, "runaway", "TaskFailed")
    assert.is_true(#failures >= 4, "runaway attempts: " .. #failures)
    for _, ev in ipairs(failures) do assert.truthy(runaway_reason(ev), ev.reason) end
    -- the ticker kept ticking, in between the runaway's attempts
    assert.is_true(ticks >= 5, "ticks: " .. ticks)
    local between = 0
    for i = 2, #log do
      if log[i] == "tick" and log[i - 1] == "spin" then between = between + 1 end
    end
    assert.is_true(between >= 2, table.concat(log, " "))
    -- timeouts fired, retries ran
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TimeoutHit#1",
      "TaskFailed#1", "BackoffScheduled#1", "TaskStarting#2", "TimeoutHit#2", "TaskFailed#2",
      "ActorExhausted#2", "TaskRemoved" }, H.trace(events, "slowpoke"))
    local flaky = {}
    for _, step in ipairs(H.trace(events, "flaky")) do
      if step:find("^Task[SF]") and not step:find("^TaskAdd") then flaky[#flaky + 1] = step end
    end
    assert.same({ "TaskStarting#1", "TaskFailed#1", "TaskStarting#2", "TaskFailed#2",
      "TaskStarting#3", "TaskStopped#3" }, flaky)
    assert.equal("AllStoppedWithinGrace", events[#events].kind)
  end)

  it("leave work that yields often alone, however much it does in total", function()
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e5 })
    local events = H.collect(sup)
    local rounds = 0
    local function work(n)
      local x = 0
      for i = 1, n do x = x + i % 3 end
      return x
    end
    -- 50 rounds of ~60,000 instructions each: 30x the budget in all
    assert(sup:add(tv.once("steady", function(ctx)
      for _ = 1, 50 do
        work(2e4)
        rounds = rounds + 1
        ctx:yield()
      end
    end)))
    -- also through tv.sleep, a bare coroutine.yield() and ctx:sleep
    assert(sup:add(tv.once("sleepy", function(ctx)
      for _ = 1, 10 do
        work(2e4); tv.sleep(0)
        work(2e4); coroutine.yield()
        work(2e4); ctx:sleep(0.001)
      end
    end)))
    assert.is_true(sup:run())
    assert.equal(50, rounds)
    assert.equal(0, H.count(events, "TaskFailed"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "steady"))
    assert.equal(1, H.count(events, "TaskStopped", "sleepy"))
  end)

  it("take a task's own max_instructions over the supervisor's; false means no limit", function()
    local function work()
      local x = 0
      for i = 1, 2e5 do x = x + i % 3 end -- ~600,000 instructions, no yield
    end
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e5 })
    local events = H.collect(sup)
    assert(sup:add(tv.once("unlimited", work, { max_instructions = false })))
    assert(sup:add(tv.once("roomy", work, { max_instructions = 1e7 })))
    assert(sup:add(tv.once("default", work)))
    assert(sup:add({ name = "plain", run = work, restart = "never", max_instructions = 2e6 }))
    assert.is_true(sup:run())
    assert.equal(1, H.count(events, "TaskStopped", "unlimited"))
    assert.equal(1, H.count(events, "TaskStopped", "roomy"))
    assert.equal(1, H.count(events, "TaskStopped", "plain"))
    local ran, max = runaway_reason(H.first(events, "TaskFailed", "default"))
    assert.equal("100000", max)
    assert.truthy(ran)

    -- no limit on the supervisor, one on the task
    local sup2 = tv.supervisor({ grace = GRACE, max_instructions = false })
    local events2 = H.collect(sup2)
    assert(sup2:add(tv.once("free", work)))
    assert(sup2:add(tv.once("bounded", work, { max_instructions = 1e5 })))
    assert.is_true(sup2:run())
    assert.equal(1, H.count(events2, "TaskStopped", "free"))
    assert.truthy(runaway_reason(H.first(events2, "TaskFailed", "bounded")))
  end)

  it("deep recursion is a plain failure (Lua's stack limits), the loop unaffected", function()
    local sup = tv.supervisor({ grace = GRACE })
    local events = H.collect(sup)
    local function deep(n) return 1 + deep(n + 1) end
    local function through_c()
      table.sort({ 3, 2, 1 }, function(a, b) through_c(); return a < b end)
    end
    assert(sup:add(tv.once("deep", function() deep(1) end)))
    assert(sup:add(tv.once("through_c", through_c)))
    assert.is_true(sup:run())
    assert.truthy(H.first(events, "TaskFailed", "deep").reason:find("stack overflow$"))
    assert.truthy(H.first(events, "TaskFailed", "through_c").reason:find("stack overflow$"))
  end)

  it("group children have the supervisor's budget, or their own", function()
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e6 })
    local events = H.collect(sup)
    assert(sup:add(tv.group({ name = "g", restart = "never", children = {
      tv.once("child", spin),
      tv.once("free", function() for i = 1, 1e6 do local _ = i end end, { max_instructions = false }),
    } })))
    assert.is_true(sup:run())
    assert.truthy(runaway_reason(H.first(events, "TaskFailed", "child")))
    assert.equal(1, H.count(events, "TaskStopped", "free"))
  end)

  it("the default budget (1e8) stops `while true do end` in the host; SIGTERM still "
    .. "shuts down cleanly", function()
    local path = H.script([[
local tv = require("taskvisor")
io.stdout:setvbuf("line")
local sup = tv.supervisor({ grace = 30 })
sup:subscribe(function(ev) print("EV", ev.kind, ev.task or "-", ev.reason or "-") end)
sup:add(tv.task({ name = "forever", backoff = { first = 0.05 },
  run = function() while true do end end }))
print("RUN", sup:run())
]])
    -- the unbounded loop makes a broken build hang: `timeout` turns that into a failure
    local out = H.sh(string.format("sh -c 'timeout -s KILL 15 %q %q & pid=$!; sleep 2; "
      .. "kill -TERM $pid; wait $pid; echo status=$?'", H.host(), path))
    os.remove(path)
    assert.equal("0", out:match("status=(%d+)"), out)
    assert.truthy(out:find("EV\tTaskFailed\tforever\texecution failed: runaway: ran 100000000 "
      .. "instructions without yielding (max_instructions = 100000000)", 1, true), out)
    assert.truthy(out:find("EV\tShutdownRequested\t-\tsignal SIGTERM", 1, true), out)
    assert.truthy(out:find("EV\tAllStoppedWithinGrace", 1, true), out)
    assert.truthy(out:find("RUN\ttrue", 1, true), out)
  end)

  it("shutdown requested by the runaway itself: the attempt fails, nothing restarts", function()
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e6 })
    local events = H.collect(sup)
    local closed = false
    assert(sup:add(tv.task({
      name = "quitter", restart = "always",
      run = function()
        local _ <close> = setmetatable({}, { __close = function() closed = true end })
        sup:shutdown()
        spin()
      end,
    })))
    assert.is_true(sup:run())
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "ShutdownRequested",
      "TaskFailed#1", "TaskRemoved", "AllStoppedWithinGrace" }, H.trace(events))
    assert.truthy(runaway_reason(H.first(events, "TaskFailed", "quitter")))
    assert.is_true(closed)
  end)

  it("shutdown while a runaway keeps restarting is graceful and within grace", function()
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e6 })
    local events = H.collect(sup)
    local attempts = 0
    assert(sup:add(tv.task({ name = "again", restart = "always", backoff = { first = 0.001 },
      run = function()
        attempts = attempts + 1
        spin()
      end })))
    assert(sup:add(H.cooperative("calm")))
    assert(sup:add(tv.once("stopper", function(ctx)
      local give_up = tv.monotime() + 20
      repeat ctx:sleep(0.01) until attempts >= 3 or tv.monotime() > give_up
      sup:shutdown()
    end)))
    assert.is_true(sup:run())
    local failures = H.only(events, "again", "TaskFailed")
    assert.is_true(#failures >= 2)
    for _, ev in ipairs(failures) do assert.truthy(runaway_reason(ev), ev.reason) end
    assert.equal(1, H.count(events, "TaskRemoved", "again"))
    assert.equal(1, H.count(events, "TaskRemoved", "calm"))
    assert.equal("AllStoppedWithinGrace", events[#events].kind)
    assert.same({}, sup:list())
  end)

  it("lifecycle hooks and policy functions have the task's budget (a process's: the "
    .. "supervisor's)", function()
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e6 })
    local events = H.collect(sup)
    local swallow = function() forever(function() pcall(spin) end) end
    assert(sup:add(tv.task({ name = "setup", run = function() end, setup = swallow })))
    assert(sup:add(tv.task({ name = "on_error", max_retries = 1, backoff = { first = 0.01 },
      run = function() error("boom") end, on_error = function() spin() end })))
    assert(sup:add(tv.task({ name = "restart_fn", run = function() error("boom") end,
      restart = swallow })))
    assert(sup:add(tv.task({ name = "backoff_fn", run = function() error("boom") end,
      backoff = function() crunch() end })))
    assert(sup:add(tv.task({ name = "roomy", run = function() end, max_instructions = false,
      setup = function() for i = 1, 1e6 do local _ = i end end })))
    assert(sup:add(tv.process({ name = "proc", cmd = { "true" }, restart = "never",
      setup = function() spin() end })))
    assert.is_true(sup:run())
    local tail = "runaway: ran %d+ instructions without yielding %(max_instructions = 1000000%)$"
    local function reason(kind, task) return (H.first(events, kind, task) or {}).reason or "" end
    assert.truthy(reason("ActorDead", "setup"):find("^setup failed: " .. tail))
    assert.truthy(reason("ActorDead", "proc"):find("^setup failed: " .. tail))
    assert.truthy(reason("HookFailed", "on_error"):find("^on_error hook failed: " .. tail))
    assert.equal(2, H.count(events, "TaskStarting", "on_error")) -- the task went on
    assert.truthy(reason("ActorDead", "restart_fn"):find("^restart function failed: " .. tail))
    assert.truthy(reason("ActorDead", "backoff_fn"):find("^backoff function failed: " .. tail))
    assert.equal(1, H.count(events, "TaskStopped", "roomy"))
  end)

  it("an admission function runs in the submitting task and counts against its budget", function()
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e6, controller = true })
    local events = H.collect(sup)
    local after
    assert(sup:add(tv.once("submitter", function()
      sup:submit({ slot = "s", task = tv.once("job", function() end),
        admission = function() forever(function() pcall(spin) end) end })
    end)))
    assert(sup:add(tv.once("later", function(ctx)
      ctx:sleep(0.05)
      after = { sup:submit({ slot = "s", task = tv.once("job", function() end) }) }
    end)))
    assert.is_true(sup:run())
    assert.truthy(runaway_reason(H.first(events, "TaskFailed", "submitter")))
    assert.same({ true }, after) -- the slot was left idle
    assert.equal(1, H.count(events, "TaskStopped", "job"))
  end)
end)

describe("runaway subscribers", function()
  it("a runaway on_event is reported as SubscriberPanicked; the subscriber keeps receiving", function()
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 1e6 })
    local events = H.collect(sup)
    local seen, closed = {}, 0
    assert(sup:subscribe({ name = "hog", on_event = function(ev)
      seen[#seen + 1] = ev.seq
      local _ <close> = setmetatable({}, { __close = function() closed = closed + 1 end })
      if ev.kind == "TaskStarting" and ev.attempt == 1 then
        forever(function() pcall(spin) end)
      end
    end }))
    assert(sup:add(tv.task({ name = "worker", max_retries = 2, backoff = { first = 0.01 },
      run = function(ctx) ctx:sleep(0.01); error("again") end })))
    assert.is_true(sup:run())
    local panic = H.first(events, "SubscriberPanicked", "hog")
    assert.truthy(panic, "no SubscriberPanicked")
    assert.equal(1, H.count(events, "SubscriberPanicked"))
    assert.truthy(panic.reason:find("^runaway: ran %d+ instructions without yielding "
      .. "%(max_instructions = 1000000%)$"), panic.reason)
    assert.truthy(panic.traceback:find(SRC, 1, true), panic.traceback)
    -- it got every event, before and after the panic (its own diagnostic too)
    local expected = {}
    for i, ev in ipairs(events) do expected[i] = ev.seq end
    assert.same(expected, seen)
    assert.equal(#seen, closed) -- the stopped call's <close> variable ran too
    assert.same({ "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1", "TaskStarting#2",
      "TaskFailed#2", "BackoffScheduled#2", "TaskStarting#3", "TaskFailed#3", "ActorExhausted#3",
      "TaskRemoved" }, { table.unpack(H.trace(events, "worker"), 3) })
  end)

  it("each on_event call has its own budget; max_instructions = false has none", function()
    local function work()
      local x = 0
      for i = 1, 1e5 do x = x + i % 3 end -- ~300,000 instructions
    end
    local sup = tv.supervisor({ grace = GRACE, max_instructions = 5e5 })
    local events = H.collect(sup)
    local calls = 0
    assert(sup:subscribe({ name = "busy", on_event = function() work(); calls = calls + 1 end }))
    for i = 1, 5 do assert(sup:add(tv.once("t" .. i, function() end))) end
    assert.is_true(sup:run())
    assert.equal(0, H.count(events, "SubscriberPanicked"))
    assert.equal(#events, calls)

    local sup2 = tv.supervisor({ grace = GRACE, max_instructions = false })
    local events2 = H.collect(sup2)
    local done = false
    assert(sup2:subscribe({ name = "unbounded", on_event = function(ev)
      if ev.kind == "TaskStarting" then
        for _ = 1, 10 do work() end
        done = true
      end
    end }))
    assert(sup2:add(tv.once("t", function() end)))
    assert.is_true(sup2:run())
    assert.is_true(done)
    assert.equal(0, H.count(events2, "SubscriberPanicked"))
  end)
end)

describe("max_instructions validation", function()
  local function raised(f)
    local ok, err = pcall(f)
    assert.is_false(ok, "expected an error")
    return (tostring(err):gsub("^[^\n]-:%d+: ", "", 1))
  end
  local expected = "must be an integer between 1000 and 4294967295, or false (got %s)"

  it("rejects wrong types, fractions, NaN, infinities, too small and too large values", function()
    local bad = {
      { "x", '"x"' }, { true, "true" }, { -1, "-1" }, { 0 / 0, "nan" }, { math.huge, "inf" },
      { 1.5e6 + 0.5, "1500000.5" }, { 999, "999" }, { 0, "0" }, { 2 ^ 32, "4294967296.0" },
      { 1e15, "1e+15" }, { {}, "table" },
    }
    for _, case in ipairs(bad) do
      local v, shown = case[1], case[2]
      assert.equal("tv.supervisor: 'max_instructions' " .. expected:format(shown),
        raised(function() tv.supervisor({ max_instructions = v }) end))
      assert.equal("tv.task: 'max_instructions' " .. expected:format(shown),
        raised(function() tv.task({ name = "t", run = print, max_instructions = v }) end))
      assert.equal("tv.once: 'max_instructions' " .. expected:format(shown),
        raised(function() tv.once("t", print, { max_instructions = v }) end))
      local sup = tv.supervisor()
      assert.equal("sup:add: 'max_instructions' " .. expected:format(shown),
        raised(function() sup:add({ name = "t", run = print, max_instructions = v }) end))
    end
  end)

  it("accepts false, the bounds and integral floats; processes do not take it", function()
    for _, v in ipairs({ false, 1000, 4294967295, 1e8 }) do
      assert.truthy(tv.supervisor({ max_instructions = v }))
      assert.equal(v == 1e8 and 100000000 or v,
        tv.task({ name = "t", run = print, max_instructions = v }).max_instructions)
    end
    assert.equal("integer", math.type(tv.task({ name = "t", run = print, max_instructions = 1e8 })
      .max_instructions))
    assert.truthy(raised(function()
      tv.process({ name = "p", cmd = { "true" }, max_instructions = 1e6 })
    end):find("^tv.process: unknown option 'max_instructions'"))
    assert.truthy(raised(function()
      tv.supervisor({ defaults = { max_instructions = 1e6 } })
    end):find("^tv.supervisor: unknown option 'defaults.max_instructions'"))
  end)
end)
