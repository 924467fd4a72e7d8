-- policies_spec.lua: restart policies, retry budgets, backoff formulas,
-- jitter, supervisor defaults, shorthands and failure values, observed
-- through the Lua API as event sequences (reference semantics A5, A6, A7, A9).
local H = require("helpers")
local tv = H.tv

-- Runs `specs` on a fresh supervisor (options `opts`) to completion and
-- returns the collected events plus run's return values.
local function run_tasks(specs, opts)
  local sup = tv.supervisor(opts or {})
  local events = H.collect(sup)
  local r = table.pack(sup:run(specs))
  return events, r[1], r[2], r[3], sup
end

local field_list = H.field_list

-- The deterministic base of A5 in whole ms: min(first * factor^k, max).
local function base_ms(first, factor, max, k)
  local b = first * factor ^ k
  if b ~= b or b > max or b < 0 then b = max end
  return math.floor(b * 1000 + 1e-6)
end

-- A task failing on every attempt, under `restart`, with extra fields.
local function failing(name, extra)
  local spec = { name = name, restart = "on_failure", run = function() error("boom", 0) end }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return tv.task(spec)
end

describe("typical sequences (A9)", function()
  it("a one-shot success publishes AddRequested, Added, Starting#1, Stopped#1, Exhausted#1, Removed and run returns true", function()
    local events, ok, err = run_tasks({ tv.once("hello", function() end) })
    assert.is_true(ok, err)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events))
    assert.equal("policy_exhausted_success", H.first(events, "ActorExhausted").reason)
    assert.equal("hello", H.first(events, "ActorExhausted").task)
  end)

  it("natural completion publishes neither ShutdownRequested nor AllStoppedWithinGrace", function()
    local events, ok = run_tasks({ tv.once("a", function() end), tv.once("b", function() end) })
    assert.is_true(ok)
    assert.equal(0, H.count(events, "ShutdownRequested"))
    assert.equal(0, H.count(events, "AllStoppedWithinGrace"))
    assert.equal(0, H.count(events, "GraceExceeded"))
    assert.equal(2, H.count(events, "TaskRemoved"))
  end)

  it("on_failure with max_retries = 1 and an always-failing task retries once then publishes max_retries_exceeded(1/1)", function()
    local events, ok = run_tasks({
      tv.restartable("job", function() error("boom", 0) end,
        { max_retries = 1, backoff = { first = 0.01 } }),
    })
    assert.is_true(ok)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1",
      "BackoffScheduled#1", "TaskStarting#2", "TaskFailed#2", "ActorExhausted#2", "TaskRemoved" },
      H.trace(events, "job"))
    local failed = H.only(events, "job", "TaskFailed")
    assert.equal("execution failed: boom", failed[1].reason)
    assert.equal("execution failed: boom", failed[2].reason)
    local b = H.first(events, "BackoffScheduled", "job")
    assert.equal("failure", b.backoff_source)
    assert.equal(10, b.delay_ms)
    assert.equal("execution failed: boom", b.reason)
    assert.equal("max_retries_exceeded(1/1): execution failed: boom",
      H.first(events, "ActorExhausted", "job").reason)
  end)

  it("the failure reason includes the error position when error() adds one", function()
    local events = run_tasks({ tv.once("pos", function() error("located") end) })
    local reason = H.first(events, "TaskFailed", "pos").reason
    assert.matches("^execution failed: .*policies_spec%.lua:%d+: located$", reason)
  end)

  it("a timeout under never publishes TimeoutHit(timeout_ms), TaskFailed and ActorExhausted 'timed out after 50ms'", function()
    local events, ok = run_tasks({
      tv.task{ name = "slow", restart = "never", timeout = 0.05, run = function(ctx) ctx:sleep(5) end },
    })
    assert.is_true(ok)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TimeoutHit#1", "TaskFailed#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "slow"))
    assert.equal(50, H.first(events, "TimeoutHit").timeout_ms)
    assert.equal("timed out after 50ms", H.first(events, "TaskFailed").reason)
    assert.equal("timed out after 50ms", H.first(events, "ActorExhausted").reason)
  end)

  it("a timed-out attempt's coroutine is closed: its <close> variable runs and the code after the sleep never does", function()
    local closed, resumed = false, false
    local events = run_tasks({
      tv.task{ name = "slow", restart = "never", timeout = 0.03, run = function(ctx)
        local guard <close> = setmetatable({}, { __close = function() closed = true end })
        ctx:sleep(5)
        resumed = true
      end },
    })
    assert.equal(1, H.count(events, "TimeoutHit"))
    assert.is_true(closed)
    assert.is_false(resumed)
  end)

  it("tv.fatal with an exit code publishes TaskFailed then ActorDead with 'fatal error (no retry): ...' and never retries, even under always", function()
    local runs = 0
    local events, ok = run_tasks({
      tv.task{ name = "doomed", restart = "always", max_retries = 0, backoff = { first = 0.01 },
        run = function() runs = runs + 1; tv.fatal("disk gone", 7) end },
    })
    assert.is_true(ok)
    assert.equal(1, runs)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "ActorDead#1",
      "TaskRemoved" }, H.trace(events, "doomed"))
    local failed, dead = H.first(events, "TaskFailed"), H.first(events, "ActorDead")
    assert.equal("fatal error (no retry): disk gone", failed.reason)
    assert.equal("fatal error (no retry): disk gone", dead.reason)
    assert.equal(7, failed.exit_code)
    assert.equal(7, dead.exit_code)
    assert.equal(0, H.count(events, "BackoffScheduled"))
    assert.equal(0, H.count(events, "ActorExhausted"))
  end)

  it("tv.fatal without an exit code leaves exit_code unset", function()
    local events = run_tasks({ tv.restartable("f", function() tv.fatal("nope") end) })
    assert.equal("fatal error (no retry): nope", H.first(events, "ActorDead").reason)
    assert.is_nil(H.first(events, "ActorDead").exit_code)
    assert.is_nil(H.first(events, "TaskFailed").exit_code)
  end)

  it("tv.fail with an exit code is a failure whose exit_code is on TaskFailed and ActorExhausted", function()
    local events = run_tasks({ tv.once("f", function() tv.fail("bad input", -3) end) })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "f"))
    local failed, ex = H.first(events, "TaskFailed"), H.first(events, "ActorExhausted")
    assert.equal("execution failed: bad input", failed.reason)
    assert.equal("execution failed: bad input", ex.reason)
    assert.equal(-3, failed.exit_code)
    assert.equal(-3, ex.exit_code)
    assert.equal(0, H.count(events, "ActorDead"))
  end)

  it("tv.fail is retryable: under on_failure it is retried until the budget runs out", function()
    local events = run_tasks({
      tv.restartable("f", function() tv.fail("again", 4) end,
        { max_retries = 2, backoff = { first = 0.01 } }),
    })
    assert.equal(3, H.count(events, "TaskStarting", "f"))
    assert.equal(2, H.count(events, "BackoffScheduled", "f"))
    local ex = H.first(events, "ActorExhausted", "f")
    assert.equal("max_retries_exceeded(2/2): execution failed: again", ex.reason)
    assert.equal(4, ex.exit_code)
  end)

  it("always + interval publishes a success BackoffScheduled with delay_ms = interval * 1000 and no reason, and waits that long", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    local starts = {}
    sup:add(tv.task{ name = "tick", restart = "always", interval = 0.05, run = function(ctx)
      starts[#starts + 1] = tv.monotime()
      if ctx.attempt == 3 then sup:shutdown(); ctx:sleep(5) end
    end })
    assert.is_true(sup:run())
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1",
      "BackoffScheduled#1", "TaskStarting#2", "TaskStopped#2", "BackoffScheduled#2", "TaskStarting#3",
      "TaskStopped#3", "TaskRemoved" }, H.trace(events, "tick"))
    for _, b in ipairs(H.only(events, "tick", "BackoffScheduled")) do
      assert.equal("success", b.backoff_source)
      assert.equal(50, b.delay_ms)
      assert.is_nil(b.reason)
    end
    assert.equal(3, #starts)
    assert.is_true(starts[2] - starts[1] >= 0.045, "second attempt came too early")
    assert.is_true(starts[3] - starts[2] >= 0.045, "third attempt came too early")
  end)

  it("always without interval restarts at once with no BackoffScheduled", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    sup:add(tv.task{ name = "spin", restart = "always", run = function(ctx)
      if ctx.attempt == 5 then sup:shutdown(); ctx:sleep(5) end
    end })
    assert.is_true(sup:run())
    assert.equal(0, H.count(events, "BackoffScheduled"))
    assert.same({ "TaskAddRequested", "TaskAdded",
      "TaskStarting#1", "TaskStopped#1", "TaskStarting#2", "TaskStopped#2",
      "TaskStarting#3", "TaskStopped#3", "TaskStarting#4", "TaskStopped#4",
      "TaskStarting#5", "TaskStopped#5", "TaskRemoved" }, H.trace(events, "spin"))
    assert.equal(0, H.count(events, "ActorExhausted"))
  end)
