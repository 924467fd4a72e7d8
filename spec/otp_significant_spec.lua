-- otp_significant_spec: significant children and auto_shutdown (OTP 24's
-- any_significant / all_significant) for groups and the supervisor: the
-- AutoShutdown event, the reverse stop order of the rest, the outcomes, and
-- what does not count (a child stopped by someone, a restarted failure).
-- Scenarios after supervisor_SUITE's significant_* cases.
local H = require("helpers")
local tv = H.tv

local function worker(name) return H.cooperative(name, "always") end

-- A significant task that ends once `until_alive` runs (polling the state, no clock bound).
local function ends_once(sup, name, until_alive, opts)
  local spec = { name = name, restart = "never", significant = true, run = function(ctx)
    while until_alive and not sup:is_alive(until_alive) do ctx:sleep(0.005) end
  end }
  for k, v in pairs(opts or {}) do spec[k] = v end
  return tv.task(spec)
end

-- "Kind task" of the lifecycle events that tell the story (no BackoffScheduled, readiness, adds).
local STORY = { TaskStopped = true, TaskRemoved = true, AutoShutdown = true, ShutdownRequested = true,
  TaskFailed = true, ActorExhausted = true }
local function story(events)
  local out = {}
  for _, ev in ipairs(events) do
    if STORY[ev.kind] then out[#out + 1] = ev.kind .. (ev.task and (" " .. ev.task) or "") end
  end
  return out
end

describe("a group's auto_shutdown", function()
  it("any_significant: the significant child's end stops the rest in reverse order; the group completes", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local ok, out = sup:run({ tv.group({ name = "g", auto_shutdown = "any_significant", children = {
      worker("a"), ends_once(sup, "s", "c"), worker("c") } }) })
    assert.is_true(ok, out)
    assert.same({ "TaskStopped s", "ActorExhausted s", "TaskRemoved s", "AutoShutdown g", "TaskStopped c", "TaskRemoved c",
      "TaskStopped a", "TaskRemoved a", "TaskStopped g", "ActorExhausted g", "TaskRemoved g" }, story(events))
    local auto = H.first(events, "AutoShutdown", "g")
    assert.equal("auto_shutdown = any_significant: significant child 's' ended (completed)", auto.reason)
    assert.equal(1, auto.attempt)
    assert.equal("completed", out.g.status)
    assert.equal("completed", out.s.status)
    assert.equal("cancelled", out.a.status)
    assert.equal("cancelled", out.c.status)
  end)

  it("all_significant: only the last significant child's end shuts the group down", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local ok, out = sup:run({ tv.group({ name = "g", auto_shutdown = "all_significant", children = {
      worker("w"), ends_once(sup, "s1", "s2"),
      tv.task({ name = "s2", restart = "never", significant = true, run = function(ctx)
        while sup:contains("s1") do ctx:sleep(0.005) end -- ends after s1 is gone
      end }) } }) })
    assert.is_true(ok, out)
    assert.equal(1, H.count(events, "AutoShutdown"))
    assert.is_true(H.index(events, "TaskRemoved", "s1") < H.index(events, "TaskRemoved", "s2"))
    assert.is_true(H.index(events, "TaskRemoved", "s2") < H.index(events, "AutoShutdown", "g"))
    assert.equal("auto_shutdown = all_significant: significant child 's2' ended (completed); no significant child "
      .. "is left", H.first(events, "AutoShutdown", "g").reason)
    assert.equal("cancelled", out.w.status)
    assert.equal("completed", out.g.status)
  end)

  it("a transient (on_failure) significant child that fails is restarted, not counted; its normal end is", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local ok, out = sup:run({ tv.group({ name = "g", auto_shutdown = "any_significant", children = {
      worker("w"),
      tv.task({ name = "t", restart = "on_failure", significant = true, backoff = { first = 0.001 },
        run = function(ctx) if ctx.attempt == 1 then error("once", 0) end end }) } }) })
    assert.is_true(ok, out)
    assert.equal(2, H.count(events, "TaskStarting", "t"))
    assert.equal(1, H.count(events, "TaskStarting", "w")) -- one_for_one: the bystander kept running
    assert.equal(1, H.count(events, "AutoShutdown", "g"))
    assert.is_true(H.index(events, "TaskFailed", "t") < H.index(events, "AutoShutdown", "g"))
  end)

  it("a temporary (never) significant child that fails counts too (ended: exhausted)", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local ok, out = sup:run({ tv.group({ name = "g", auto_shutdown = "any_significant", children = {
      worker("w"), tv.task({ name = "t", restart = "never", significant = true, run = function() error("x", 0) end }) } }) })
    assert.is_true(ok, out)
    assert.equal("auto_shutdown = any_significant: significant child 't' ended (exhausted)",
      H.first(events, "AutoShutdown", "g").reason)
  end)

  it("a significant child stopped by someone (sup:remove) does not shut the group down", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local ok, out = sup:run({
      tv.group({ name = "g", auto_shutdown = "any_significant", children = {
        worker("w"), tv.task({ name = "s", restart = "never", significant = true,
          run = function(ctx) while ctx:sleep(0.01) do end end }) } }),
      tv.task({ name = "remover", restart = "never", after = { "g" }, run = function()
        assert(sup:remove("s"))
        sup:wait("s")
        assert(sup:is_alive("w"), "the group went on")
        sup:shutdown()
      end }) })
    assert.is_true(ok, out)
    assert.equal(0, H.count(events, "AutoShutdown"))
    assert.equal("cancelled", out.g.status)
  end)

  it("auto_shutdown under one_for_all: the significant child's end is not a restart of its siblings", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local ok, out = sup:run({ tv.group({ name = "g", strategy = "one_for_all", auto_shutdown = "any_significant",
      children = { worker("a"), ends_once(sup, "s", "a") } }) })
    assert.is_true(ok, out)
    assert.equal(1, H.count(events, "TaskStarting", "a"))
    assert.equal(1, H.count(events, "AutoShutdown", "g"))
  end)
end)

describe("the supervisor's auto_shutdown", function()
  it("any_significant: a significant top-level task's end shuts the run down gracefully; run returns true + outcomes", function()
    local sup = tv.supervisor({ grace = 30, auto_shutdown = "any_significant" })
    local events = H.collect(sup)
    local ok, out = sup:run({ worker("w"), ends_once(sup, "s", "w") })
    assert.is_true(ok, out)
    local auto = H.first(events, "AutoShutdown")
    assert.is_nil(auto.task)
    assert.equal("auto_shutdown = any_significant: significant child 's' ended (completed)", auto.reason)
    assert.equal("auto_shutdown", H.first(events, "ShutdownRequested").reason)
    assert.is_true(H.index(events, "TaskRemoved", "s") < H.index(events, "AutoShutdown"))
    assert.is_true(H.index(events, "AutoShutdown") < H.index(events, "ShutdownRequested"))
    assert.equal("completed", out.s.status)
    assert.equal("cancelled", out.w.status)
    assert.equal(1, H.count(events, "AllStoppedWithinGrace"))
  end)

  it("all_significant: the run goes on until the last significant task ended", function()
    local sup = tv.supervisor({ grace = 30, auto_shutdown = "all_significant" })
    local events = H.collect(sup)
    local ok, out = sup:run({ worker("w"), ends_once(sup, "s1", "w"),
      tv.task({ name = "s2", restart = "never", significant = true, run = function(ctx)
        while sup:contains("s1") do ctx:sleep(0.005) end
      end }) })
    assert.is_true(ok, out)
    assert.equal(1, H.count(events, "AutoShutdown"))
    assert.is_true(H.index(events, "TaskRemoved", "s2") < H.index(events, "AutoShutdown"))
    assert.matches("child 's2' ended", H.first(events, "AutoShutdown").reason)
  end)

  it("cascades: a significant group that auto-shuts down ends the supervisor too", function()
    local sup = tv.supervisor({ grace = 30, auto_shutdown = "any_significant" })
    local events = H.collect(sup)
    local ok, out = sup:run({ worker("top"), tv.group({ name = "g", significant = true, auto_shutdown = "any_significant",
      children = { worker("inner"), ends_once(sup, "s", "inner") } }) })
    assert.is_true(ok, out)
    assert.equal(2, H.count(events, "AutoShutdown"))
    assert.equal("g", H.only(events, nil, "AutoShutdown")[1].task)
    assert.matches("significant child 'g' ended %(completed%)", H.only(events, nil, "AutoShutdown")[2].reason)
    assert.equal("cancelled", out.top.status)
  end)

  it("never (the default) refuses a significant top-level task: ENOTSUP, and the run goes on", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local added, err
    local ok, out = sup:run({ tv.task({ name = "t", restart = "never", run = function()
      added, err = sup:add(tv.task({ name = "s", restart = "never", significant = true, run = function() end }))
    end }) })
    assert.is_true(ok, out)
    assert.is_nil(added)
    assert.equal("ENOTSUP: task 's' is significant but its parent's auto_shutdown is \"never\" (OTP refuses "
      .. "such a child: set auto_shutdown = \"any_significant\" or \"all_significant\")", err)
    assert.equal(1, H.count(events, "TaskAddFailed", "s"))
  end)
end)
