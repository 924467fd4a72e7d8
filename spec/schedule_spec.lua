-- schedule_spec.lua: when the next attempt starts: fixed-rate schedules
-- (every: slots, overruns, failures), and a task's own restart and backoff
-- functions (decisions, the outcome they see, errors and wrong returns).
local H = require("helpers")
local tv = H.tv

local run_tasks = H.run

local field_list = H.field_list

describe("every", function()
  it("runs on a fixed schedule: BackoffScheduled source schedule without a reason, attempts near multiples of every", function()
    local starts = {}
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    assert.is_true(sup:run({ tv.task{ name = "e", every = 0.2, run = function(ctx)
      starts[ctx.attempt] = tv.monotime()
      if ctx.attempt == 4 then sup:shutdown(); ctx:sleep(5) end
    end } }))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskStopped#2", "BackoffScheduled#2", "TaskStarting#3", "TaskStopped#3",
      "BackoffScheduled#3", "TaskStarting#4", "TaskStopped#4", "TaskRemoved" }, H.trace(events, "e"))
    local b = H.only(events, "e", "BackoffScheduled")
    assert.same({ "schedule", "schedule", "schedule" }, field_list(b, "backoff_source"))
    for _, ev in ipairs(b) do
      assert.is_nil(ev.reason)
      assert.is_true(ev.delay_ms > 0 and ev.delay_ms <= 200)
    end
    -- attempt k starts no earlier than (k-1) * every after the first
    for k = 2, 4 do
      -- (the schedule follows the loop's clock, read once per pass: the first start can
      -- be measured late against it by up to a pass, which under valgrind on a loaded
      -- machine has been over 40 ms. Half a slot of slack: a schedule that waited a
      -- slot less, or not at all, still fails.)
      assert.is_true(starts[k] - starts[1] >= (k - 1) * 0.2 - 0.1, "attempt " .. k .. " early")
    end
  end)

  -- Skipped slots named in a BackoffScheduled reason (0 without one).
  local function skipped(ev)
    local n = ev.reason and ev.reason:match("^schedule: (%d+) runs? skipped %(the last run overran%)$")
    return tonumber(n) or 0
  end

  it("does not drift: slot k is anchored to the first start, not to the previous run's end", function()
    -- The delay after a run is what is left of its slot: at most every - 0.1
    -- s after a run of 0.1 s (a schedule that paused after each run would say
    -- 0.2 s). That holds whatever the machine's load: a late run leaves less
    -- of its slot or skips slots (and says so), it never pushes the grid.
    local starts = {}
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    assert.is_true(sup:run({ tv.task{ name = "e", every = 0.2, run = function(ctx)
      starts[ctx.attempt] = tv.monotime()
      ctx:sleep(0.1) -- a run taking half the slot
      if ctx.attempt == 5 then sup:shutdown() end
    end } }))
    local b = H.only(events, "e", "BackoffScheduled")
    assert.equal(4, #b)
    local slot = 0 -- attempt k's slot: k - 1 plus the slots skipped before it
    for k, ev in ipairs(b) do
      assert.equal("schedule", ev.backoff_source)
      if skipped(ev) == 0 then
        assert.is_true(ev.delay_ms <= 101, string.format("attempt %d: delay %d ms after a 100 ms run: "
          .. "the schedule drifts", k, ev.delay_ms))
      else
        assert.is_true(ev.delay_ms <= 200, ev.delay_ms)
      end
      slot = slot + 1 + skipped(ev)
      -- never early against the grid of the first start (half a slot of slack, as above)
      assert.is_true(starts[k + 1] - starts[1] >= slot * 0.2 - 0.1, "attempt " .. (k + 1) .. " early")
    end
  end)

  it("an overrun skips slots: reason 'schedule: N runs skipped (the last run overran)', N the slots it spanned", function()
    local at = {}
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    assert.is_true(sup:run({ tv.task{ name = "e", every = 0.05, run = function(ctx)
      at[ctx.attempt] = tv.monotime()
      if ctx.attempt == 2 then ctx:sleep(0.12); at.ended = tv.monotime() end -- spans 2 slots at least
      if ctx.attempt == 3 then sup:shutdown(); ctx:sleep(5) end
    end } }))
    local b = H.only(events, "e", "BackoffScheduled")
    assert.equal(2, #b)
    assert.equal("schedule", b[2].backoff_source)
    local n = skipped(b[2])
    -- from slot floor(start) to slot floor(end) of the first start's grid;
    -- the loop's clock, read once a pass, may put either end one slot off
    local from = math.floor((at[2] - at[1]) / 0.05)
    local to = math.floor((at.ended - at[1]) / 0.05)
    assert.is_true(n >= 2 and n >= to - from - 1 and n <= to - from + 1,
      string.format("%s (the run spanned slots %d to %d)", tostring(b[2].reason), from, to))
    assert.equal(string.format("schedule: %d runs skipped (the last run overran)", n), b[2].reason)
    assert.is_true(b[2].delay_ms <= 50)
  end)

  it("a single skipped slot says 'run', not 'runs'", function()
    -- Each run overruns its slot by half of the next, so it skips one slot
    -- unless the machine delays it by more than half a slot: of five such
    -- runs at least one skips exactly one (every reason must match its count).
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    assert.is_true(sup:run({ tv.task{ name = "e", every = 0.2, run = function(ctx)
      if ctx.attempt == 6 then sup:shutdown() return end
      ctx:sleep(0.3) -- from its slot to half-way through the next
    end } }))
    local ones = 0
    for _, ev in ipairs(H.only(events, "e", "BackoffScheduled")) do
      local n = skipped(ev)
      assert.is_true(n >= 1, tostring(ev.reason))
      assert.equal(string.format("schedule: %d run%s skipped (the last run overran)", n, n == 1 and "" or "s"),
        ev.reason)
      if n == 1 then ones = ones + 1 end
    end
    assert.is_true(ones >= 1)
  end)

  it("a failure waits for the next slot too (source schedule, the failure as reason), and restart defaults to always", function()
    local starts = {}
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    assert.is_true(sup:run({ tv.task{ name = "e", every = 0.2, backoff = { first = 0.001 }, run = function(ctx)
      starts[ctx.attempt] = tv.monotime()
      if ctx.attempt == 1 then error("x", 0) end
      if ctx.attempt == 3 then sup:shutdown(); ctx:sleep(5) end
    end } }))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskStopped#2", "BackoffScheduled#2", "TaskStarting#3", "TaskStopped#3", "TaskRemoved" },
      H.trace(events, "e"))
    local b = H.first(events, "BackoffScheduled", "e")
    assert.equal("schedule", b.backoff_source)
    assert.equal("execution failed: x", b.reason)
    assert.is_true(b.delay_ms > 1, "the failure used the backoff, not the schedule")
    assert.is_true(starts[2] - starts[1] >= 0.19)
  end)

  it("validation: every with interval, with a restart other than always, and non-positive values are refused", function()
    local run = function() end
    assert.has_error(function() tv.task{ name = "e", every = 1, interval = 1, run = run } end,
      "tv.task: 'every' and 'interval' cannot both be set ('every' runs on a fixed schedule; 'interval' "
      .. "pauses after each success)")
    assert.has_error(function() tv.task{ name = "e", every = 1, restart = "on_failure", run = run } end,
      "tv.task: 'every' needs restart = \"always\" (the default with 'every'; got \"on_failure\")")
    assert.has_error(function() tv.task{ name = "e", every = 1, restart = "never", run = run } end)
    assert.has_error(function() tv.task{ name = "e", every = 0, run = run } end)
    assert.has_error(function() tv.task{ name = "e", every = -1, run = run } end)
    assert.has_error(function() tv.task{ name = "e", every = "1", run = run } end)
    assert.is_not_nil(tv.task{ name = "e", every = 1, restart = "always", run = run })
  end)
end)