end)

describe("retry budget (max_retries)", function()
  for _, n in ipairs({ 1, 3 }) do
    it(string.format("max_retries = %d on an always-failing task gives %d attempts, %d BackoffScheduled, then max_retries_exceeded(%d/%d)",
      n, n + 1, n, n, n), function()
      local events = run_tasks({ failing("r", { max_retries = n, backoff = { first = 0.01 } }) })
      assert.equal(n + 1, H.count(events, "TaskStarting", "r"))
      assert.equal(n + 1, H.count(events, "TaskFailed", "r"))
      assert.equal(n, H.count(events, "BackoffScheduled", "r"))
      assert.same((function()
        local t = {}
        for i = 1, n do t[i] = i end
        return t
      end)(), field_list(H.only(events, "r", "BackoffScheduled"), "attempt"))
      local ex = H.only(events, "r", "ActorExhausted")
      assert.equal(1, #ex)
      assert.equal(n + 1, ex[1].attempt)
      assert.equal(string.format("max_retries_exceeded(%d/%d): execution failed: boom", n, n), ex[1].reason)
    end)
  end

  it("max_retries = 0 (the default) is unlimited: five failures then a success ends with policy_exhausted_success", function()
    local events = run_tasks({
      tv.restartable("u", function(ctx) if ctx.attempt <= 5 then error("not yet", 0) end end,
        { backoff = { first = 0.001 } }),
    })
    assert.equal(6, H.count(events, "TaskStarting", "u"))
    assert.equal(5, H.count(events, "BackoffScheduled", "u"))
    local ex = H.only(events, "u", "ActorExhausted")
    assert.equal(1, #ex)
    assert.equal(6, ex[1].attempt)
    assert.equal("policy_exhausted_success", ex[1].reason)
  end)

  -- attempts: F F S F F S F F S, then the 10th stops the supervisor
  local flaky_events
  local function flaky_run()
    if flaky_events then return flaky_events end
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    sup:add(tv.task{ name = "flaky", restart = "always", max_retries = 2,
      backoff = { first = 0.01, factor = 2, max = 1 },
      run = function(ctx)
        if ctx.attempt == 10 then sup:shutdown(); ctx:sleep(5); return end
        if ctx.attempt % 3 ~= 0 then error("flake", 0) end
      end })
    assert.is_true(sup:run())
    flaky_events = events
    return events
  end

  it("under always with max_retries = 2, failing twice then succeeding, repeatedly, never exhausts", function()
    local events = flaky_run()
    assert.equal(0, H.count(events, "ActorExhausted"))
    assert.equal(0, H.count(events, "ActorDead"))
    assert.equal(10, H.count(events, "TaskStarting", "flaky"))
    assert.equal(6, H.count(events, "TaskFailed", "flaky"))
    local bs = H.only(events, "flaky", "BackoffScheduled")
    assert.same({ 1, 2, 4, 5, 7, 8 }, field_list(bs, "attempt"))
    assert.same({ "failure", "failure", "failure", "failure", "failure", "failure" },
      field_list(bs, "backoff_source"))
  end)

  it("a success resets the backoff: the delay after it restarts from `first`", function()
    local events = flaky_run()
    assert.same({ 10, 20, 10, 20, 10, 20 },
      field_list(H.only(events, "flaky", "BackoffScheduled"), "delay_ms"))
  end)

  it("a third failure in a row under always with max_retries = 2 does exhaust", function()
    local events = run_tasks({
      tv.task{ name = "streak", restart = "always", max_retries = 2, backoff = { first = 0.005 },
        run = function(ctx) if ctx.attempt ~= 3 then error("x", 0) end end },
    })
    -- F F S F F F: exhausted on attempt 6, the third failure of the second streak
    local ex = H.only(events, "streak", "ActorExhausted")
    assert.equal(1, #ex)
    assert.equal(6, ex[1].attempt)
    assert.equal("max_retries_exceeded(2/2): execution failed: x", ex[1].reason)
    assert.equal(6, H.count(events, "TaskStarting", "streak"))
  end)

  it("a timeout is retryable: a timed-out first attempt is retried and the second one succeeds", function()
    local events, ok = run_tasks({
      tv.restartable("t", function(ctx) if ctx.attempt == 1 then ctx:sleep(5) end end,
        { timeout = 0.03, backoff = { first = 0.01 } }),
    })
    assert.is_true(ok)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TimeoutHit#1", "TaskFailed#1",
      "BackoffScheduled#1", "TaskStarting#2", "TaskStopped#2", "ActorExhausted#2", "TaskRemoved" },
      H.trace(events, "t"))
    local b = H.first(events, "BackoffScheduled", "t")
    assert.equal("timed out after 30ms", b.reason)
    assert.equal("failure", b.backoff_source)
    assert.equal("policy_exhausted_success", H.first(events, "ActorExhausted", "t").reason)
  end)

  it("under never a failure is not retried even with max_retries set", function()
    local events = run_tasks({ failing("n", { restart = "never", max_retries = 5 }) })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "n"))
    assert.equal("execution failed: boom", H.first(events, "ActorExhausted").reason)
  end)
