-- otp_shutdown_spec: per-task shutdown (OTP's shutdown => brutal_kill |
-- Timeout | infinity) for Lua tasks, processes and groups, within the
-- supervisor's grace. Stops are triggered by a task that starts after the
-- victim is up (`after`), never by the clock.
local H = require("helpers")
local tv = H.tv

-- A task that shuts `sup` down once `victim` is ready.
local function trigger(sup, victim)
  return tv.task({ name = "trigger", restart = "never", after = { victim },
    run = function() sup:shutdown() end })
end

local function stopped_reason(events, name)
  local ev = H.first(events, "TaskStopped", name)
  return ev and ev.reason
end

describe("shutdown = seconds", function()
  it("a stubborn Lua task is force-stopped at its own shutdown, well inside the grace", function()
    local sup = tv.supervisor({ grace = 60 })
    local events = H.collect(sup)
    local closed = {}
    local stub = H.stubborn("stub", { closed = closed })
    local t0 = tv.monotime()
    local ok, err = sup:run({
      tv.task({ name = "stub", restart = "never", shutdown = 0.2, run = stub.run }), trigger(sup, "stub") })
    assert.is_true(ok, err)
    assert.equal("force_stopped: did not stop within its shutdown (200ms)", stopped_reason(events, "stub"))
    assert.equal(1, H.count(events, "AllStoppedWithinGrace"))
    assert.equal(0, H.count(events, "GraceExceeded"))
    assert.is_true(closed.stub)
    assert.is_true(tv.monotime() - t0 < 30, "the grace (60 s) was waited for")
  end)

  it("a shutdown longer than the grace is cut by the grace (OTP has no shared grace; we do)", function()
    local sup = tv.supervisor({ grace = 0.2 })
    local events = H.collect(sup)
    local ok, err = sup:run({
      tv.task({ name = "stub", restart = "never", shutdown = 100, run = H.stubborn("stub").run }),
      trigger(sup, "stub") })
    assert.is_nil(ok) -- a stop the grace had to cut is what run reports
    assert.equal("GraceExceeded: shutdown timeout 200ms exceeded; stuck: stub", err)
    assert.equal("force_stopped: did not stop within its grace period", stopped_reason(events, "stub"))
    local ge = H.first(events, "GraceExceeded")
    assert.is_not_nil(ge)
    assert.matches("stub", ge.reason)
  end)

  it("a cooperative task stops by itself before its shutdown: a plain TaskStopped", function()
    local sup = tv.supervisor({ grace = 60 })
    local events = H.collect(sup)
    local saw_cancel = false
    local ok, err = sup:run({
      tv.task({ name = "coop", restart = "never", shutdown = 30, run = function(ctx)
        while ctx:sleep(10) do end
        saw_cancel = ctx:cancelled()
      end }), trigger(sup, "coop") })
    assert.is_true(ok, err)
    assert.is_true(saw_cancel)
    assert.is_nil(stopped_reason(events, "coop"))
    assert.equal(1, H.count(events, "TaskStopped", "coop"))
  end)

  it("removal honours it too: sup:remove of a stubborn task force-stops it at its shutdown", function()
    local sup = tv.supervisor({ grace = 60 })
    local events = H.collect(sup)
    local ok, err = sup:run({
      tv.task({ name = "stub", restart = "never", shutdown = 0.1, run = H.stubborn("stub").run }),
      tv.task({ name = "remover", restart = "never", after = { "stub" }, run = function()
        assert(sup:remove("stub"))
        sup:wait("stub")
      end }) })
    assert.is_true(ok, err)
    assert.equal("force_stopped: did not stop within its shutdown (100ms)", stopped_reason(events, "stub"))
    assert.equal("force_stopped", H.first(events, "TaskRemoved", "stub").reason)
  end)
end)