describe("a restart function", function()
  it("decides: restart only when exit_code == 3 (a process exiting 3, 3, then 4)", function()
    local counter = os.tmpname()
    local seen = {}
    local events, r = run_tasks({ tv.process{ name = "p",
      cmd = { "/bin/sh", "-c", "n=$(( $(cat " .. counter .. " 2>/dev/null || echo 0) + 1 )); echo $n > "
        .. counter .. "; [ $n -ge 3 ] && exit 4; exit 3" },
      backoff = { first = 0.001 },
      restart = function(o) seen[#seen + 1] = o; return o.exit_code == 3 end } })
    os.remove(counter)
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskFailed#2", "BackoffScheduled#2", "TaskStarting#3", "TaskFailed#3",
      "ActorExhausted#3", "TaskRemoved" }, H.trace(events, "p"))
    assert.equal("execution failed: exited with code 4", H.first(events, "ActorExhausted", "p").reason)
    assert.equal(3, #seen)
    assert.same({ 3, 3, 4 }, field_list(seen, "exit_code"))
    assert.same({ 1, 2, 3 }, field_list(seen, "attempt"))
    for _, o in ipairs(seen) do
      assert.is_false(o.ok)
      assert.equal("execution failed: exited with code " .. o.exit_code, o.reason)
      assert.is_number(o.ran_for)
      assert.is_true(o.ran_for >= 0 and o.ran_for < 5)
      assert.is_nil(o.signal)
    end
  end)

  it("sees ok = true after a success and may stop an always-like loop", function()
    local seen = {}
    local events = run_tasks({ tv.task{ name = "t",
      restart = function(o) seen[#seen + 1] = o; return o.attempt < 3 end,
      run = function() end } })
    assert.equal(3, H.count(events, "TaskStarting", "t"))
    assert.same({ true, true, true }, field_list(seen, "ok"))
    assert.is_nil(seen[1].reason)
    assert.is_nil(seen[1].exit_code)
    assert.equal("policy_exhausted_success", H.first(events, "ActorExhausted", "t").reason)
  end)

  it("sees the signal of a process killed by one", function()
    local seen
    run_tasks({ tv.process{ name = "p", cmd = { "/bin/sh", "-c", "kill -KILL $$" },
      restart = function(o) seen = o; return false end } })
    assert.equal("SIGKILL", seen.signal)
    assert.equal("execution failed: killed by signal SIGKILL", seen.reason)
  end)

  it("still respects max_retries on top of its decision", function()
    local events = run_tasks({ tv.task{ name = "t", max_retries = 2, backoff = { first = 0.001 },
      restart = function() return true end, run = function() error("x", 0) end } })
    assert.equal(3, H.count(events, "TaskStarting", "t"))
    assert.equal("max_retries_exceeded(2/2): execution failed: x", H.first(events, "ActorExhausted", "t").reason)
  end)

  local function broken(restart, backoff)
    local events, r = run_tasks({
      tv.task{ name = "t", restart = restart, backoff = backoff, run = function() error("x", 0) end },
      tv.once("other", function(ctx) ctx:sleep(0.03) end),
    })
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "ActorDead#1",
      "TaskRemoved" }, H.trace(events, "t"))
    assert.equal("completed", r[2].other.status)
    assert.equal("dead", r[2].t.status)
    return H.first(events, "ActorDead", "t").reason
  end

  it("that raises ends the task: ActorDead 'restart function failed: ...'; other tasks keep running", function()
    assert.equal("restart function failed: oops", broken(function() error("oops", 0) end))
  end)

  it("that returns something other than a boolean ends the task", function()
    assert.equal("restart function failed: returned number; expected true or false", broken(function() return 1 end))
    assert.equal("restart function failed: returned nil; expected true or false", broken(function() end))
    assert.equal("restart function failed: returned string; expected true or false",
      broken(function() return "yes" end))
  end)
end)

describe("a backoff function", function()
  it("sets the delay: streak * 0.01 + 0.01 gives delay_ms 10, 20, 30; it sees streak, last_delay and the outcome", function()
    local calls = {}
    local events = run_tasks({ tv.task{ name = "t", restart = "on_failure", max_retries = 3,
      backoff = function(streak, last, o)
        calls[#calls + 1] = { streak = streak, last = last, attempt = o.attempt, ok = o.ok, reason = o.reason }
        return (streak + 1) * 0.01
      end,
      run = function() tv.fail("nope", 9) end } })
    assert.same({ 10, 20, 30 }, field_list(H.only(events, "t", "BackoffScheduled"), "delay_ms"))
    assert.same({ "failure", "failure", "failure" },
      field_list(H.only(events, "t", "BackoffScheduled"), "backoff_source"))
    assert.same({ 0, 1, 2 }, field_list(calls, "streak"))
    assert.same({ 1, 2, 3 }, field_list(calls, "attempt"))
    assert.equal(0, calls[1].last)
    assert.is_false(calls[1].ok)
    assert.equal("execution failed: nope", calls[1].reason)
  end)

  -- last_delay is kept in the actor's ext (restart_after: x->last_delay),
  -- which tv_sup_add_ex allocates only when needs_ext() says so: a budget,
  -- every, after, hooks or explicit readiness, but not a policy function.
  local function last_delays(extra)
    local lasts = {}
    local spec = { name = "t", restart = "on_failure", max_retries = 3,
      backoff = function(streak, last) lasts[#lasts + 1] = last; return (streak + 1) * 0.01 end,
      run = function() error("x", 0) end }
    for k, v in pairs(extra) do spec[k] = v end
    run_tasks({ tv.task(spec) })
    return lasts
  end

  it("sees last_delay = the previous delay (a task that also has a hook)", function()
    local lasts = last_delays({ cleanup = function() end })
    assert.equal(3, #lasts)
    assert.equal(0, lasts[1])
    assert.is_true(math.abs(lasts[2] - 0.01) < 1e-9, tostring(lasts[2]))
    assert.is_true(math.abs(lasts[3] - 0.02) < 1e-9, tostring(lasts[3]))
  end)

  it("a task whose only extra is the backoff function sees the previous delay as last_delay", function()
    local lasts = last_delays({})
    assert.equal(3, #lasts)
    assert.is_true(math.abs(lasts[2] - 0.01) < 1e-9, tostring(lasts[2]))
    assert.is_true(math.abs(lasts[3] - 0.02) < 1e-9, tostring(lasts[3]))
  end)

  it("is not called after a success", function()
    local called = 0
    run_tasks({ tv.task{ name = "t", restart = "on_failure",
      backoff = function() called = called + 1; return 0 end, run = function() end } })
    assert.equal(0, called)
  end)

  it("returning 0 restarts at once", function()
    local events = run_tasks({ tv.task{ name = "t", restart = "on_failure", max_retries = 2,
      backoff = function() return 0 end, run = function() error("x", 0) end } })
    assert.same({ 0, 0 }, field_list(H.only(events, "t", "BackoffScheduled"), "delay_ms"))
  end)

  local function broken(backoff)
    local events, r = run_tasks({
      tv.task{ name = "t", restart = "on_failure", backoff = backoff, run = function() error("x", 0) end },
      tv.once("other", function(ctx) ctx:sleep(0.03) end),
    })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "ActorDead#1",
      "TaskRemoved" }, H.trace(events, "t"))
    assert.equal("completed", r[2].other.status)
    return H.first(events, "ActorDead", "t").reason
  end

  it("that raises or returns a bad value ends the task: ActorDead 'backoff function failed: ...'", function()
    assert.equal("backoff function failed: oops", broken(function() error("oops", 0) end))
    assert.equal("backoff function failed: returned string; expected a number of seconds between 0 and 1e9",
      broken(function() return "1" end))
    assert.equal("backoff function failed: returned nil; expected a number of seconds between 0 and 1e9",
      broken(function() end))
    assert.equal("backoff function failed: returned -1; expected a number of seconds between 0 and 1e9",
      broken(function() return -1 end))
    assert.equal("backoff function failed: returned inf; expected a number of seconds between 0 and 1e9",
      broken(function() return math.huge end))
    assert.matches("^backoff function failed: returned %-?nan; expected a number of seconds between 0 and 1e9$",
      broken(function() return 0 / 0 end))
  end)

  it("a non-callable restart or backoff is refused by tv.task", function()
    assert.has_error(function() tv.task{ name = "t", run = function() end, restart = 42 } end)
    assert.has_error(function() tv.task{ name = "t", run = function() end, backoff = 42 } end)
  end)
end)
