-- events_spec.lua: the event envelope (seq, at, kind), the fields each kind
-- carries, and that every kind in tv.EVENT_KINDS can actually be observed
-- (reference semantics A9, README "Events").
local H = require("helpers")
local tv = H.tv

local REFERENCE_KINDS = {
  "SubscriberPanicked", "SubscriberOverflow", "ShutdownRequested", "AllStoppedWithinGrace",
  "GraceExceeded", "TaskStarting", "TaskStopped", "TaskFailed", "TimeoutHit", "BackoffScheduled",
  "TaskAddRequested", "TaskAdded", "TaskRemoveRequested", "TaskRemoved", "ActorExhausted", "ActorDead",
}

local DIAGNOSTIC = { SubscriberOverflow = true, SubscriberPanicked = true }

-- One run that exercises most kinds, computed once and shared by the tests:
--   ok      once, succeeds                      -> Starting/Stopped/ActorExhausted/Removed
--   retry   fails, max_retries = 1              -> TaskFailed, failure BackoffScheduled
--   slow    timeout under never                 -> TimeoutHit
--   fatal   tv.fatal with an exit code          -> ActorDead
--   tick    always + interval                   -> success BackoffScheduled
--   victim  cancelled by the controller          -> TaskRemoveRequested (manual_cancel)
--   control duplicate add, cancel, then shutdown -> TaskAddFailed, ShutdownRequested, AllStopped
--   subscriber "bad" raises once                 -> SubscriberPanicked
--   subscriber "tiny" has queue = 1 and is slow -> SubscriberOverflow
local rich
local function rich_run()
  if rich then return rich end
  local r = { calls = {}, tiny = {}, bad = {} }
  local sup = tv.supervisor{ grace = 2 }
  r.events = H.collect(sup)
  r.events2 = H.collect(sup, { name = "collector2" })
  assert(sup:subscribe{ name = "bad", on_event = function(ev)
    r.bad[#r.bad + 1] = ev
    if ev.kind == "TaskAdded" and ev.task == "ok" then error("subscriber boom", 0) end
  end })
  assert(sup:subscribe{ name = "tiny", queue = 1, on_event = function(ev)
    r.tiny[#r.tiny + 1] = ev
    tv.sleep(0.002)
  end })
  local function call(name, ...) r.calls[name] = table.pack(...) end
  r.os_time_before = os.time()
  assert(sup:run({
    tv.once("ok", function() end),
    tv.restartable("retry", function() error("boom", 0) end,
      { max_retries = 1, backoff = { first = 0.01 } }),
    tv.task{ name = "slow", restart = "never", timeout = 0.03, run = function(ctx) ctx:sleep(5) end },
    tv.task{ name = "fatal", restart = "always", run = function() tv.fatal("dead end", 9) end },
    tv.task{ name = "tick", restart = "always", interval = 0.01, run = function() end },
    tv.task{ name = "victim", run = function(ctx) ctx:sleep(5) end },
    tv.once("control", function(ctx)
      ctx:sleep(0.05)
      call("dup", sup:add(tv.once("victim", function() end)))
      call("cancel", sup:cancel("victim"))
      ctx:sleep(0.05)
      call("shutdown", sup:shutdown())
      call("shutdown_again", sup:shutdown())
    end),
  }))
  r.os_time_after = os.time()
  rich = r
  return r
end

-- A shutdown that has to force-stop a task ignoring cancellation.
local stuck
local function stuck_run()
  if stuck then return stuck end
  local r = {}
  local sup = tv.supervisor{ grace = 0.1 }
  r.events = H.collect(sup)
  sup:add(tv.task{ name = "stubborn", run = function(ctx)
    while true do ctx:sleep(0.01) end
  end })
  sup:add(H.stopper(sup, 0.02))
  local t0 = tv.monotime()
  r.ret = table.pack(sup:run())
  r.took = tv.monotime() - t0
  stuck = r
  return r
end

-- The fields of `ev` besides seq, at and kind, as a sorted list.
local function extra_fields(ev)
  local out = {}
  for k in pairs(ev) do
    if k ~= "seq" and k ~= "at" and k ~= "kind" then out[#out + 1] = k end
  end
  table.sort(out)
  return out
end

-- The fields each kind must carry, and those it may carry (README "Events").
local FIELDS = {
  TaskAddRequested = { required = { "task" } },
  TaskAdded = { required = { "task" } },
  TaskAddFailed = { required = { "reason", "task" } },
  TaskStarting = { required = { "attempt", "task" } },
  TaskStopped = { required = { "attempt", "task" }, optional = { "reason" } },
  TaskFailed = { required = { "attempt", "reason", "task" }, optional = { "exit_code", "traceback" } },
  TimeoutHit = { required = { "attempt", "task", "timeout_ms" } },
  BackoffScheduled = { required = { "attempt", "backoff_source", "delay_ms", "task" }, optional = { "reason" } },
  ActorExhausted = { required = { "attempt", "reason", "task" }, optional = { "exit_code" } },
  ActorDead = { required = { "attempt", "reason", "task" }, optional = { "exit_code" } },
  TaskRemoveRequested = { required = { "task" }, optional = { "reason" } },
  TaskRemoved = { required = { "task" }, optional = { "reason" } },
  ShutdownRequested = { required = { "reason" } },
  AllStoppedWithinGrace = { required = {} },
  GraceExceeded = { required = { "reason" } },
  SubscriberOverflow = { required = { "reason", "task" } },
  SubscriberPanicked = { required = { "reason", "task", "traceback" } },
}

local function check_fields(ev)
  local spec = assert(FIELDS[ev.kind], "no field spec for " .. tostring(ev.kind))
  local allowed = {}
  for _, f in ipairs(spec.required) do
    assert.is_not_nil(ev[f], string.format("%s #%d lacks '%s'", ev.kind, ev.seq, f))
    allowed[f] = true
  end
  for _, f in ipairs(spec.optional or {}) do allowed[f] = true end
  for _, f in ipairs(extra_fields(ev)) do
    assert.is_true(allowed[f] == true, string.format("%s #%d has unexpected field '%s'", ev.kind, ev.seq, f))
  end
end

describe("event envelope", function()
  it("every event has an integer seq, a number `at` close to os.time() and a kind listed in tv.EVENT_KINDS", function()
    local r = rich_run()
    assert.is_true(#r.events > 30)
    for _, ev in ipairs(r.events) do
      assert.equal("integer", math.type(ev.seq))
      assert.is_true(ev.seq >= 1)
      assert.is_number(ev.at)
      assert.is_true(ev.at >= r.os_time_before - 3 and ev.at <= r.os_time_after + 3,
        string.format("at = %s is not within a few seconds of os.time() (%d..%d)",
          tostring(ev.at), r.os_time_before, r.os_time_after))
      assert.is_string(ev.kind)
      assert.is_true(H.contains(tv.EVENT_KINDS, ev.kind), "unknown kind " .. tostring(ev.kind))
    end
  end)

  it("`at` has sub-second resolution (not whole seconds only)", function()
    local r = rich_run()
    local fractional = false
    for _, ev in ipairs(r.events) do
      if ev.at ~= math.floor(ev.at) then fractional = true end
    end
    assert.is_true(fractional)
  end)

  it("seq strictly increases in delivery order within one subscriber", function()
    local r = rich_run()
    for _, list in ipairs({ r.events, r.events2, r.bad }) do
      assert.is_true(#list > 0)
      for i = 2, #list do
        assert.is_true(list[i].seq > list[i - 1].seq,
          string.format("seq %d delivered after %d", list[i].seq, list[i - 1].seq))
      end
    end
  end)

  it("two subscribers with room receive the same events in the same order", function()
    local r = rich_run()
    local a, b = {}, {}
    for i, ev in ipairs(r.events) do a[i] = ev.seq .. ev.kind end
    for i, ev in ipairs(r.events2) do b[i] = ev.seq .. ev.kind end
    assert.same(a, b)
  end)

  it("in a fresh process the first event has seq 1 and seqs run 1, 2, 3, ... without gaps", function()
    local out, status = H.host_run([[
      local tv = require("taskvisor")
      local sup = tv.supervisor{}
      sup:subscribe(function(ev) print("EV", ev.seq, ev.kind) end)
      assert(sup:run({ tv.once("a", function() end) }))
    ]])
    assert.equal(0, status, out)
    local seqs, kinds = {}, {}
    for seq, kind in out:gmatch("EV\t(%d+)\t(%a+)") do
      seqs[#seqs + 1] = tonumber(seq)
      kinds[#kinds + 1] = kind
    end
    assert.same({ 1, 2, 3, 4, 5, 6 }, seqs)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting", "TaskStopped", "ActorExhausted",
      "TaskRemoved" }, kinds)
  end)

  it("seq is process-wide: a second supervisor in the same process continues after the first", function()
    local out, status = H.host_run([[
      local tv = require("taskvisor")
      for i = 1, 2 do
        local sup = tv.supervisor{}
        sup:subscribe(function(ev) print("EV" .. i, ev.seq) end)
        assert(sup:run({ tv.once("a", function() end) }))
      end
    ]])
    assert.equal(0, status, out)
    local first, second = {}, {}
    for i, seq in out:gmatch("EV(%d)\t(%d+)") do
      local list = i == "1" and first or second
      list[#list + 1] = tonumber(seq)
    end
    assert.same({ 1, 2, 3, 4, 5, 6 }, first)
    assert.same({ 7, 8, 9, 10, 11, 12 }, second)
  end)
end)

describe("fields of each kind", function()
  it("every event carries exactly the fields its kind allows (README table)", function()
    local r, s = rich_run(), stuck_run()
    for _, list in ipairs({ r.events, s.events }) do
      for _, ev in ipairs(list) do check_fields(ev) end
    end
  end)

  it("TaskStarting and TaskStopped carry the task and the attempt number", function()
    local r = rich_run()
    local starting = H.first(r.events, "TaskStarting", "ok")
    assert.same({ "attempt", "task" }, extra_fields(starting))
    assert.equal(1, starting.attempt)
    assert.equal("integer", math.type(starting.attempt))
    local stopped = H.first(r.events, "TaskStopped", "ok")
    assert.same({ "attempt", "task" }, extra_fields(stopped))
    assert.equal(1, stopped.attempt)
    local second = H.only(r.events, "tick", "TaskStopped")[2]
    assert.equal(2, second.attempt)
  end)

  it("TaskFailed carries task, attempt and reason (plus a traceback for a raised error)", function()
    local r = rich_run()
    local f = H.only(r.events, "retry", "TaskFailed")
    assert.equal(2, #f)
    assert.equal("retry", f[1].task)
    assert.equal(1, f[1].attempt)
    assert.equal(2, f[2].attempt)
    assert.equal("execution failed: boom", f[1].reason)
    assert.is_string(f[1].traceback)
    assert.is_nil(f[1].exit_code)
  end)

  it("TimeoutHit carries task, attempt and timeout_ms as whole milliseconds", function()
    local r = rich_run()
    local t = H.first(r.events, "TimeoutHit", "slow")
    assert.same({ "attempt", "task", "timeout_ms" }, extra_fields(t))
    assert.equal(30, t.timeout_ms)
    assert.equal("integer", math.type(t.timeout_ms))
    assert.equal(1, t.attempt)
  end)

  it("BackoffScheduled carries delay_ms and backoff_source, and a reason only after a failure", function()
    local r = rich_run()
    local fail = H.first(r.events, "BackoffScheduled", "retry")
    assert.same({ "attempt", "backoff_source", "delay_ms", "reason", "task" }, extra_fields(fail))
    assert.equal("failure", fail.backoff_source)
    assert.equal(10, fail.delay_ms)
    assert.equal("integer", math.type(fail.delay_ms))
    assert.equal("execution failed: boom", fail.reason)
    local succ = H.first(r.events, "BackoffScheduled", "tick")
    assert.same({ "attempt", "backoff_source", "delay_ms", "task" }, extra_fields(succ))
    assert.equal("success", succ.backoff_source)
    assert.equal(10, succ.delay_ms)
  end)

  it("ActorDead carries task, attempt, the fatal reason and the exit code", function()
    local r = rich_run()
    local d = H.first(r.events, "ActorDead", "fatal")
    assert.same({ "attempt", "exit_code", "reason", "task" }, extra_fields(d))
    assert.equal("fatal error (no retry): dead end", d.reason)
    assert.equal(9, d.exit_code)
    assert.equal("integer", math.type(d.exit_code))
  end)

  it("sup:cancel publishes TaskRemoveRequested with reason manual_cancel, then TaskStopped and TaskRemoved", function()
    local r = rich_run()
    assert.is_true(r.calls.cancel[1])
    local rr = H.first(r.events, "TaskRemoveRequested", "victim")
    assert.same({ "reason", "task" }, extra_fields(rr))
    assert.equal("manual_cancel", rr.reason)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskAddRequested", "TaskAddFailed",
      "TaskRemoveRequested", "TaskStopped#1", "TaskRemoved" }, H.trace(r.events, "victim"))
  end)

  it("sup:remove publishes TaskRemoveRequested without a reason (only cancel says manual_cancel, as the reference)", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert(sup:add(tv.task({ name = "r", run = function(ctx) ctx:sleep(10) end })))
    assert(sup:add(tv.once("remover", function(ctx) ctx:sleep(0.02); assert(sup:remove("r")) end)))
    assert.is_true(sup:run())
    local rr = H.first(events, "TaskRemoveRequested", "r")
    assert.same({ "task" }, extra_fields(rr))
  end)

  it("a duplicate add returns EEXIST and publishes TaskAddFailed with reason already_exists", function()
    local r = rich_run()
    assert.is_nil(r.calls.dup[1])
    assert.matches("^EEXIST: ", r.calls.dup[2])
    local f = H.first(r.events, "TaskAddFailed", "victim")
    assert.same({ "reason", "task" }, extra_fields(f))
    assert.equal("already_exists", f.reason)
    -- the running task was not disturbed: still exactly one attempt
    assert.equal(1, H.count(r.events, "TaskStarting", "victim"))
  end)

  it("sup:shutdown() returns true, then ESHUTDOWN, and publishes one ShutdownRequested with reason requested", function()
    local r = rich_run()
    assert.is_true(r.calls.shutdown[1])
    assert.is_nil(r.calls.shutdown_again[1])
    assert.matches("^ESHUTDOWN: ", r.calls.shutdown_again[2])
    local s = H.only(r.events, nil, "ShutdownRequested")
    assert.equal(1, #s)
    assert.same({ "reason" }, extra_fields(s[1]))
    assert.equal("requested", s[1].reason)
    assert.is_nil(s[1].task)
  end)

  it("after ShutdownRequested the running tasks stop, and AllStoppedWithinGrace comes last with no fields", function()
    local r = rich_run()
    local kinds = H.trace(r.events)
    -- the collectors see the diagnostics of the slow subscriber too; skip them
    local i = #r.events
    while DIAGNOSTIC[r.events[i].kind] do i = i - 1 end
    local last = r.events[i]
    assert.equal("AllStoppedWithinGrace", last.kind)
    assert.same({}, extra_fields(last))
    assert.equal(1, H.count(r.events, "AllStoppedWithinGrace"))
    assert.is_true(H.contains(kinds, "ShutdownRequested"))
    -- tick was still restarting at shutdown: it ends with TaskStopped then TaskRemoved
    local tick = H.trace(r.events, "tick")
    assert.equal("TaskRemoved", tick[#tick])
  end)
end)

describe("every kind is listed and observable", function()
  it("tv.EVENT_KINDS lists all 16 reference kinds, plus TaskAddFailed, each once", function()
    for _, k in ipairs(REFERENCE_KINDS) do
      assert.is_true(H.contains(tv.EVENT_KINDS, k), k .. " missing from tv.EVENT_KINDS")
    end
    assert.is_true(H.contains(tv.EVENT_KINDS, "TaskAddFailed"))
    local seen = {}
    for _, k in ipairs(tv.EVENT_KINDS) do
      assert.is_nil(seen[k], "duplicate kind " .. k)
      seen[k] = true
    end
  end)

  it("each of the 16 reference kinds and TaskAddFailed is observed in the two scenarios", function()
    local r, s = rich_run(), stuck_run()
    local seen = {}
    for _, list in ipairs({ r.events, s.events }) do
      for _, ev in ipairs(list) do seen[ev.kind] = true end
    end
    local missing = {}
    for _, k in ipairs(REFERENCE_KINDS) do
      if not seen[k] then missing[#missing + 1] = k end
    end
    if not seen.TaskAddFailed then missing[#missing + 1] = "TaskAddFailed" end
    assert.same({}, missing)
  end)

  it("a subscriber that raises publishes SubscriberPanicked (task = subscriber, reason, traceback) and keeps receiving", function()
    local r = rich_run()
    local p = H.only(r.events, "bad", "SubscriberPanicked")
    assert.equal(1, #p)
    assert.equal("subscriber boom", p[1].reason)
    assert.is_string(p[1].traceback)
    assert.truthy(p[1].traceback:find("stack traceback", 1, true))
    -- it went on receiving events published after the one it raised on
    local raised_at
    for i, ev in ipairs(r.bad) do
      if ev.kind == "TaskAdded" and ev.task == "ok" then raised_at = i end
    end
    assert.is_not_nil(raised_at)
    assert.is_true(#r.bad > raised_at + 10)
    assert.equal("AllStoppedWithinGrace", (function()
      for i = #r.bad, 1, -1 do
        if not DIAGNOSTIC[r.bad[i].kind] then return r.bad[i].kind end
      end
    end)())
  end)

  it("a subscriber with queue = 1 facing a burst gets SubscriberOverflow 'subscriber=tiny reason=full'", function()
    local r = rich_run()
    local o = H.only(r.events, "tiny", "SubscriberOverflow")
    assert.is_true(#o > 0)
    for _, ev in ipairs(o) do
      assert.equal("subscriber=tiny reason=full", ev.reason)
    end
    -- and the other subscribers lost nothing
    assert.equal(0, H.count(r.events, "SubscriberOverflow", "collector"))
    assert.equal(0, H.count(r.events, "SubscriberOverflow", "collector2"))
    assert.equal(0, H.count(r.events, "SubscriberOverflow", "bad"))
  end)

  it("SubscriberOverflow is published once per dropped non-diagnostic event, never about a dropped diagnostic", function()
    local r = rich_run()
    local got = {}
    for _, ev in ipairs(r.tiny) do got[ev.seq] = true end
    local dropped_plain = 0
    for _, ev in ipairs(r.events) do
      if not got[ev.seq] and not DIAGNOSTIC[ev.kind] then dropped_plain = dropped_plain + 1 end
    end
    assert.is_true(dropped_plain > 0)
    assert.equal(dropped_plain, H.count(r.events, "SubscriberOverflow", "tiny"))
  end)

  it("a task ignoring cancellation with grace = 0.1 is force-stopped, GraceExceeded names it and run returns the stuck list", function()
    local s = stuck_run()
    assert.is_nil(s.ret[1])
    assert.matches("^GraceExceeded: ", s.ret[2])
    assert.truthy(s.ret[2]:find("stubborn", 1, true))
    assert.same({ "stubborn" }, s.ret[3])
    assert.is_true(s.took >= 0.09, "force-stopped before the grace period")
    local g = H.only(s.events, nil, "GraceExceeded")
    assert.equal(1, #g)
    assert.truthy(g[1].reason:find("stubborn", 1, true))
    assert.equal(0, H.count(s.events, "AllStoppedWithinGrace"))
    local trace = H.trace(s.events, "stubborn")
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "TaskRemoved" }, trace)
    assert.matches("^force_stopped", H.first(s.events, "TaskStopped", "stubborn").reason)
    assert.equal("force_stopped", H.first(s.events, "TaskRemoved", "stubborn").reason)
    assert.equal("GraceExceeded", s.events[#s.events].kind)
  end)
end)

-- Events are read-only objects whose fields are read on demand (levent.c),
-- not tables built per delivery: what a subscriber can rely on.
describe("event objects", function()
  it("a kept event reads the same fields later, after the supervisor is gone and a full GC", function()
    local kept, snapshot = {}, {}
    do
      local sup = tv.supervisor({ grace = 2 })
      assert(sup:subscribe(function(ev)
        kept[#kept + 1] = ev
        local copy = {}
        for k, v in pairs(ev) do copy[k] = v end -- what it holds at delivery
        snapshot[#snapshot + 1] = copy
      end))
      assert(sup:run({ tv.task({ name = "flaky", restart = "on_failure", max_retries = 1,
        backoff = { first = 0.001, max = 0.001 }, run = function() error("boom") end }) }))
    end
    collectgarbage()
    collectgarbage()
    assert.is_true(#kept >= 8)
    for i, ev in ipairs(kept) do
      local later = {}
      for k, v in pairs(ev) do later[k] = v end
      assert.same(snapshot[i], later)
      for k, v in pairs(snapshot[i]) do assert.equal(v, ev[k], k) end
    end
    local failed = H.first(kept, "TaskFailed", "flaky")
    assert.equal(1, failed.attempt)
    assert.matches("boom", failed.reason)
    assert.is_string(failed.traceback)
    assert.equal("failure", H.first(kept, "BackoffScheduled", "flaky").backoff_source)
  end)

  it("pairs lists seq, at, kind, then every field the event carries, in the documented order; absent and unknown fields are nil", function()
    local r = rich_run()
    local order = { "seq", "at", "kind", "task", "attempt", "reason", "timeout_ms", "delay_ms",
      "backoff_source", "exit_code", "traceback", "slot", "signal", "stream", "line", "file",
      "bytes", "pid", "killed" }
    local rank = {}
    for i, k in ipairs(order) do rank[k] = i end
    for _, ev in ipairs(r.events) do
      local keys = {}
      for k, v in pairs(ev) do
        assert.is_not_nil(rank[k], "unexpected key " .. tostring(k))
        assert.equal(v, ev[k])
        keys[#keys + 1] = k
      end
      assert.same({ "seq", "at", "kind" }, { keys[1], keys[2], keys[3] })
      for i = 2, #keys do assert.is_true(rank[keys[i]] > rank[keys[i - 1]]) end
      for _, k in ipairs(order) do
        if not H.contains(keys, k) then assert.is_nil(ev[k], k) end
      end
      assert.is_nil(ev.nope)
      assert.is_nil(ev[1])
      assert.is_nil(ev[ev])
    end
    local added = H.first(r.events, "TaskAdded")
    assert.is_nil(added.reason)
    assert.is_nil(added.attempt)
  end)

  it("is read-only: setting a field raises a clear error, and tostring names it", function()
    local events = H.run({ tv.once("a", function() end) })
    local ev = events[1]
    local ok, err = pcall(function() ev.note = 1 end)
    assert.is_false(ok)
    assert.matches("events are read%-only %(setting 'note'%)", err)
    assert.is_nil(ev.note)
    assert.equal("taskvisor.event", getmetatable(ev))
    assert.matches("^event %d+ TaskAddRequested$", tostring(ev))
  end)
end)