describe("shutdown = \"brutal_kill\"", function()
  it("a Lua task is not asked to stop: its coroutine is closed where it waits (<close> runs, nothing after its yield)", function()
    local sup = tv.supervisor({ grace = 60 })
    local events = H.collect(sup)
    local closed, after_yield = false, false
    local ok, err = sup:run({
      tv.task({ name = "victim", restart = "never", shutdown = "brutal_kill", run = function(ctx)
        local _ <close> = setmetatable({}, { __close = function() closed = true end })
        ctx:sleep(30)
        after_yield = true
      end }), trigger(sup, "victim") })
    assert.is_true(ok, err)
    assert.is_true(closed)
    assert.is_false(after_yield)
    assert.equal("force_stopped: shutdown = brutal_kill", stopped_reason(events, "victim"))
    assert.equal(1, H.count(events, "AllStoppedWithinGrace"))
  end)

  it("a task that shuts the supervisor down itself is killed after its call returns, not inside it", function()
    local sup = tv.supervisor({ grace = 60 })
    local events = H.collect(sup)
    local returned = false
    local ok, err = sup:run({
      tv.task({ name = "self", restart = "never", shutdown = "brutal_kill", run = function(ctx)
        sup:shutdown()
        returned = true
        ctx:sleep(30)
        error("not reached")
      end }) })
    assert.is_true(ok, err)
    assert.is_true(returned)
    assert.equal("force_stopped: shutdown = brutal_kill", stopped_reason(events, "self"))
    assert.equal(0, H.count(events, "TaskFailed", "self"))
  end)

  it("a process is SIGKILLed without its stop_signal", function()
    local sup = tv.supervisor({ grace = 60 })
    local events = H.collect(sup)
    local ok, err = sup:run({
      tv.process({ name = "p", restart = "never", shutdown = "brutal_kill",
        cmd = { "/bin/sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.05; done" } }),
      trigger(sup, "p") })
    assert.is_true(ok, err)
    assert.equal("force_stopped: shutdown = brutal_kill", stopped_reason(events, "p"))
    assert.equal(0, H.count(events, "GraceExceeded"))
  end)
end)

describe("shutdown on processes: OTP's name for stop_timeout", function()
  it("shutdown = s sets the stop window: a process ignoring SIGTERM is killed after it, not after the default 10 s", function()
    local sup = tv.supervisor({ grace = 60 })
    local events = H.collect(sup)
    local t0 = tv.monotime()
    local ok, err = sup:run({
      tv.process({ name = "p", restart = "never", shutdown = 0.2,
        cmd = { "/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.05; done" } }),
      trigger(sup, "p") })
    assert.is_true(ok, err)
    assert.equal(1, H.count(events, "TaskStopped", "p"))
    assert.equal(0, H.count(events, "GraceExceeded"))
    assert.is_true(tv.monotime() - t0 < 9, "waited for the default stop_timeout")
  end)

  it("the spec shows what was given; both names at once is an error", function()
    local p = tv.process({ name = "p", cmd = { "true" }, shutdown = 3 })
    assert.equal(3, p.shutdown)
    assert.equal(3, p.process.stop_timeout)
    assert.has_error(function() tv.process({ name = "p", cmd = { "true" }, shutdown = 3, stop_timeout = 2 }) end,
      "tv.process: give 'shutdown' or 'stop_timeout', not both ('shutdown' is OTP's name for the stop window stop_timeout sets)")
  end)
end)

describe("shutdown = \"infinity\" (the default)", function()
  it("only the grace bounds the stop", function()
    local sup = tv.supervisor({ grace = 0.2 })
    local events = H.collect(sup)
    local ok, err = sup:run({
      tv.task({ name = "stub", restart = "never", shutdown = "infinity", run = H.stubborn("stub").run }),
      trigger(sup, "stub") })
    assert.is_nil(ok)
    assert.equal("GraceExceeded: shutdown timeout 200ms exceeded; stuck: stub", err)
    assert.equal("force_stopped: did not stop within its grace period", stopped_reason(events, "stub"))
    assert.equal(1, H.count(events, "GraceExceeded"))
  end)
end)

describe("shutdown on a group's child", function()
  it("a one_for_all restart stops a stubborn sibling at its own shutdown (the group waits no longer)", function()
    local sup = tv.supervisor({ grace = 60 })
    local events = H.collect(sup)
    local ok, err = sup:run({
      tv.group({ name = "g", strategy = "one_for_all", restart = "never", intensity = { max_restarts = 1, within = 60 },
        children = {
          tv.task({ name = "stub", restart = "on_failure", shutdown = 0.1, run = H.stubborn("stub").run }),
          tv.task({ name = "crash", restart = "on_failure", backoff = { first = 0.001 }, run = function(ctx)
            if ctx.attempt == 1 then error("once", 0) end
            sup:shutdown()
          end }),
        } }) })
    assert.is_true(ok, err)
    assert.equal("force_stopped: did not stop within its shutdown (100ms)", stopped_reason(events, "stub"))
    assert.equal(2, H.count(events, "TaskStarting", "stub")) -- restarted with its sibling
  end)
end)
