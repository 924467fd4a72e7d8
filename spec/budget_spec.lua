-- budget_spec.lua: restart budgets (intensity, on_exhausted give_up /
-- escalate / cooldown, reset_after), the supervisor's own budget and
-- escalation, and the Erlang restart types (permanent, transient, temporary)
-- at top level, observed as exact event sequences through the Lua API.
local H = require("helpers")
local tv = H.tv

local run_tasks = H.run

local field_list = H.field_list

-- A task failing on every attempt, restarted at once (1 ms), with extra fields.
local function failing(name, extra)
  local spec = { name = name, restart = "always", backoff = { first = 0.001 },
    run = function() error("boom", 0) end }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return tv.task(spec)
end

-- "TaskStarting#1 TaskFailed#1 BackoffScheduled#1 ..." for n failed attempts,
-- the last one without its BackoffScheduled.
local function failed_attempts(n)
  local out = { "TaskAddRequested", "TaskAdded" }
  for i = 1, n do
    out[#out + 1] = "TaskStarting#" .. i
    out[#out + 1] = "TaskFailed#" .. i
    if i < n then out[#out + 1] = "BackoffScheduled#" .. i end
  end
  return out
end

local function append(list, ...)
  for _, v in ipairs({ ... }) do list[#list + 1] = v end
  return list
end

describe("a task's intensity budget", function()
  it("give_up (the default): more than 2 restarts within 10s ends the task with ActorExhausted after 3 attempts", function()
    local events, r = run_tasks({ failing("a", { intensity = { max_restarts = 2, within = 10 } }) })
    assert.is_true(r[1], r[2])
    assert.same(append(failed_attempts(3), "ActorExhausted#3", "TaskRemoved"), H.trace(events, "a"))
    local ex = H.first(events, "ActorExhausted", "a")
    assert.equal("restart intensity exceeded: more than 2 restarts within 10s (the task's budget)", ex.reason)
    assert.equal(0, H.count(events, "Escalated"))
    assert.same({ status = "exhausted", attempts = 3, reason = ex.reason }, r[2].a)
  end)

  it("explicit give_up behaves like the default and other tasks keep running", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    local beats_after = 0
    assert.is_true(sup:run({
      failing("a", { intensity = { max_restarts = 1, within = 10 }, on_exhausted = "give_up" }),
      tv.task{ name = "other", restart = "never", run = function(ctx)
        sup:wait("a")
        for _ = 1, 3 do ctx:sleep(0.005); beats_after = beats_after + 1 end
      end },
    }))
    assert.same(append(failed_attempts(2), "ActorExhausted#2", "TaskRemoved"), H.trace(events, "a"))
    assert.equal(3, beats_after)
    assert.equal("policy_exhausted_success", H.first(events, "ActorExhausted", "other").reason)
  end)

  it("the budget counts successes restarted under always too", function()
    local events = run_tasks({
      tv.task{ name = "s", restart = "always", intensity = { max_restarts = 3, within = 10 },
        run = function() end },
    })
    assert.equal(4, H.count(events, "TaskStarting", "s"))
    assert.equal(4, H.count(events, "TaskStopped", "s"))
    assert.same({ "TaskStopped#4", "ActorExhausted#4", "TaskRemoved" },
      table.move(H.trace(events, "s"), #H.trace(events, "s") - 2, #H.trace(events, "s"), 1, {}))
    assert.equal("restart intensity exceeded: more than 3 restarts within 10s (the task's budget)",
      H.first(events, "ActorExhausted", "s").reason)
  end)

  it("escalate: ActorExhausted '...; escalating to the supervisor', Escalated, then the supervisor shuts down and run returns ESCALATED", function()
    local events, r = run_tasks({
      failing("a", { intensity = { max_restarts = 2, within = 10 }, on_exhausted = "escalate" }),
      H.cooperative("bystander"),
    })
    local why = "restart intensity exceeded: more than 2 restarts within 10s (the task's budget); "
      .. "escalating to the supervisor"
    assert.same(append(failed_attempts(3), "ActorExhausted#3", "TaskRemoved", "Escalated"),
      H.trace(events, "a"))
    assert.equal(why, H.first(events, "ActorExhausted", "a").reason)
    local esc = H.first(events, "Escalated")
    assert.equal("a", esc.task)
    assert.equal("task 'a': " .. why, esc.reason)
    -- Escalated after the task's end, then a graceful shutdown of the rest
    assert.is_true(H.index(events, "ActorExhausted", "a") < H.index(events, "Escalated"))
    assert.is_true(H.index(events, "Escalated") < H.index(events, "ShutdownRequested"))
    assert.equal(1, H.count(events, "AllStoppedWithinGrace"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "TaskRemoved" },
      H.trace(events, "bystander"))
    assert.is_nil(r[1])
    assert.equal("ESCALATED: task 'a': " .. why, r[2])
    assert.same({}, r[3])
    assert.equal("exhausted", r[4].a.status)
    assert.equal(3, r[4].a.attempts)
    assert.equal("cancelled", r[4].bystander.status)
  end)

  it("cooldown: the budget exceeded schedules a cooldown BackoffScheduled, then restarts with a fresh budget", function()
    local events, r = run_tasks({
      failing("c", { restart = "on_failure", intensity = { max_restarts = 2, within = 10 },
        on_exhausted = { cooldown = 0.03 },
        run = function(ctx) if ctx.attempt < 6 then error("boom", 0) end end }),
    })
    assert.is_true(r[1], r[2])
    local want = failed_attempts(5)
    want[#want + 1] = "BackoffScheduled#5"
    append(want, "TaskStarting#6", "TaskStopped#6", "ActorExhausted#6", "TaskRemoved")
    assert.same(want, H.trace(events, "c"))
    local b = H.only(events, "c", "BackoffScheduled")
    assert.same({ "failure", "failure", "cooldown", "failure", "failure" }, field_list(b, "backoff_source"))
    assert.equal(30, b[3].delay_ms)
    assert.equal("restart intensity exceeded: more than 2 restarts within 10s (the task's budget); "
      .. "cooling down for 30ms", b[3].reason)
    assert.equal(0, H.count(events, "Escalated"))
    assert.equal("completed", r[2].c.status)
    assert.equal(6, r[2].c.attempts)
  end)

  it("cooldown keeps cycling: a task that never succeeds cools down again after each exhausted budget", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    assert.is_true(sup:run({
      failing("c", { intensity = { max_restarts = 1, within = 10 }, on_exhausted = { cooldown = 0.01 },
        run = function(ctx)
          if ctx.attempt == 7 then sup:shutdown(); ctx:sleep(5) end
          error("boom", 0)
        end }),
    }))
    local b = H.only(events, "c", "BackoffScheduled")
    -- F(1) restart(1 in budget) F(2) over -> cooldown, fresh: F(3) ok F(4) cooldown ...
    assert.same({ "failure", "cooldown", "failure", "cooldown", "failure", "cooldown" },
      field_list(b, "backoff_source"))
    assert.equal(0, H.count(events, "ActorExhausted", "c"))
  end)

  it("a window shorter than the restarts' spacing never exhausts", function()
    local events = run_tasks({
      failing("w", { restart = "on_failure", backoff = { first = 0.03 },
        intensity = { max_restarts = 1, within = 0.005 },
        run = function(ctx) if ctx.attempt < 4 then error("boom", 0) end end }),
    })
    assert.equal(4, H.count(events, "TaskStarting", "w"))
    assert.equal("policy_exhausted_success", H.first(events, "ActorExhausted", "w").reason)
  end)
end)

describe("reset_after", function()
  it("an attempt that ran at least reset_after resets the backoff streak: delays go back to `first`", function()
    local events = run_tasks({
      tv.task{ name = "r", restart = "on_failure", max_retries = 0, reset_after = 0.04,
        backoff = { first = 0.002, factor = 2, max = 1 },
        run = function(ctx)
          if ctx.attempt == 3 then ctx:sleep(0.06) end
          if ctx.attempt < 5 then error("boom", 0) end
        end },
    })
    -- streak 0,1 -> 2, 4 ms; attempt 3 ran long: streak reset -> 2, 4 ms
    assert.same({ 2, 4, 2, 4 }, field_list(H.only(events, "r", "BackoffScheduled"), "delay_ms"))
    assert.equal("policy_exhausted_success", H.first(events, "ActorExhausted", "r").reason)
  end)

  it("resets the intensity budget: a long-running attempt lets the task restart beyond max_restarts", function()
    local events, r = run_tasks({
      failing("r", { restart = "on_failure", reset_after = 0.04,
        intensity = { max_restarts = 2, within = 10 },
        run = function(ctx)
          if ctx.attempt == 3 then ctx:sleep(0.06) end
          error("boom", 0)
        end }),
    })
    -- 1, 2 fail fast (2 restarts); 3 ran long: budget reset; 4, 5 restart; 6 is the 3rd restart since
    assert.same(append(failed_attempts(5), "ActorExhausted#5", "TaskRemoved"), H.trace(events, "r"))
    assert.equal("restart intensity exceeded: more than 2 restarts within 10s (the task's budget)",
      H.first(events, "ActorExhausted", "r").reason)
    assert.equal(5, r[2].r.attempts)
  end)

  it("without reset_after the same task is exhausted after 3 attempts", function()
    local events = run_tasks({
      failing("r", { restart = "on_failure", intensity = { max_restarts = 2, within = 10 },
        run = function(ctx)
          if ctx.attempt == 3 then ctx:sleep(0.06) end
          error("boom", 0)
        end }),
    })
    assert.same(append(failed_attempts(3), "ActorExhausted#3", "TaskRemoved"), H.trace(events, "r"))
  end)
end)

describe("the supervisor's budget", function()
  it("defaults to escalate: a task's restarts beyond it publish Escalated and run returns ESCALATED", function()
    local events, r = run_tasks({ failing("a"), H.cooperative("c") },
      { intensity = { max_restarts = 3, within = 10 } })
    local why = "restart intensity exceeded: more than 3 restarts within 10s (the supervisor's budget); "
      .. "escalating to the supervisor"
    assert.same(append(failed_attempts(4), "ActorExhausted#4", "TaskRemoved", "Escalated"),
      H.trace(events, "a"))
    assert.equal(why, H.first(events, "ActorExhausted", "a").reason)
    assert.equal("task 'a': " .. why, H.first(events, "Escalated").reason)
    assert.is_nil(r[1])
    assert.equal("ESCALATED: task 'a': " .. why, r[2])
    assert.equal("cancelled", r[4].c.status)
  end)

  it("is shared: restarts of two tasks count together", function()
    local events, r = run_tasks({
      failing("a", { backoff = { first = 0.01 } }),
      failing("b", { backoff = { first = 0.01 } }),
    }, { intensity = { max_restarts = 3, within = 10 } })
    assert.is_nil(r[1])
    local starts = H.count(events, "TaskStarting", "a") + H.count(events, "TaskStarting", "b")
    -- 4 restarts taken in all (3 within, the 4th over): at most 3 restarts ran
    assert.is_true(starts <= 2 + 3, "too many attempts: " .. starts)
    assert.equal(1, H.count(events, "Escalated"))
    assert.equal(1, H.count(events, "ActorExhausted"))
    assert.matches("%(the supervisor's budget%); escalating to the supervisor$",
      H.first(events, "ActorExhausted").reason)
  end)

  it("give_up ends only the task that went over the supervisor's budget", function()
    local events, r = run_tasks({ failing("a") },
      { intensity = { max_restarts = 2, within = 10 }, on_exhausted = "give_up" })
    assert.is_true(r[1], r[2])
    assert.equal("restart intensity exceeded: more than 2 restarts within 10s (the supervisor's budget)",
      H.first(events, "ActorExhausted", "a").reason)
    assert.equal(0, H.count(events, "Escalated"))
  end)

  it("a task's own budget is checked first", function()
    local events, r = run_tasks({ failing("a", { intensity = { max_restarts = 1, within = 10 } }) },
      { intensity = { max_restarts = 5, within = 10 } })
    assert.is_true(r[1], r[2])
    assert.equal("restart intensity exceeded: more than 1 restarts within 10s (the task's budget)",
      H.first(events, "ActorExhausted", "a").reason)
  end)

  it("validation: on_exhausted needs intensity; intensity needs both fields", function()
    assert.has_error(function() tv.supervisor{ on_exhausted = "give_up" } end,
      "tv.supervisor: 'on_exhausted' needs an 'intensity' budget to exhaust")
    assert.has_error(function() tv.supervisor{ intensity = { max_restarts = 2 } } end,
      "tv.supervisor: 'intensity' needs both max_restarts and within (got no within)")
    assert.has_error(function()
      tv.task{ name = "x", run = function() end, intensity = { within = 1 } }
    end, "tv.task: 'intensity' needs both max_restarts and within (got no max_restarts)")
    assert.has_error(function()
      tv.task{ name = "x", run = function() end, intensity = { max_restarts = 1, within = 1 },
        on_exhausted = "explode" }
    end)
    assert.has_error(function() -- 0 is OTP's "no restart allowed" (otp_intensity_spec); -1 is no count
      tv.task{ name = "x", run = function() end, intensity = { max_restarts = -1, within = 1 } }
    end)
    assert.has_error(function()
      tv.task{ name = "x", run = function() end, intensity = { max_restarts = 1, within = 1, extra = 1 } }
    end)
  end)
end)

describe("a crash-looping process", function()
  local function looping(extra)
    local spec = { name = "crash", cmd = { "/bin/sh", "-c", "exit 3" }, restart = "always",
      backoff = { first = 0.01 }, intensity = { max_restarts = 5, within = 10 } }
    for k, v in pairs(extra or {}) do spec[k] = v end
    return tv.process(spec)
  end

  it("under intensity {5, 10s} ends with ActorExhausted after exactly 6 attempts", function()
    local events, r = run_tasks({ looping() })
    assert.is_true(r[1], r[2])
    assert.same(append(failed_attempts(6), "ActorExhausted#6", "TaskRemoved"), H.trace(events, "crash"))
    local ex = H.first(events, "ActorExhausted", "crash")
    assert.equal("restart intensity exceeded: more than 5 restarts within 10s (the task's budget)", ex.reason)
    assert.equal(3, ex.exit_code)
    for _, f in ipairs(H.only(events, "crash", "TaskFailed")) do
      assert.equal("execution failed: exited with code 3", f.reason)
      assert.equal(3, f.exit_code)
    end
    assert.same({ status = "exhausted", attempts = 6, reason = ex.reason, exit_code = 3 }, r[2].crash)
  end)

  it("/bin/false with escalate makes sup:run report ESCALATED", function()
    local events, r = run_tasks({ looping({ cmd = { "/bin/false" }, on_exhausted = "escalate" }) })
    assert.equal(6, H.count(events, "TaskStarting", "crash"))
    assert.is_nil(r[1])
    assert.equal("ESCALATED: task 'crash': restart intensity exceeded: more than 5 restarts within 10s "
      .. "(the task's budget); escalating to the supervisor", r[2])
    assert.equal("exhausted", r[4].crash.status)
    assert.equal(1, r[4].crash.exit_code)
  end)

  it("with escalate the host exits with status 3 and prints the ESCALATED reason", function()
    local out, status = H.host_run([[
      local tv = require("taskvisor")
      local sup = tv.supervisor{}
      local ok, err = sup:run({ tv.process{ name = "crash", cmd = { "/bin/sh", "-c", "exit 3" },
        restart = "always", backoff = { first = 0.01 }, intensity = { max_restarts = 5, within = 10 },
        on_exhausted = "escalate" } })
      print(ok, err)
    ]])
    assert.equal(3, status, out)
    assert.truthy(out:find("nil\tESCALATED: task 'crash': restart intensity exceeded: more than 5 "
      .. "restarts within 10s (the task's budget); escalating to the supervisor", 1, true), out)
  end)
end)

-- Erlang supervisor_SUITE's restart types, one task at top level each:
-- permanent = "always", transient = "on_failure", temporary = "never".
describe("restart types (supervisor_SUITE)", function()
  local function after_n(n, how)
    return function(ctx)
      if ctx.attempt >= n then ctx:sleep(5); return end -- parked, until shutdown
      if how == "fail" then error("abnormal", 0) end
    end
  end

  local function run_until_parked(spec, parked_at)
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    sup:subscribe(function(ev)
      if ev.kind == "TaskStarting" and ev.attempt == parked_at then sup:shutdown() end
    end)
    assert.is_true(sup:run({ spec }))
    return events
  end

  it("permanent (always) restarts after a normal exit", function()
    local events = run_until_parked(tv.task{ name = "p", restart = "always", run = after_n(3, "ok") }, 3)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "TaskStarting#2",
      "TaskStopped#2", "TaskStarting#3", "TaskStopped#3", "TaskRemoved" }, H.trace(events, "p"))
  end)

  it("permanent (always) restarts after an abnormal exit", function()
    local events = run_until_parked(tv.task{ name = "p", restart = "always", backoff = { first = 0.001 },
      run = after_n(2, "fail") }, 2)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskStopped#2", "TaskRemoved" }, H.trace(events, "p"))
  end)

  it("transient (on_failure) is not restarted after a normal exit", function()
    local events = run_tasks({ tv.task{ name = "t", restart = "on_failure", run = function() end } })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "t"))
  end)

  it("transient (on_failure) is restarted after an abnormal exit", function()
    local events = run_tasks({ tv.task{ name = "t", restart = "on_failure", backoff = { first = 0.001 },
      run = function(ctx) if ctx.attempt == 1 then error("abnormal", 0) end end } })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskStopped#2", "ActorExhausted#2", "TaskRemoved" }, H.trace(events, "t"))
  end)

  it("temporary (never) is restarted neither after a normal nor after an abnormal exit", function()
    local events, r = run_tasks({
      tv.task{ name = "ok", restart = "never", run = function() end },
      tv.task{ name = "bad", restart = "never", run = function() error("abnormal", 0) end },
    })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "ok"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "bad"))
    assert.equal("completed", r[2].ok.status)
    assert.equal("exhausted", r[2].bad.status)
  end)

  it("the same three types for processes (sh -c 'exit 0' / 'exit 1')", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    local gone, perm3 = 0, false
    sup:subscribe(function(ev) -- once trans and temp have ended and perm restarted twice
      if ev.task == "perm" and ev.kind == "TaskStarting" and ev.attempt == 3 then perm3 = true end
      if ev.kind == "TaskRemoved" and (ev.task == "trans" or ev.task == "temp") then gone = gone + 1 end
      if perm3 and gone == 2 and sup:state() == "open" then sup:shutdown() end
    end)
    assert.is_true(sup:run({
      tv.process{ name = "perm", cmd = { "/bin/sh", "-c", "exit 0" }, restart = "always" },
      tv.process{ name = "trans", cmd = { "/bin/sh", "-c", "exit 0" }, restart = "on_failure" },
      tv.process{ name = "temp", cmd = { "/bin/sh", "-c", "exit 1" }, restart = "never" },
    }))
    assert.is_true(H.count(events, "TaskStarting", "perm") >= 3)
    assert.equal(1, H.count(events, "TaskStarting", "trans"))
    assert.equal(1, H.count(events, "TaskStarting", "temp"))
    assert.equal("execution failed: exited with code 1", H.first(events, "ActorExhausted", "temp").reason)
  end)
end)
