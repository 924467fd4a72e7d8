-- otp_intensity_spec: intensity.max_restarts = 0 is OTP's "no restart
-- allowed" (the first restart exceeds the budget) for a task, a group and the
-- supervisor; math.huge is the explicit "no limit" (and overrides a
-- supervisor's defaults). Counted by attempts and exact event sequences.
local H = require("helpers")
local tv = H.tv

local function failing(name, extra)
  local spec = { name = name, restart = "always", backoff = { first = 0.001 },
    run = function() error("boom", 0) end }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return tv.task(spec)
end

-- Fails `n` times, then returns (under on_failure: ends).
local function fails_times(name, n, extra)
  local spec = { name = name, backoff = { first = 0.001 },
    run = function(ctx) if ctx.attempt <= n then error("boom " .. ctx.attempt, 0) end end }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return tv.task(spec)
end

describe("intensity.max_restarts = 0 (OTP: no restart allowed)", function()
  it("a task's budget of 0: the first failure ends it with ActorExhausted after one attempt", function()
    local events, r = H.run({ failing("a", { intensity = { max_restarts = 0, within = 10 } }) })
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "a"))
    assert.equal("restart intensity exceeded: more than 0 restarts within 10s (the task's budget)",
      H.first(events, "ActorExhausted", "a").reason)
  end)

  it("the supervisor's budget of 0: the first restart of any task escalates; run returns ESCALATED", function()
    local events, r = H.run({ failing("a"), H.cooperative("c") }, { intensity = { max_restarts = 0, within = 10 } })
    assert.is_nil(r[1])
    assert.matches("^ESCALATED: task 'a': restart intensity exceeded: more than 0 restarts", r[2])
    assert.equal(1, H.count(events, "TaskStarting", "a"))
    assert.equal(1, H.count(events, "Escalated"))
  end)

  it("a group's budget of 0: a child's first failure fails the group (children stopped)", function()
    local events, r = H.run({ tv.group({ name = "g", restart = "never", intensity = { max_restarts = 0, within = 5 },
      children = { H.cooperative("a"), failing("x") } }) })
    assert.is_true(r[1], r[2])
    assert.equal(1, H.count(events, "TaskStarting", "x"))
    assert.equal(1, H.count(events, "TaskStarting", "a"))
    local failed = H.first(events, "TaskFailed", "g")
    assert.equal("execution failed: restart intensity exceeded: more than 0 restarts within 5s "
      .. "(group 'g'); children stopped", failed.reason)
  end)
end)

describe("intensity.max_restarts = math.huge (no limit)", function()
  it("a group: 25 restarts of a child, no escalation (the old reading of 0)", function()
    local events, r = H.run({ tv.group({ name = "g", restart = "never", intensity = { max_restarts = math.huge },
      children = { fails_times("x", 25) } }) })
    assert.is_true(r[1], r[2])
    assert.equal(26, H.count(events, "TaskStarting", "x"))
    assert.equal(0, H.count(events, "TaskFailed", "g"))
    assert.equal("completed", r[2].g.status)
  end)

  it("a task's math.huge overrides the supervisor's defaults budget", function()
    local events, r = H.run({ fails_times("a", 5, { intensity = { max_restarts = math.huge } }), fails_times("b", 5) },
      { defaults = { intensity = { max_restarts = 1, within = 10 } } })
    assert.is_true(r[1], r[2])
    assert.equal(6, H.count(events, "TaskStarting", "a"))
    assert.equal(2, H.count(events, "TaskStarting", "b")) -- the defaults' budget of 1
    assert.equal("completed", r[2].a.status)
    assert.equal("exhausted", r[2].b.status)
  end)

  it("the supervisor's math.huge is no budget at all", function()
    local events, r = H.run({ fails_times("a", 10) }, { intensity = { max_restarts = math.huge } })
    assert.is_true(r[1], r[2])
    assert.equal(11, H.count(events, "TaskStarting", "a"))
    assert.equal(0, H.count(events, "Escalated"))
  end)
end)