end)

describe("backoff delays (A5, no jitter)", function()
  it("first = 0.01, factor = 2, max = 0.04 gives delay_ms 10, 20, 40, 40, 40", function()
    local events = run_tasks({
      failing("b", { max_retries = 5, backoff = { first = 0.01, factor = 2, max = 0.04, jitter = "none" } }),
    })
    assert.same({ 10, 20, 40, 40, 40 }, field_list(H.only(events, "b", "BackoffScheduled"), "delay_ms"))
  end)

  it("the default factor 1 keeps every delay at `first`", function()
    local events = run_tasks({ failing("b", { max_retries = 3, backoff = { first = 0.015 } }) })
    assert.same({ 15, 15, 15 }, field_list(H.only(events, "b", "BackoffScheduled"), "delay_ms"))
  end)

  it("factor < 1 makes delays shrink: first = 0.04, factor = 0.5 gives 40, 20, 10, 5", function()
    local events = run_tasks({
      failing("b", { max_retries = 4, backoff = { first = 0.04, factor = 0.5, max = 1 } }),
    })
    assert.same({ 40, 20, 10, 5 }, field_list(H.only(events, "b", "BackoffScheduled"), "delay_ms"))
  end)

  it("first > max yields max for every delay", function()
    local events = run_tasks({
      failing("b", { max_retries = 3, backoff = { first = 0.5, factor = 2, max = 0.02 } }),
    })
    assert.same({ 20, 20, 20 }, field_list(H.only(events, "b", "BackoffScheduled"), "delay_ms"))
  end)

  it("the next attempt starts no earlier than the scheduled delay", function()
    local starts = {}
    run_tasks({
      tv.restartable("b", function(ctx)
        starts[ctx.attempt] = tv.monotime()
        error("x", 0)
      end, { max_retries = 2, backoff = { first = 0.05, factor = 2, max = 1 } }),
    })
    assert.equal(3, #starts)
    assert.is_true(starts[2] - starts[1] >= 0.045, "first retry came too early")
    assert.is_true(starts[3] - starts[2] >= 0.09, "second retry came too early")
  end)
end)

describe("jitter", function()
  -- Runs `ntasks` always-failing tasks with `backoff` side by side under
  -- `seed`; returns the delay_ms lists per task (in task order).
  local function jittered(seed, backoff, retries, ntasks)
    local specs = {}
    for i = 1, ntasks do specs[i] = failing("j" .. i, { max_retries = retries, backoff = backoff }) end
    local events = run_tasks(specs, { seed = seed })
    local out = {}
    for i = 1, ntasks do
      out[i] = field_list(H.only(events, "j" .. i, "BackoffScheduled"), "delay_ms")
      assert.equal(retries, #out[i])
    end
    return out
  end

  local function seq_of(seed)
    local events = run_tasks({
      failing("j", { max_retries = 10, backoff = { first = 0.02, max = 0.02, jitter = "full" } }),
    }, { seed = seed })
    return field_list(H.only(events, "j", "BackoffScheduled"), "delay_ms")
  end

  it("the same seed gives the same full-jitter delay_ms sequence in two supervisors", function()
    local a, b = seq_of(42), seq_of(42)
    assert.equal(10, #a)
    assert.same(a, b)
    -- and the delays really are randomised (all equal would mean no jitter)
    local distinct = {}
    for _, d in ipairs(a) do distinct[d] = true end
    assert.is_true(next(distinct, next(distinct)) ~= nil, "all delays equal: " .. table.concat(a, ","))
  end)

  it("a different seed gives a different full-jitter sequence", function()
    assert.are_not.same(seq_of(1), seq_of(2))
  end)

  it("the same seed gives the same decorrelated sequence in two supervisors", function()
    local bo = { first = 0.002, factor = 2, max = 0.03, jitter = "decorrelated" }
    assert.same(jittered(7, bo, 8, 1), jittered(7, bo, 8, 1))
  end)

  it("full jitter keeps every delay within [0, base] and actually varies it", function()
    local first, factor, max = 0.004, 2, 0.032
    local lists = jittered(11, { first = first, factor = factor, max = max, jitter = "full" }, 8, 4)
    local below = 0
    for _, list in ipairs(lists) do
      for k, d in ipairs(list) do
        local b = base_ms(first, factor, max, k - 1)
        assert.is_true(math.type(d) == "integer" and d >= 0 and d <= b,
          string.format("delay %s outside [0, %d] at retry %d", tostring(d), b, k))
        if d < b then below = below + 1 end
      end
    end
    assert.is_true(below > 0, "full jitter never went below the base")
  end)

  it("equal jitter keeps every delay within [base/2, base] and actually varies it", function()
    local first, factor, max = 0.004, 2, 0.032
    local lists = jittered(12, { first = first, factor = factor, max = max, jitter = "equal" }, 8, 4)
    local below = 0
    for _, list in ipairs(lists) do
      for k, d in ipairs(list) do
        local b = base_ms(first, factor, max, k - 1)
        assert.is_true(math.type(d) == "integer" and d >= b // 2 and d <= b,
          string.format("delay %s outside [%d, %d] at retry %d", tostring(d), b // 2, b, k))
        if d < b then below = below + 1 end
      end
    end
    assert.is_true(below > 0, "equal jitter never went below the base")
  end)

  it("decorrelated jitter keeps every delay within [first, min(3 * base, max)] and can exceed the base", function()
    local first, factor, max = 0.002, 2, 0.03
    local lists = jittered(13, { first = first, factor = factor, max = max, jitter = "decorrelated" }, 8, 4)
    local above = 0
    for _, list in ipairs(lists) do
      for k, d in ipairs(list) do
        local b = base_ms(first, factor, max, k - 1)
        local hi = math.min(3 * b, 30)
        assert.is_true(math.type(d) == "integer" and d >= 2 and d <= hi,
          string.format("delay %s outside [2, %d] at retry %d", tostring(d), hi, k))
        if d > b then above = above + 1 end
      end
    end
    assert.is_true(above > 0, "decorrelated jitter never exceeded the base")
  end)

  it("sub-millisecond bases become 0 under full and equal jitter", function()
    local events = run_tasks({
      failing("f", { max_retries = 3, backoff = { first = 0.0005, jitter = "full" } }),
      failing("e", { max_retries = 3, backoff = { first = 0.0005, jitter = "equal" } }),
    }, { seed = 5 })
    assert.same({ 0, 0, 0 }, field_list(H.only(events, "f", "BackoffScheduled"), "delay_ms"))
    assert.same({ 0, 0, 0 }, field_list(H.only(events, "e", "BackoffScheduled"), "delay_ms"))
  end)
end)

describe("supervisor defaults", function()
  it("fill restart, timeout, max_retries and every backoff field a task leaves out", function()
    local events = run_tasks({
      tv.task{ name = "bare", run = function(ctx) ctx:sleep(5) end },
    }, { defaults = { restart = "on_failure", timeout = 0.03, max_retries = 2,
      backoff = { first = 0.01, factor = 3, max = 0.025 } } })
    assert.same({ "TaskAddRequested", "TaskAdded",
      "TaskStarting#1", "TimeoutHit#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TimeoutHit#2", "TaskFailed#2", "BackoffScheduled#2",
      "TaskStarting#3", "TimeoutHit#3", "TaskFailed#3", "ActorExhausted#3", "TaskRemoved" },
      H.trace(events, "bare"))
    assert.equal(30, H.first(events, "TimeoutHit").timeout_ms)
    assert.same({ 10, 25 }, field_list(H.only(events, "bare", "BackoffScheduled"), "delay_ms"))
    assert.equal("max_retries_exceeded(2/2): timed out after 30ms", H.first(events, "ActorExhausted").reason)
  end)

  it("a task's own fields win over the defaults, and backoff merges field by field", function()
    local events = run_tasks({
      -- own first, max_retries and timeout; factor and max from the defaults
      -- (each attempt outlives the default timeout, so only its own applies)
      tv.task{ name = "own", timeout = 1, max_retries = 3, backoff = { first = 0.005 },
        run = function(ctx) ctx:sleep(0.05); error("x", 0) end },
      -- own restart: never retried although the default says always
      tv.task{ name = "never", restart = "never", run = function() error("y", 0) end },
    }, { defaults = { restart = "always", timeout = 0.02, max_retries = 1,
      backoff = { first = 1, factor = 2, max = 0.03 } } })
    assert.equal(0, H.count(events, "TimeoutHit"))
    assert.equal(4, H.count(events, "TaskStarting", "own"))
    assert.same({ 5, 10, 20 }, field_list(H.only(events, "own", "BackoffScheduled"), "delay_ms"))
    assert.equal("max_retries_exceeded(3/3): execution failed: x",
      H.first(events, "ActorExhausted", "own").reason)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "never"))
  end)

  it("a default restart = always with a default interval applies to tasks that set neither", function()
    local sup = tv.supervisor{ defaults = { restart = "always", interval = 0.02 } }
    local events = H.collect(sup)
    sup:add(tv.task{ name = "beat", run = function(ctx)
      if ctx.attempt == 3 then sup:shutdown(); ctx:sleep(5) end
    end })
    -- a task with its own restart ignores the default interval
    sup:add(tv.once("single", function() end))
    assert.is_true(sup:run())
    assert.same({ 20, 20 }, field_list(H.only(events, "beat", "BackoffScheduled"), "delay_ms"))
    assert.same({ "success", "success" }, field_list(H.only(events, "beat", "BackoffScheduled"), "backoff_source"))
    assert.equal(3, H.count(events, "TaskStarting", "beat"))
    assert.equal(0, H.count(events, "BackoffScheduled", "single"))
    assert.equal("policy_exhausted_success", H.first(events, "ActorExhausted", "single").reason)
  end)
end)

describe("shorthands", function()
  it("tv.once(name, fn) runs once (restart never): a failure is not retried", function()
    local runs = 0
    local events = run_tasks({ tv.once("o", function() runs = runs + 1; error("x", 0) end) })
    assert.equal(1, runs)
    assert.equal(0, H.count(events, "BackoffScheduled"))
    assert.equal("execution failed: x", H.first(events, "ActorExhausted", "o").reason)
  end)

  it("tv.once(name, fn, opts) applies the options (a timeout here)", function()
    local events = run_tasks({ tv.once("o", function(ctx) ctx:sleep(5) end, { timeout = 0.02 }) })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TimeoutHit#1", "TaskFailed#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "o"))
    assert.equal(20, H.first(events, "TimeoutHit").timeout_ms)
  end)

  it("tv.restartable(name, fn) retries on failure and stops after a success", function()
    local events = run_tasks({
      tv.restartable("r", function(ctx) if ctx.attempt < 3 then error("x", 0) end end),
    })
    -- default backoff: first = 0.1, factor = 1
    assert.same({ 100, 100 }, field_list(H.only(events, "r", "BackoffScheduled"), "delay_ms"))
    assert.equal(3, H.count(events, "TaskStarting", "r"))
    assert.equal("policy_exhausted_success", H.first(events, "ActorExhausted", "r").reason)
  end)

  it("tv.restartable(name, fn, opts) applies the options (max_retries and backoff here)", function()
    local events = run_tasks({
      tv.restartable("r", function() error("x", 0) end,
        { max_retries = 2, backoff = { first = 0.01, factor = 2 } }),
    })
    assert.same({ 10, 20 }, field_list(H.only(events, "r", "BackoffScheduled"), "delay_ms"))
    assert.equal("max_retries_exceeded(2/2): execution failed: x", H.first(events, "ActorExhausted", "r").reason)
  end)
end)

describe("error values", function()
  local function reason_of(errvalue)
    local events = run_tasks({ tv.once("e", function() error(errvalue) end) })
    return H.first(events, "TaskFailed", "e").reason, H.first(events, "ActorExhausted", "e").reason
  end

  it("a table error without __tostring gives 'execution failed: (error object is a table value)'", function()
    local failed, exhausted = reason_of({ code = 1 })
    assert.equal("execution failed: (error object is a table value)", failed)
    assert.equal(failed, exhausted)
  end)

  it("a table error with __tostring is shown through it", function()
    local failed = reason_of(setmetatable({}, { __tostring = function() return "custom problem" end }))
    assert.equal("execution failed: custom problem", failed)
  end)

  it("a number error is shown as the number", function()
    assert.equal("execution failed: 42", (reason_of(42)))
  end)

  it("nil and boolean errors still give a failure with a reason", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    assert.is_true(sup:run({
      tv.once("n", function() error(nil) end),
      tv.once("b", function() error(false) end),
    }))
    for _, name in ipairs({ "n", "b" }) do
      local f = H.first(events, "TaskFailed", name)
      assert.is_not_nil(f, name)
      assert.matches("^execution failed: ", f.reason)
    end
  end)

  it("TaskFailed carries a traceback string mentioning 'stack traceback' and the raising function", function()
    local events = run_tasks({ tv.once("tb", function()
      local function deep_helper() error("deep") end
      deep_helper()
    end) })
    local tb = H.first(events, "TaskFailed", "tb").traceback
    assert.is_string(tb)
    assert.truthy(tb:find("stack traceback", 1, true))
    assert.truthy(tb:find("deep_helper", 1, true))
  end)
end)
