-- spec/subscriber_spec.lua: subscribers (functions and {name, on_event,
-- queue} tables), their bounded per-subscriber queues, SubscriberOverflow and
-- SubscriberPanicked diagnostics, draining before run() returns, and the
-- LogWriter line format (reference A13).
local H = require("helpers")
local tv = H.tv

local function now() return tv.monotime() end

local DIAGNOSTIC = { SubscriberOverflow = true, SubscriberPanicked = true }

local function seqs(events)
  local out = {}
  for i, ev in ipairs(events) do out[i] = ev.seq end
  return out
end

local kinds = H.kinds

local function non_diagnostic(events)
  local out = {}
  for _, ev in ipairs(events) do
    if not DIAGNOSTIC[ev.kind] then out[#out + 1] = ev end
  end
  return out
end

local function strictly_increasing(list)
  for i = 2, #list do
    if list[i] <= list[i - 1] then return false end
  end
  return true
end

-- A one-shot task that succeeds after a short sleep.
local function quick(name)
  return tv.once(name, function(ctx) ctx:sleep(0.01) end)
end

local ONE_SHOT = { "TaskAddRequested", "TaskAdded", "TaskStarting", "TaskStopped",
  "ActorExhausted", "TaskRemoved" }

describe("subscribers", function()
  it("a function subscriber and a {name, on_event, queue} subscriber both receive every "
    .. "event in order", function()
    local sup = tv.supervisor({ grace = 2 })
    local by_fn, by_table = {}, {}
    assert.is_true(sup:subscribe(function(ev) by_fn[#by_fn + 1] = ev end))
    assert.is_true(sup:subscribe({ name = "tabled", queue = 64,
      on_event = function(ev) by_table[#by_table + 1] = ev end }))
    assert(sup:add(quick("a")))
    assert(sup:add(quick("b")))
    assert.is_true(sup:run())
    assert.same(ONE_SHOT, kinds(H.only(by_fn, "a")))
    assert.same(ONE_SHOT, kinds(H.only(by_fn, "b")))
    assert.equal(12, #by_fn)
    assert.is_true(strictly_increasing(seqs(by_fn)))
    assert.same(seqs(by_fn), seqs(by_table))
    assert.same(kinds(by_fn), kinds(by_table))
    -- events are read-only event objects with the documented fields
    local starting = H.first(by_table, "TaskStarting", "a")
    assert.equal("userdata", type(starting))
    assert.equal(1, starting.attempt)
    assert.equal("number", type(starting.at))
    assert.equal("ActorExhausted", H.first(by_fn, "ActorExhausted", "b").kind)
    assert.equal("policy_exhausted_success", H.first(by_fn, "ActorExhausted", "b").reason)
  end)

  it("a subscriber sees only events published after it subscribed", function()
    local sup = tv.supervisor({ grace = 2 })
    local early = H.collect(sup, { name = "early" })
    assert(sup:add(quick("before")))
    local after_add = {}
    assert(sup:subscribe({ name = "after_add", on_event = function(ev)
      after_add[#after_add + 1] = ev
    end }))
    local from_task, first_seq_at_subscribe = {}, nil
    assert(sup:add(tv.once("subscriber-maker", function(ctx)
      ctx:sleep(0.05)
      first_seq_at_subscribe = early[#early].seq
      assert(sup:subscribe({ name = "late", on_event = function(ev)
        from_task[#from_task + 1] = ev
      end }))
      assert(sup:add(quick("after")))
    end)))
    assert.is_true(sup:run())
    -- subscribed after sup:add("before"): no TaskAddRequested/TaskAdded for it
    assert.same({ "TaskStarting", "TaskStopped", "ActorExhausted", "TaskRemoved" },
      kinds(H.only(after_add, "before")))
    -- subscribed from a task at 50 ms: nothing of "before", everything of "after"
    assert.equal(0, #H.only(from_task, "before"))
    assert.same(ONE_SHOT, kinds(H.only(from_task, "after")))
    assert.is_true(from_task[1].seq > first_seq_at_subscribe)
    assert.equal("TaskAddRequested", from_task[1].kind)
    assert.equal("after", from_task[1].task)
    -- and it then got everything the early subscriber got from that point on
    local tail = {}
    for _, ev in ipairs(early) do
      if ev.seq >= from_task[1].seq then tail[#tail + 1] = ev.seq end
    end
    assert.same(tail, seqs(from_task))
  end)

  it("a full queue drops events for that subscriber only and publishes SubscriberOverflow "
    .. "naming it", function()
    local sup = tv.supervisor({ grace = 5 })
    local all = H.collect(sup, { name = "collector" })
    local big, small = {}, {}
    assert(sup:subscribe({ name = "big", queue = 4096, on_event = function(ev)
      big[#big + 1] = ev
    end }))
    assert(sup:subscribe({ name = "tiny", queue = 1, on_event = function(ev)
      small[#small + 1] = ev
      tv.sleep(0.05) -- far slower than the burst below
    end }))
    assert(sup:add(tv.once("burst", function()
      for i = 1, 10 do assert(sup:add(quick("q" .. i))) end -- 20 events at once
    end)))
    assert.is_true(sup:run())

    -- the big subscribers got everything, with no gap in seq
    assert.same(seqs(all), seqs(big))
    for i = 2, #all do assert.equal(all[1].seq + i - 1, all[i].seq) end
    assert.equal(11, H.count(all, "TaskRemoved"))

    -- the tiny one got some, in order, and lost the rest
    assert.is_true(#small >= 1)
    assert.is_true(strictly_increasing(seqs(small)))
    local received = {}
    for _, ev in ipairs(small) do received[ev.seq] = true end
    local dropped = 0
    for _, ev in ipairs(non_diagnostic(all)) do
      if not received[ev.seq] then dropped = dropped + 1 end
    end
    assert.is_true(dropped > 0)

    -- one SubscriberOverflow per dropped event, all about "tiny"
    local overflows = H.only(all, nil, "SubscriberOverflow")
    assert.equal(dropped, #overflows)
    for _, ev in ipairs(overflows) do
      assert.equal("tiny", ev.task)
      assert.equal("subscriber=tiny reason=full", ev.reason)
    end
    -- nobody else overflowed
    assert.equal(#overflows, H.count(all, "SubscriberOverflow", "tiny"))
  end)

  it("an error in on_event publishes SubscriberPanicked and the subscriber keeps receiving",
    function()
    local sup = tv.supervisor({ grace = 2 })
    local all = H.collect(sup)
    local got = {}
    assert(sup:subscribe({ name = "touchy", on_event = function(ev)
      got[#got + 1] = ev.kind
      if ev.kind == "TaskStarting" then error("cannot handle TaskStarting", 0) end
    end }))
    assert(sup:add(quick("t")))
    assert.is_true(sup:run())
    local panics = H.only(all, nil, "SubscriberPanicked")
    assert.equal(1, #panics)
    local p = panics[1]
    assert.equal("touchy", p.task)
    assert.truthy(p.reason:find("cannot handle TaskStarting", 1, true))
    assert.is_string(p.traceback)
    assert.truthy(p.traceback:find("stack traceback", 1, true))
    -- it went on receiving the later events, its own panic report included
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting", "SubscriberPanicked",
      "TaskStopped", "ActorExhausted", "TaskRemoved" }, got)
  end)

  it("a subscriber raising on every event gets exactly one SubscriberPanicked per "
    .. "non-diagnostic event, none about diagnostics", function()
    local sup = tv.supervisor({ grace = 2 })
    local all = H.collect(sup)
    local got = {}
    assert(sup:subscribe({ name = "grumpy", on_event = function(ev)
      got[#got + 1] = ev
      -- (a panic-about-panic loop would never end: stop raising after a while
      -- so that it fails the counts below instead of hanging)
      if #got <= 200 then error("grumpy about " .. ev.kind, 0) end
    end }))
    assert(sup:add(quick("a")))
    assert(sup:add(quick("b")))
    assert.is_true(sup:run())
    local regular = non_diagnostic(got)
    assert.equal(12, #regular)
    local panics = H.only(all, "grumpy", "SubscriberPanicked")
    assert.equal(#regular, #panics)
    assert.equal(#panics, H.count(all, "SubscriberPanicked"))
    -- it did receive (and raise on) its own SubscriberPanicked events
    assert.equal(#panics, #H.only(got, nil, "SubscriberPanicked"))
    for i, p in ipairs(panics) do
      assert.equal("grumpy about " .. regular[i].kind, p.reason)
    end
    for _, p in ipairs(panics) do
      assert.is_nil(p.reason:find("grumpy about Subscriber", 1, true))
    end
  end)

  it("a subscriber that sleeps in on_event stalls neither other subscribers nor tasks", function()
    local sup = tv.supervisor({ grace = 5 })
    local log, slept = {}, false
    assert(sup:subscribe({ name = "sleepy", on_event = function()
      if not slept then
        slept = true
        log[#log + 1] = "sleepy:start"
        tv.sleep(0.2)
        log[#log + 1] = "sleepy:end"
      end
    end }))
    local fast = {}
    assert(sup:subscribe({ name = "fast", on_event = function(ev)
      fast[#fast + 1] = ev
      log[#log + 1] = "fast:" .. ev.kind
    end }))
    assert(sup:add(tv.once("worker", function(ctx)
      log[#log + 1] = "task:start"
      ctx:sleep(0.01)
      log[#log + 1] = "task:end"
    end)))
    assert.is_true(sup:run())
    local pos = {}
    for i, entry in ipairs(log) do pos[entry] = pos[entry] or i end
    assert.is_not_nil(pos["sleepy:end"])
    -- the sleeper was already asleep when the task went through its whole life
    assert.is_true(pos["sleepy:start"] < pos["fast:TaskStarting"])
    for _, entry in ipairs({ "task:start", "task:end", "fast:TaskStarting", "fast:TaskStopped",
      "fast:TaskRemoved" }) do
      assert.is_not_nil(pos[entry], entry .. " missing")
      assert.is_true(pos[entry] < pos["sleepy:end"], entry .. " waited for the sleeping subscriber")
    end
    assert.same(ONE_SHOT, kinds(fast))
  end)

  it("sup:run() returns only after every subscriber received every event published before",
    function()
    local sup = tv.supervisor({ grace = 10 })
    local all = H.collect(sup)
    local slow, durations = {}, {}
    assert(sup:subscribe({ name = "slow", on_event = function(ev)
      local t0 = now()
      tv.sleep(0.05)
      durations[#durations + 1] = now() - t0
      slow[#slow + 1] = ev
    end }))
    assert(sup:add(quick("t")))
    local t0 = now()
    assert.is_true(sup:run())
    local total = now() - t0
    assert.same(ONE_SHOT, kinds(slow))
    assert.same(seqs(all), seqs(slow))
    assert.equal("TaskRemoved", slow[#slow].kind)
    assert.equal(6, #durations) -- every on_event call also finished
    assert.is_true(total >= 0.25, "run returned after " .. total .. " s")
    assert.is_true(total < 5)
  end)

  it("sup:run() also drains subscribers after a shutdown", function()
    local sup = tv.supervisor({ grace = 10 })
    local slow = {}
    assert(sup:subscribe({ name = "slow", on_event = function(ev)
      tv.sleep(0.03)
      slow[#slow + 1] = ev.kind
    end }))
    assert(sup:add(tv.once("forever", function(ctx) ctx:sleep(60) end)))
    assert(sup:add(H.stopper(sup, 0.02)))
    assert.is_true(sup:run())
    assert.equal("AllStoppedWithinGrace", slow[#slow])
    assert.is_true(H.contains(slow, "ShutdownRequested"))
  end)

  it("a duplicate subscriber name returns nil, \"EEXIST: ...\" and changes nothing", function()
    local sup = tv.supervisor({ grace = 2 })
    local first, second = {}, {}
    assert.is_true(sup:subscribe({ name = "dup", on_event = function(ev) first[#first + 1] = ev end }))
    local ok, err = sup:subscribe({ name = "dup", on_event = function(ev) second[#second + 1] = ev end })
    assert.is_nil(ok)
    assert.matches("^EEXIST: ", err)
    assert.truthy(err:find("dup", 1, true))
    assert(sup:add(quick("t")))
    assert.is_true(sup:run())
    assert.same(ONE_SHOT, kinds(first))
    assert.equal(0, #second)
  end)

  it("gives function subscribers distinct default names subscriber-1, subscriber-2", function()
    local sup = tv.supervisor({ grace = 2 })
    local all = H.collect(sup)
    local function raiser(ev)
      if ev.kind == "TaskStarting" then error("named?", 0) end
    end
    assert.is_true(sup:subscribe(raiser))
    assert.is_true(sup:subscribe(raiser))
    assert(sup:add(tv.once("t", function() end)))
    assert.is_true(sup:run())
    local names = {}
    for _, p in ipairs(H.only(all, nil, "SubscriberPanicked")) do names[#names + 1] = p.task end
    table.sort(names)
    assert.same({ "subscriber-1", "subscriber-2" }, names)
  end)

  it("a default name does not collide with a name given explicitly", function()
    local sup = tv.supervisor({ grace = 2 })
    assert.is_true(sup:subscribe({ name = "subscriber-1", on_event = function() end }))
    -- the caller gave no name, so there is no duplicate name to report
    local ok, err = sup:subscribe(function() end)
    assert.is_true(ok, err)
  end)

  it("subscribing from inside a task works", function()
    local sup = tv.supervisor({ grace = 2 })
    local got, result = {}, nil
    assert(sup:add(tv.once("host", function(ctx)
      result = sup:subscribe(function(ev) got[#got + 1] = ev end)
      ctx:sleep(0.01)
    end)))
    assert.is_true(sup:run())
    assert.is_true(result)
    assert.same({ "TaskStopped", "ActorExhausted", "TaskRemoved" }, kinds(got))
  end)

  it("sup:add, sup:remove and sup:list work from inside on_event", function()
    local sup = tv.supervisor({ grace = 2 })
    local all = H.collect(sup)
    local r = {}
    assert(sup:subscribe({ name = "operator", on_event = function(ev)
      if ev.kind == "TaskStarting" and ev.task == "seed" then
        r.add = { sup:add(tv.once("spawned", function(ctx) ctx:sleep(10) end)) }
        r.list = sup:list()
        r.dup = { sup:add(tv.once("spawned", function() end)) }
      elseif ev.kind == "TaskStarting" and ev.task == "spawned" then
        r.remove = { sup:remove("spawned") }
        r.missing = { sup:remove("nobody") }
      end
    end }))
    assert(sup:add(tv.once("seed", function(ctx) ctx:sleep(0.05) end)))
    local t0 = now()
    assert.is_true(sup:run())
    assert.is_true(now() - t0 < 3)
    assert.same({ true }, r.add)
    assert.same({ "seed", "spawned" }, r.list)
    assert.is_nil(r.dup[1])
    assert.matches("^EEXIST: ", r.dup[2])
    assert.same({ true }, r.remove)
    assert.is_nil(r.missing[1])
    assert.matches("^ENOENT: ", r.missing[2])
    -- the duplicate add is refused before the first attempt starts
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskAddRequested", "TaskAddFailed",
      "TaskStarting#1", "TaskRemoveRequested", "TaskStopped#1", "TaskRemoved" },
      H.trace(all, "spawned"))
    assert.equal(1, H.count(all, "TaskAddFailed", "spawned"))
  end)

  describe("sup:subscribe rejects bad arguments, naming the field", function()
    local cases = {
      { what = "a number", arg = 42, pattern = "expected a function or a { name=, on_event=, queue= } table" },
      { what = "a table without on_event", arg = { name = "x" }, pattern = "'on_event'" },
      { what = "a non-callable on_event", arg = { on_event = "print" }, pattern = "'on_event'" },
      { what = "queue = 0", arg = { on_event = function() end, queue = 0 }, pattern = "'queue'" },
      { what = "queue = 1.5", arg = { on_event = function() end, queue = 1.5 }, pattern = "'queue'" },
      { what = "an unknown key", arg = { on_event = function() end, qeue = 4 }, pattern = "'qeue'" },
      { what = "an empty name", arg = { on_event = function() end, name = "" }, pattern = "'name'" },
    }
    for _, case in ipairs(cases) do
      it("raises for " .. case.what, function()
        local sup = tv.supervisor({ grace = 2 })
        local ok, err = pcall(sup.subscribe, sup, case.arg)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("sup:subscribe", 1, true), err)
        assert.truthy(tostring(err):find(case.pattern, 1, true), err)
        -- nothing was subscribed: a valid subscriber of any default name still works
        assert.is_true(sup:subscribe({ name = "x", on_event = function() end }))
      end)
    end
  end)
end)

describe("tv.log_writer", function()
  local function read_lines(file)
    file:seek("set")
    local lines = {}
    for line in file:lines() do lines[#lines + 1] = line end
    return lines
  end

  -- Runs a scenario with a plain and a verbose log writer beside a collector.
  local function scenario()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    local plain, verbose = io.tmpfile(), io.tmpfile()
    assert(sup:subscribe(tv.log_writer({ output = plain })))
    assert(sup:subscribe(tv.log_writer({ output = verbose, name = "verbose_log", verbose = true })))
    -- fails once, then succeeds: backoff 10 ms, then policy_exhausted_success
    assert(sup:add(tv.task({ name = "t", backoff = { first = 0.01 }, run = function(ctx)
      if ctx.attempt == 1 then error("boom", 0) end
    end })))
    -- times out after 50 ms under "never"
    assert(sup:add(tv.task({ name = "slow", restart = "never", timeout = 0.05,
      run = function(ctx) ctx:sleep(10) end })))
    -- success under "always" with a 1.5 s interval: removed during that pause
    assert(sup:add(tv.task({ name = "tick", restart = "always", interval = 1.5,
      run = function() end })))
    -- a failure with a 2 s backoff and an exit code: removed during that backoff
    assert(sup:add(tv.task({ name = "coded", backoff = { first = 2 }, run = function()
      tv.fail("bad exit", 7)
    end })))
    assert(sup:add(H.stopper(sup, 0.2)))
    assert.is_true(sup:run())
    return events, read_lines(plain), read_lines(verbose)
  end

  local events, plain, verbose
  -- The scenario runs once, for whichever of the tests below comes first.
  local function ensure_scenario()
    if not events then events, plain, verbose = scenario() end
  end

  local function line_of(kind, task, attempt)
    for i, ev in ipairs(events) do
      if ev.kind == kind and ev.task == task and (attempt == nil or ev.attempt == attempt) then
        return i, string.format("[%03d] ", ev.seq % 1000)
      end
    end
    error("no " .. kind .. " event for " .. tostring(task))
  end

  local function expect_line(lines, kind, task, attempt, body)
    local i, prefix = line_of(kind, task, attempt)
    assert.equal(prefix .. body, lines[i])
  end

  it("prints the reference LogWriter lines, one per event, in order", function()
    ensure_scenario()
    assert.equal(#events, #plain)
    assert.equal(#events, #verbose)
    for i, ev in ipairs(events) do
      assert.equal(string.format("[%03d] ", ev.seq % 1000), plain[i]:sub(1, 6))
    end
    expect_line(plain, "TaskAddRequested", "t", nil, "[task-add-requested] task=t")
    expect_line(plain, "TaskAdded", "t", nil, "[task-added] task=t")
    expect_line(plain, "TaskStarting", "t", 1, "[starting] task=t attempt=1")
    expect_line(plain, "TaskFailed", "t", 1, '[failed] task=t reason="execution failed: boom" attempt=1')
    expect_line(plain, "BackoffScheduled", "t", 1,
      '[backoff] task=t source=failure delay=10ms after_attempt=1 reason="execution failed: boom"')
    expect_line(plain, "TaskStarting", "t", 2, "[starting] task=t attempt=2")
    expect_line(plain, "TaskStopped", "t", 2, "[stopped] task=t")
    expect_line(plain, "ActorExhausted", "t", 2, '[actor-exhausted] task=t reason="policy_exhausted_success"')
    expect_line(plain, "TaskRemoved", "t", nil, "[task-removed] task=t")
    expect_line(plain, "TimeoutHit", "slow", 1, "[timeout] task=slow timeout=50ms")
    expect_line(plain, "TaskFailed", "slow", 1, '[failed] task=slow reason="timed out after 50ms" attempt=1')
    expect_line(plain, "BackoffScheduled", "tick", 1,
      '[backoff] task=tick source=success delay=1.5s after_attempt=1') -- (no reason to show)
    expect_line(plain, "BackoffScheduled", "coded", 1,
      '[backoff] task=coded source=failure delay=2s after_attempt=1 reason="execution failed: bad exit"')
    expect_line(plain, "TaskFailed", "coded", 1, '[failed] task=coded reason="execution failed: bad exit" attempt=1')
    expect_line(plain, "ShutdownRequested", nil, nil, "[shutdown-requested]")
    expect_line(plain, "AllStoppedWithinGrace", nil, nil, "[all-stopped-within-grace]")
    expect_line(plain, "TaskRemoved", "tick", nil, "[task-removed] task=tick")
  end)

  it("verbose = true appends exit codes and shutdown reasons", function()
    ensure_scenario()
    expect_line(verbose, "TaskFailed", "coded", 1,
      '[failed] task=coded reason="execution failed: bad exit" attempt=1 exit_code=7')
    expect_line(verbose, "ShutdownRequested", nil, nil, '[shutdown-requested] reason="requested"')
    -- lines without extra fields are the same as the plain ones
    expect_line(verbose, "TaskStarting", "t", 1, "[starting] task=t attempt=1")
    expect_line(verbose, "TaskFailed", "t", 1, '[failed] task=t reason="execution failed: boom" attempt=1')
    -- and the plain writer leaves them out
    local i = line_of("TaskFailed", "coded", 1)
    assert.is_nil(plain[i]:find("exit_code", 1, true))
  end)

  it("prints seq modulo 1000, zero-padded to three digits", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    local out = io.tmpfile()
    assert(sup:subscribe(tv.log_writer({ output = out })))
    -- enough events to cross a multiple of 1000 whatever seq we start from
    for i = 1, 170 do assert(sup:add(tv.once("n" .. i, function() end))) end
    assert.is_true(sup:run())
    local lines = read_lines(out)
    assert.equal(#events, #lines)
    assert.is_true(#events >= 1000)
    local wrapped, small = false, false
    for i, ev in ipairs(events) do
      local shown = lines[i]:match("^%[(%d%d%d)%] ")
      assert.is_not_nil(shown, lines[i])
      assert.equal(ev.seq % 1000, tonumber(shown))
      if ev.seq >= 1000 then wrapped = true end
      if ev.seq % 1000 < 10 then
        small = true
        assert.equal(string.format("[00%d]", ev.seq % 1000), lines[i]:sub(1, 5))
      end
    end
    assert.is_true(wrapped)
    assert.is_true(small)
  end)

  it("formats synthetic events exactly, including absent fields", function()
    local out = io.tmpfile()
    local w = tv.log_writer({ output = out })
    assert.equal("log_writer", w.name)
    w.on_event({ seq = 1007, kind = "TimeoutHit", task = "x", timeout_ms = 1500 })
    w.on_event({ seq = 42, kind = "BackoffScheduled", task = "x", attempt = 3, delay_ms = 2000,
      backoff_source = "failure", reason = "r" })
    w.on_event({ seq = 2000, kind = "TimeoutHit", task = "x" })
    w.on_event({ seq = 5, kind = "TaskStarting" })
    w.on_event({ seq = 6, kind = "SubscriberOverflow", task = "s", reason = "subscriber=s reason=full" })
    w.on_event({ seq = 7, kind = "SubscriberPanicked", task = "s", reason = "oops" })
    w.on_event({ seq = 8, kind = "ActorExhausted", task = "x" })
    w.on_event({ seq = 9, kind = "ActorDead", task = "x", reason = "fatal: no" })
    w.on_event({ seq = 10, kind = "TaskFailed", task = "x", attempt = 2 })
    w.on_event({ seq = 999, kind = "GraceExceeded", reason = "stuck: x" })
    w.on_event({ seq = 11, kind = "TaskStarting", task = "p", attempt = 1, pid = 4242 })
    w.on_event({ seq = 12, kind = "TaskStopped", task = "p", attempt = 1, killed = true })
    w.on_event({ seq = 13, kind = "TaskFailed", task = "p", attempt = 2, reason = "r", killed = true })
    w.on_event({ seq = 14, kind = "OutputLost", task = "p", attempt = 2, stream = "stderr",
      file = "/var/log/p.log", bytes = 120, reason = "ENOSPC: no space left on device" })
    assert.same({
      "[007] [timeout] task=x timeout=1.5s",
      '[042] [backoff] task=x source=failure delay=2s after_attempt=3 reason="r"',
      "[000] [timeout] task=x timeout=0ms",
      "[005] [starting] task=none attempt=0",
      '[006] [subscriber-overflow] subscriber=s reason="subscriber=s reason=full"',
      '[007] [subscriber-panicked] subscriber=s info="oops"',
      '[008] [actor-exhausted] task=x reason="policy"',
      '[009] [actor-dead] task=x reason="fatal: no"',
      '[010] [failed] task=x reason="unknown" attempt=2',
      "[999] [grace-exceeded]",
      "[011] [starting] task=p attempt=1 pid=4242",
      "[012] [stopped] task=p killed=true",
      '[013] [failed] task=p reason="r" attempt=2 killed=true',
      '[014] [output-lost] task=p stream=stderr file="/var/log/p.log" bytes=120 reason="ENOSPC: no space left on device"',
    }, read_lines(out))
  end)

  describe("rejects bad options", function()
    local closed = io.tmpfile()
    closed:close()
    local cases = {
      { what = "a non-table", arg = 5, pattern = "options table" },
      { what = "an output that is not a file", arg = { output = "out.log" }, pattern = "'output'" },
      { what = "a closed output file", arg = { output = closed }, pattern = "'output'" },
      { what = "an unknown option", arg = { outptu = io.stdout }, pattern = "'outptu'" },
      { what = "an empty name", arg = { name = "" }, pattern = "'name'" },
    }
    for _, case in ipairs(cases) do
      it("raises for " .. case.what, function()
        local ok, err = pcall(tv.log_writer, case.arg)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("tv.log_writer", 1, true), err)
        assert.truthy(tostring(err):find(case.pattern, 1, true), err)
      end)
    end
  end)

  it("a supervisor dropped while its subscriber runs is collected safely", function()
    -- (the sanitizer build checks the "safely": nothing is freed under the worker)
    local sup = tv.supervisor({ grace = 2 })
    local out = {}
    assert(sup:add(tv.once("owner", function()
      local dropped = tv.supervisor({})
      assert(dropped:subscribe(function(ev)
        out[#out + 1] = ev.kind
        collectgarbage() -- `dropped` is garbage: its __gc closes this very subscriber
        collectgarbage()
        out[#out + 1] = "returned"
      end))
      dropped:shutdown()
    end)))
    assert.is_true(sup:run())
    collectgarbage()
    assert.same({ "ShutdownRequested", "returned" }, out)
  end)
end)

describe("subscribers that take no event", function()
  it("a function() subscriber is called once per event (none is built for it); function(...) still gets each event", function()
    local sup = tv.supervisor({ grace = 2 })
    local all = H.collect(sup)
    local calls, args, varargs = 0, {}, {}
    assert.is_true(sup:subscribe({ name = "counter", on_event = function() calls = calls + 1 end }))
    assert.is_true(sup:subscribe({ name = "argless", on_event = function(...)
      args[#args + 1] = select("#", ...)
      varargs[#varargs + 1] = (...).kind
    end }))
    assert(sup:add(quick("a")))
    assert.is_true(sup:run())
    assert.equal(#all, calls)
    assert.is_true(calls >= 6)
    for i, n in ipairs(args) do assert.equal(1, n, "call " .. i) end
    assert.same(kinds(all), varargs)
  end)
end)
