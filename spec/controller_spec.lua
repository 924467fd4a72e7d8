-- controller_spec.lua: slot-based admission (sup:submit): queue, replace,
-- drop_if_running and admission functions written in Lua; the exact events
-- and reasons; slots advancing only after TaskRemoved, never during shutdown,
-- and never depending on the bus; name conflicts; sup:slots(); bad input.
-- Covers the applicable cases of the reference's controller tests (Part C).
local H = require("helpers")
local tv = H.tv

local ARROW = "\u{2192}"

-- A task in `slot` that sleeps `secs` (cancellable), restart = "never".
local function job(name, secs, slot)
  return tv.task({
    name = name,
    slot = slot,
    restart = "never",
    run = function(ctx) ctx:sleep(secs or 0) end,
  })
end

-- A supervisor with a controller and a collector; `setup(sup)` submits work
-- (and may add a driver task); runs it to the end. Returns events, sup and
-- what run() returned.
local function run_ctl(setup, opts)
  opts = opts or {}
  local sup = tv.supervisor({ grace = opts.grace or 2, controller = opts.controller or true })
  local events = H.collect(sup)
  local results = setup(sup) or {}
  local ok, err = sup:run()
  return events, sup, results, ok, err
end

-- Controller events (and the Task* events of the named tasks) as short
-- strings: "Kind task reason".
local function story(events, names)
  local want = {}
  for _, n in ipairs(names or {}) do want[n] = true end
  local out = {}
  for _, ev in ipairs(events) do
    if ev.kind:find("^Controller") or (want[ev.task] and ev.kind:find("^Task")) then
      out[#out + 1] = string.format("%s %s %s", ev.kind, ev.task or "-", ev.reason or "-")
    end
  end
  return out
end

-- The story of a replace: `old` was submitted to an idle slot and has
-- started; `new` replaces it; both end by themselves or by the replace.
local function replace_story(old, new)
  return {
    "TaskAddRequested " .. old .. " -",
    "TaskAdded " .. old .. " -",
    "ControllerSubmitted " .. old .. " admission=queue status=running",
    "ControllerSlotTransition " .. old .. " idle" .. ARROW .. "running",
    "TaskStarting " .. old .. " -",
    "ControllerSubmitted " .. new .. " admission=replace status=terminating depth=1",
    "ControllerSlotTransition " .. old .. " running" .. ARROW .. "terminating (replace)",
    "TaskRemoveRequested " .. old .. " replaced",
    "TaskStopped " .. old .. " -",
    "TaskRemoved " .. old .. " -",
    "ControllerSlotTransition " .. old .. " terminating" .. ARROW .. "idle",
    "TaskAddRequested " .. new .. " -",
    "TaskAdded " .. new .. " -",
    "ControllerSlotTransition " .. new .. " idle" .. ARROW .. "running",
    "TaskStarting " .. new .. " -",
    "TaskStopped " .. new .. " -",
    "TaskRemoved " .. new .. " -",
    "ControllerSlotTransition " .. new .. " running" .. ARROW .. "idle",
  }
end

-- A driver task running `fn(ctx)` once, for submissions made while the loop runs.
local function driver(sup, fn)
  assert(sup:add(tv.once("driver", fn)))
end

local function starts(events)
  local out = {}
  for _, ev in ipairs(events) do
    if ev.kind == "TaskStarting" and ev.task ~= "driver" and ev.task ~= "stopper" then
      out[#out + 1] = ev.task
    end
  end
  return out
end

describe("an idle slot", function()
  it("starts the task at once: TaskAddRequested, TaskAdded, ControllerSubmitted, idle→running; running→idle after TaskRemoved", function()
    local events, _, res = run_ctl(function(sup)
      return { sup:submit({ task = job("build", 0.01) }) }
    end)
    assert.same({ true }, res)
    assert.same({
      "TaskAddRequested build -",
      "TaskAdded build -",
      "ControllerSubmitted build admission=queue status=running",
      "ControllerSlotTransition build idle" .. ARROW .. "running",
      "TaskStarting build -",
      "TaskStopped build -",
      "TaskRemoved build -",
      "ControllerSlotTransition build running" .. ARROW .. "idle",
    }, story(events, { "build" }))
    -- controller events carry the slot (here: the task's name) and the task
    for _, ev in ipairs(H.only(events, nil, "ControllerSlotTransition")) do
      assert.equal("build", ev.slot)
      assert.equal("build", ev.task)
    end
  end)

  it("uses the spec's slot field, and submit's slot over it", function()
    local events = run_ctl(function(sup)
      assert(sup:submit({ task = job("a", 0, "from-spec") }))
      assert(sup:submit({ task = job("b", 0, "from-spec"), slot = "explicit" }))
    end)
    assert.equal("from-spec", H.first(events, "ControllerSubmitted", "a").slot)
    assert.equal("explicit", H.first(events, "ControllerSubmitted", "b").slot)
  end)

  it("admits every admission kind the same way (replace into an idle slot is a plain admit)", function()
    for _, adm in ipairs({ "queue", "replace", "drop_if_running" }) do
      local events = run_ctl(function(sup)
        assert(sup:submit({ task = job("t", 0), admission = adm }))
      end)
      assert.equal("admission=" .. adm .. " status=running",
        H.first(events, "ControllerSubmitted").reason)
      assert.equal(0, H.count(events, "ControllerRejected"))
      assert.same({ "idle" .. ARROW .. "running", "running" .. ARROW .. "idle" },
        (function()
          local r = {}
          for _, ev in ipairs(H.only(events, nil, "ControllerSlotTransition")) do r[#r + 1] = ev.reason end
          return r
        end)())
    end
  end)

  it("is reusable after its task completes", function()
    local events = run_ctl(function(sup)
      driver(sup, function(ctx)
        assert(sup:submit({ task = job("first", 0), slot = "s" }))
        ctx:sleep(0.1)
        assert.same({}, sup:slots())
        assert(sup:submit({ task = job("second", 0), slot = "s" }))
      end)
    end)
    assert.same({ "first", "second" }, starts(events))
  end)
end)

describe("queue", function()
  it("runs queued tasks in FIFO order, each only after the previous one's TaskRemoved", function()
    local events, _, res = run_ctl(function(sup)
      local r = {}
      for i = 1, 3 do r[i] = sup:submit({ task = job("t" .. i, 0.02, "s"), admission = "queue" }) end
      return r
    end)
    assert.same({ true, true, true }, res)
    assert.same({ "t1", "t2", "t3" }, starts(events))
    for i = 2, 3 do
      assert.is_true(H.index(events, "TaskRemoved", "t" .. (i - 1)) < H.index(events, "TaskAddRequested", "t" .. i))
    end
    local sub = H.only(events, nil, "ControllerSubmitted")
    assert.equal("admission=queue status=running", sub[1].reason)
    assert.equal("admission=queue status=running depth=1", sub[2].reason)
    assert.equal("admission=queue status=running depth=2", sub[3].reason)
    local tr = {}
    for _, ev in ipairs(H.only(events, nil, "ControllerSlotTransition")) do
      tr[#tr + 1] = ev.task .. " " .. ev.reason
    end
    assert.same({
      "t1 idle" .. ARROW .. "running", "t1 running" .. ARROW .. "idle",
      "t2 idle" .. ARROW .. "running", "t2 running" .. ARROW .. "idle",
      "t3 idle" .. ARROW .. "running", "t3 running" .. ARROW .. "idle",
    }, tr)
  end)

  it("rejects with queue_full: N/M when the slot's queue is full, and the rest still runs", function()
    local events, _, res = run_ctl(function(sup)
      return {
        { sup:submit({ task = job("a", 0.02, "s") }) },
        { sup:submit({ task = job("b", 0, "s") }) },
        { sup:submit({ task = job("c", 0, "s") }) },
      }
    end, { controller = { max_slot_queue = 1 } })
    assert.same({ true }, res[1])
    assert.same({ true }, res[2])
    assert.same({ nil, "EFULL: queue_full: 1/1" }, res[3])
    local rej = H.only(events, nil, "ControllerRejected")
    assert.equal(1, #rej)
    assert.equal("c", rej[1].task)
    assert.equal("s", rej[1].slot)
    assert.equal("queue_full: 1/1", rej[1].reason)
    assert.same({ "a", "b" }, starts(events))
    assert.equal(0, H.count(events, "TaskAddRequested", "c"))
  end)

  it("max_slot_queue = 0 rejects every queue submission behind a busy slot", function()
    local _, _, res = run_ctl(function(sup)
      return { { sup:submit({ task = job("a", 0.01, "s") }) }, { sup:submit({ task = job("b", 0, "s") }) } }
    end, { controller = { max_slot_queue = 0 } })
    assert.same({ true }, res[1])
    assert.same({ nil, "EFULL: queue_full: 0/0" }, res[2])
  end)

  it("advances without any subscriber, and with one whose queue overflows", function()
    for _, mode in ipairs({ "none", "overflowing" }) do
      local sup = tv.supervisor({ grace = 2, controller = { max_slot_queue = 1000 } })
      local events
      if mode == "overflowing" then
        assert(sup:subscribe({ name = "slow", queue = 1, on_event = function() tv.sleep(0.001) end }))
        events = H.collect(sup) -- sees the slow one overflow
      end
      local ran = 0
      for i = 1, 200 do
        assert(sup:submit({
          slot = "s",
          task = tv.once("t" .. i, function() ran = ran + 1 end),
        }))
      end
      assert.is_true(sup:run())
      assert.equal(200, ran, mode)
      if mode == "overflowing" then assert.is_true(H.count(events, "SubscriberOverflow", "slow") > 0) end
    end
  end)
end)

describe("replace", function()
  it("cancels the running task like sup:remove, then runs the newest", function()
    local events = run_ctl(function(sup)
      assert(sup:submit({ task = job("v1", 5, "deploy") }))
      driver(sup, function(ctx)
        ctx:sleep(0.05)
        assert(sup:submit({ task = job("v2", 0, "deploy"), admission = "replace" }))
      end)
    end)
    assert.same(replace_story("v1", "v2"), story(events, { "v1", "v2" }))
  end)

  it("displaces the queue head with ControllerRejected (superseded); entries behind it keep their order", function()
    local depth = {}
    local events = run_ctl(function(sup)
      assert(sup:submit({ task = job("run", 5, "s") }))
      assert(sup:submit({ task = job("q1", 0, "s") }))
      assert(sup:submit({ task = job("q2", 0, "s") }))
      driver(sup, function(ctx)
        ctx:sleep(0.02) -- "run" is running now
        depth[1] = sup:slot("s").queue_depth
        assert(sup:submit({ task = job("r", 0, "s"), admission = "replace" }))
        depth[2] = sup:slot("s").queue_depth -- the head was replaced, not added
        depth[3] = sup:slot("s").queued
      end)
    end)
    assert.same({ 2, 2, { "r", "q2" } }, depth)
    local rej = H.only(events, nil, "ControllerRejected")
    assert.equal(1, #rej)
    assert.equal("q1", rej[1].task)
    assert.equal("superseded: replaced at the head of the queue by 'r'", rej[1].reason)
    assert.same({ "run", "r", "q2" }, starts(events))
  end)

  it("while terminating: latest wins, with one removal of the running task", function()
    local events = run_ctl(function(sup)
      assert(sup:submit({ task = H.stubborn("old"), slot = "s" }))
      driver(sup, function(ctx)
        ctx:sleep(0.02)
        for i = 1, 3 do assert(sup:submit({ task = job("new" .. i, 0, "s"), admission = "replace" })) end
        assert.equal("terminating", sup:slot("s").status)
      end)
    end, { grace = 0.1 })
    assert.equal(1, H.count(events, "TaskRemoveRequested", "old"))
    assert.equal(1, H.count(events, "ControllerSlotTransition", "old") - 2) -- idle→running, →terminating, →idle
    local sub = H.only(events, nil, "ControllerSubmitted")
    assert.equal("admission=replace status=terminating depth=1", sub[#sub].reason)
    assert.same({ "new1", "new2" }, { H.only(events, nil, "ControllerRejected")[1].task,
      H.only(events, nil, "ControllerRejected")[2].task })
    assert.same({ "old", "new3" }, starts(events))
    -- the stubborn task was force-stopped after the grace; only then did new3 start
    assert.equal("force_stopped", H.first(events, "TaskRemoved", "old").reason)
  end)
end)

describe("drop_if_running", function()
  it("rejects with slot_busy while the slot runs, without starting it; the running task is unharmed", function()
    local events, _, res = run_ctl(function(sup)
      assert(sup:submit({ task = job("first", 0.05, "s") }))
      return { sup:submit({ task = job("second", 0, "s"), admission = "drop_if_running" }) }
    end)
    assert.same({ nil, "EBUSY: slot_busy: status=running running=first" }, res)
    local rej = H.first(events, "ControllerRejected")
    assert.equal("second", rej.task)
    assert.equal("slot_busy: status=running running=first", rej.reason)
    assert.equal(0, H.count(events, "TaskAddRequested", "second"))
    assert.same({ "first" }, starts(events))
    assert.equal("TaskStopped", H.only(events, "first", "TaskStopped")[1].kind)
  end)

  it("rejects while the slot is terminating too", function()
    local res
    run_ctl(function(sup)
      assert(sup:submit({ task = H.stubborn("a"), slot = "s" }))
      driver(sup, function(ctx)
        ctx:sleep(0.02)
        assert(sup:submit({ task = job("b", 0, "s"), admission = "replace" }))
        res = { sup:submit({ task = job("c", 0, "s"), admission = "drop_if_running" }) }
      end)
    end, { grace = 0.1 })
    assert.same({ nil, "EBUSY: slot_busy: status=terminating running=a" }, res)
  end)
end)

describe("an admission function", function()
  it("gets a read-only view of the slot and the request", function()
    local seen = {}
    run_ctl(function(sup)
      assert(sup:submit({ task = job("a", 0.2, "s") }))
      assert(sup:submit({ task = job("q", 0, "s") }))
      driver(sup, function(ctx)
        ctx:sleep(0.05)
        local ok, err = sup:submit({
          task = job("b", 0, "s"),
          admission = function(slot, req)
            seen.name, seen.status, seen.running = slot.name, slot.status, slot.running
            seen.depth, seen.running_for = slot.queue_depth, slot.running_for
            seen.req_task, seen.req_slot, seen.req_restart = req.task, req.slot, req.spec.restart
            seen.write_ok, seen.write_err = pcall(function() slot.status = "idle" end)
            return "reject", "just looking"
          end,
        })
        seen.ok, seen.err = ok, err
      end)
    end)
    assert.equal("s", seen.name)
    assert.equal("running", seen.status)
    assert.equal("a", seen.running)
    assert.equal(1, seen.depth)
    assert.is_true(seen.running_for >= 0.03 and seen.running_for < 5)
    assert.equal("b", seen.req_task)
    assert.equal("s", seen.req_slot)
    assert.equal("never", seen.req_restart)
    assert.is_false(seen.write_ok)
    assert.truthy(tostring(seen.write_err):find("read%-only"))
    assert.is_nil(seen.ok)
    assert.equal("EREJECTED: rejected: just looking", seen.err)
  end)

  it("sees an idle slot for a slot never used", function()
    local view
    run_ctl(function(sup)
      assert(sup:submit({ task = job("a", 0), admission = function(slot) view = { slot.status, slot.running, slot.queue_depth, slot.running_for }; return "start" end }))
    end)
    assert.same({ "idle", nil, 0, 0 }, view)
  end)

  it("each answer does what its name says: start, queue, replace, reject", function()
    local function answer(a) return function() return a end end
    local res
    local events = run_ctl(function(sup)
      res = { { sup:submit({ task = job("s1", 5, "s"), admission = answer("start") }) } }
      driver(sup, function(ctx)
        ctx:sleep(0.02) -- s1 is running
        res[2] = { sup:submit({ task = job("s2", 0, "s"), admission = answer("start") }) } -- busy: as drop_if_running
        res[3] = { sup:submit({ task = job("q1", 0, "s"), admission = answer("queue") }) }
        res[4] = { sup:submit({ task = job("r1", 0, "s"), admission = answer("replace") }) }
        res[5] = { sup:submit({ task = job("x1", 0, "s"), admission = answer("reject") }) }
      end)
    end)
    assert.same({ true }, res[1])
    assert.same({ nil, "EBUSY: slot_busy: status=running running=s1" }, res[2])
    assert.same({ true }, res[3])
    assert.same({ true }, res[4])
    assert.same({ nil, "EREJECTED: rejected: by the admission function" }, res[5])
    assert.equal("admission=function(replace) status=terminating depth=1",
      H.first(events, "ControllerSubmitted", "r1").reason)
    assert.equal("superseded: replaced at the head of the queue by 'r1'",
      H.first(events, "ControllerRejected", "q1").reason)
    assert.same({ "s1", "r1" }, starts(events))
  end)

  it("that raises, or answers nonsense, rejects that submission only; the slot and supervisor carry on", function()
    local events, _, res, ok = run_ctl(function(sup)
      return {
        { sup:submit({ task = job("a", 0, "s"), admission = function() error("policy bug") end }) },
        { sup:submit({ task = job("b", 0, "s"), admission = function() return "maybe" end }) },
        { sup:submit({ task = job("c", 0, "s"), admission = function() error({ code = 1 }) end }) },
        { sup:submit({ task = job("d", 0, "s"), admission = function() return "start" end }) },
      }
    end)
    assert.is_nil(res[1][1])
    assert.truthy(res[1][2]:find("^EREJECTED: rejected: admission function raised: .*policy bug"))
    assert.equal('EREJECTED: rejected: admission function returned "maybe"; expected "start", "queue", "replace" or "reject"', res[2][2])
    assert.truthy(res[3][2]:find("^EREJECTED: rejected: admission function raised: table"))
    assert.same({ true }, res[4])
    assert.same({ "d" }, starts(events))
    assert.is_true(ok)
  end)

  it("can replace only when the running task is older than a threshold", function()
    local function older_than(secs)
      return function(slot)
        if slot.status == "running" and slot.running_for < secs then return "reject", "too young" end
        return "replace"
      end
    end
    local results = {}
    local events = run_ctl(function(sup)
      assert(sup:submit({ task = job("v1", 5, "deploy") }))
      driver(sup, function(ctx)
        results[1] = { sup:submit({ task = job("v2", 5, "deploy"), admission = older_than(0.2) }) }
        ctx:sleep(0.3)
        results[2] = { sup:submit({ task = job("v3", 0, "deploy"), admission = older_than(0.2) }) }
      end)
    end)
    assert.same({ nil, "EREJECTED: rejected: too young" }, results[1])
    assert.same({ true }, results[2])
    assert.same({ "v1", "v3" }, starts(events))
  end)
end)

describe("shutdown", function()
  it("never starts queued work: each queued submission gets ControllerRejected (shutdown) after ShutdownRequested", function()
    local events, _, res = run_ctl(function(sup)
      assert(sup:submit({ task = job("running", 5, "s") }))
      assert(sup:submit({ task = job("q1", 0, "s") }))
      assert(sup:submit({ task = job("q2", 5, "other") }))
      assert(sup:submit({ task = job("q3", 0, "other") }))
      assert(sup:add(H.stopper(sup, 0.05)))
    end)
    assert.same({ "running", "q2" }, starts(events)) -- q2 had its own idle slot
    local sd = H.index(events, "ShutdownRequested")
    local rej = H.only(events, nil, "ControllerRejected")
    assert.equal(2, #rej)
    for _, ev in ipairs(rej) do
      assert.truthy(ev.reason:find("^shutdown: "))
      assert.is_true(H.index(events, "ControllerRejected", ev.task) > sd)
      assert.equal(0, H.count(events, "TaskAddRequested", ev.task))
    end
    assert.same({ "q3", "q1" }, { rej[1].task, rej[2].task }) -- slots in name order
    assert.equal("running" .. ARROW .. "idle", H.first(events, "ControllerSlotTransition", "running") and
      H.only(events, "running", "ControllerSlotTransition")[2].reason)
  end)

  it("rejects submissions once shutdown has begun and after the supervisor stopped", function()
    local during
    local events, sup = run_ctl(function(sup)
      assert(sup:submit({ task = H.cooperative("c"), slot = "s" }))
      driver(sup, function()
        sup:shutdown()
        during = { sup:submit({ task = job("late", 0, "s") }) }
      end)
    end)
    assert.is_nil(during[1])
    assert.truthy(during[2]:find("^ESHUTDOWN: shutdown: the supervisor is stopping"))
    assert.equal("late", H.first(events, "ControllerRejected").task)
    local ok, err = sup:submit({ task = job("after", 0) })
    assert.is_nil(ok)
    assert.truthy(err:find("^ESHUTDOWN: shutdown: the supervisor is closed"))
  end)
end)

describe("names", function()
  it("a task name registered outside the controller fails that submission; the slot stays consistent", function()
    local events, _, res = run_ctl(function(sup)
      assert(sup:add(job("taken", 0.05)))
      local r = { { sup:submit({ task = job("taken", 0), slot = "s" }) } }
      r[2] = sup:slots()
      r[3] = { sup:submit({ task = job("free", 0), slot = "s" }) }
      return r
    end)
    assert.same({ nil, "EEXIST: name_taken: task 'taken' is already registered outside slot 's'" }, res[1])
    assert.same({}, res[2])
    assert.same({ true }, res[3])
    assert.equal("name_taken: task 'taken' is already registered outside slot 's'",
      H.first(events, "ControllerRejected").reason)
  end)

  it("the same task name in two slots: the second is rejected", function()
    local _, _, res = run_ctl(function(sup)
      return { { sup:submit({ task = job("w", 0.02), slot = "a" }) }, { sup:submit({ task = job("w", 0), slot = "b" }) } }
    end)
    assert.same({ true }, res[1])
    assert.same({ nil, "EEXIST: name_taken: task 'w' is already registered outside slot 'b'" }, res[2])
  end)

  it("re-submitting the running task's own name to its slot queues it (one deploy name, many versions)", function()
    local events = run_ctl(function(sup)
      assert(sup:submit({ task = job("deploy", 0.02) }))
      assert(sup:submit({ task = job("deploy", 0) }))
    end)
    assert.equal(2, H.count(events, "TaskStarting", "deploy"))
    assert.equal(0, H.count(events, "ControllerRejected"))
  end)

  it("a queued task whose name was taken meanwhile is rejected (add_failed) when its turn comes; the next one starts", function()
    local events = run_ctl(function(sup)
      assert(sup:submit({ task = job("first", 0.05, "s") }))
      assert(sup:submit({ task = job("x", 0, "s") }))
      assert(sup:submit({ task = job("y", 0, "s") }))
      assert(sup:add(job("x", 0.2))) -- registered directly, outlives "first"
    end)
    local rej = H.first(events, "ControllerRejected", "x")
    assert.equal("add_failed: EEXIST: task 'x' could not be added", rej.reason)
    assert.is_true(H.index(events, "TaskRemoved", "first") < H.index(events, "ControllerRejected", "x"))
    assert.equal(1, H.count(events, "TaskStarting", "y"))
  end)

  it("sup:remove / sup:cancel of queued work purges it before it starts", function()
    local results = {}
    local events = run_ctl(function(sup)
      assert(sup:submit({ task = job("run", 0.05, "s") }))
      assert(sup:submit({ task = job("q1", 0, "s") }))
      assert(sup:submit({ task = job("q2", 0, "s") }))
      assert(sup:submit({ task = job("q3", 0, "s") }))
      results.remove = { sup:remove("q1") }
      driver(sup, function() results.cancel = { sup:cancel("q3") } end)
    end)
    assert.same({ true }, results.remove)
    assert.same({ true }, results.cancel)
    assert.equal("removed_from_queue: removed", H.first(events, "ControllerRejected", "q1").reason)
    assert.equal("removed_from_queue: manual_cancel", H.first(events, "ControllerRejected", "q3").reason)
    assert.same({ "run", "q2" }, starts(events))
  end)
end)

describe("sup:slots() and sup:slot()", function()
  it("snapshots every non-idle slot with its status, running task, queue depth and queued names", function()
    local snap, during
    run_ctl(function(sup)
      assert(sup:submit({ task = job("a1", 0.1, "alpha") }))
      assert(sup:submit({ task = job("a2", 0, "alpha") }))
      assert(sup:submit({ task = job("b1", 0.1, "beta") }))
      driver(sup, function(ctx)
        ctx:sleep(0.03)
        during = sup:slots()
        ctx:sleep(0.4)
        snap = sup:slots()
      end)
    end)
    assert.equal(2, #during)
    assert.equal("alpha", during[1].name)
    assert.equal("running", during[1].status)
    assert.equal("a1", during[1].running)
    assert.equal(1, during[1].queue_depth)
    assert.same({ "a2" }, during[1].queued)
    assert.is_true(during[1].running_for > 0)
    assert.equal("beta", during[2].name)
    assert.equal(0, during[2].queue_depth)
    assert.same({}, snap)
  end)

  it("runs distinct slots side by side", function()
    local alive
    run_ctl(function(sup)
      assert(sup:submit({ task = job("x", 0.2, "one") }))
      assert(sup:submit({ task = job("y", 0.2, "two") }))
      driver(sup, function(ctx)
        -- both at once (one slot after the other, they never would be: the wait fails)
        assert(H.wait_for(function() return sup:is_alive("x") and sup:is_alive("y") end))
        alive = sup:snapshot()
      end)
    end)
    assert.same({ "driver", "x", "y" }, alive)
  end)
end)

describe("process tasks", function()
  it("go through slots like Lua tasks: a replace stops the running process, then the next runs", function()
    local events = run_ctl(function(sup)
      assert(sup:submit({ slot = "svc", task = tv.process({ name = "old", cmd = { "sleep", "5" }, stop_timeout = 1 }) }))
      driver(sup, function(ctx)
        ctx:sleep(0.1)
        assert(sup:submit({ slot = "svc", admission = "replace",
          task = { name = "new", cmd = { "sh", "-c", "exit 0" }, restart = "never" } }))
      end)
    end)
    assert.same(replace_story("old", "new"), story(events, { "old", "new" }))
  end)
end)

describe("without a controller", function()
  it("submit, slot and slots return ENOTSUP; add and remove still work alongside a controller", function()
    local sup = tv.supervisor()
    local ok, err = sup:submit({ task = job("a", 0) })
    assert.is_nil(ok)
    assert.truthy(err:find("^ENOTSUP: "))
    assert.truthy(select(2, sup:slots()):find("^ENOTSUP"))
    assert.truthy(select(2, sup:slot("x")):find("^ENOTSUP"))
    local events = run_ctl(function(s)
      assert(s:add(H.cooperative("direct")))
      assert(s:submit({ task = job("via", 0) }))
      driver(s, function(ctx) ctx:sleep(0.02); assert(s:cancel("direct")) end)
    end)
    assert.equal(1, H.count(events, "TaskRemoved", "direct"))
    assert.equal(1, H.count(events, "TaskRemoved", "via"))
  end)

  it("queued work rejected at shutdown is let go (nothing keeps its task alive)", function()
    local alive = setmetatable({}, { __mode = "k" })
    do
      local sup = tv.supervisor({ controller = true, grace = 1 })
      local run_a, run_b = function(ctx) ctx:sleep(5) end, function() end
      alive[run_a], alive[run_b] = "a", "b"
      assert(sup:submit({ task = tv.once("a", run_a), slot = "s" }))
      assert(sup:submit({ task = tv.once("b", run_b), slot = "s" }))
      assert.equal(1, sup:slot("s").queue_depth)
      assert(sup:add(H.stopper(sup, 0.02)))
      assert.is_true(sup:run())
    end
    for _ = 1, 3 do collectgarbage() end
    assert.is_nil(next(alive))
  end)
end)

describe("review regressions", function()
  it("sup:cancel of a slot's task returns at once when it ended and the slot's next task has the same name", function()
    local res, took
    run_ctl(function(sup)
      assert(sup:submit({ task = tv.task({ name = "X", slot = "s", restart = "on_failure",
        backoff = { first = 10, max = 10 }, run = function() error("boom") end }) }))
      assert(sup:submit({ task = tv.task({ name = "X", slot = "s", restart = "never",
        run = function(ctx) ctx:sleep(0.2) end }) }))
      driver(sup, function(ctx)
        ctx:sleep(0.05) -- the first X is in its 10 s backoff
        local t0 = tv.monotime()
        res = { sup:cancel("X", 30) }
        took = tv.monotime() - t0
      end)
    end)
    assert.same({ true }, res)
    assert.is_true(took < 5) -- not the 10 s backoff
  end)

  it("tv.task of a made spec returns it unchanged (no growing wrappers)", function()
    local s = tv.task({ name = "a", run = function() end, backoff = { first = 1 } })
    local again = s
    for _ = 1, 3000 do again = tv.task(again) end
    assert.equal(s, again)
    local keys = {}
    for k in pairs(s.backoff) do keys[#keys + 1] = k end
    assert.same({ "first" }, keys)
  end)

  it("a made spec hides its fields: no metatable, no raw table through pairs, no writes", function()
    local s = tv.task({ name = "b", run = function() end })
    assert.is_false(getmetatable(s))
    local _, state = pairs(s)
    assert.is_nil(state)
    assert.has_error(function() s.timeout = -1 end)
  end)

  it("an admission error whose __tostring raises still only rejects", function()
    local sup = tv.supervisor({ controller = true })
    local evil = setmetatable({}, { __tostring = function() error("boom") end })
    local ok, err = sup:submit({ task = job("y", 0), admission = function() error(evil) end })
    assert.is_nil(ok)
    assert.equal("EREJECTED: rejected: admission function raised: (a table value)", err)
    ok, err = sup:submit({ task = job("z", 0), admission = function() return "reject", evil end })
    assert.equal("EREJECTED: rejected: (a table value)", err)
  end)
end)

describe("bad input", function()
  local sup = tv.supervisor({ controller = true })
  local function raises(req, pattern)
    local ok, err = pcall(sup.submit, sup, req)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(pattern), tostring(err))
  end

  it("names the field and what was expected", function()
    raises(nil, "sup:submit: expected a { slot=, admission=, task= } table %(got nil%)")
    raises({ task = job("a", 0), admission = "sometimes" },
      [[sup:submit: 'admission' must be one of "queue", "replace", "drop_if_running" %(got "sometimes"%)]])
    raises({ task = job("a", 0), admission = 42 },
      [[sup:submit: 'admission' must be "queue", "replace", "drop_if_running" or a function%(slot, request%) %(got 42%)]])
    raises({ task = job("a", 0), admission = {} }, "'admission' must be .* %(got table%)")
    raises({ admission = "queue" }, "sup:submit: 'task' is required")
    raises({ task = job("a", 0), slot = 7 }, "sup:submit: 'slot' must be a non%-empty string %(got 7%)")
    raises({ task = job("a", 0), slot = "" }, "sup:submit: 'slot' must be a non%-empty string")
    raises({ task = { name = "a" } }, "sup:submit: 'task': 'run' must be a function")
    raises({ task = "a" }, "sup:submit: 'task': expected a task spec table")
    raises({ task = job("a", 0), priority = 1 }, "sup:submit: unknown option 'priority'")
    raises({ task = { name = "a", run = function() end, slot = {} } }, "'slot' must be a non%-empty string %(got table%)")
    local ok, err = pcall(tv.task, { name = "a", run = function() end, slot = 1 })
    assert.is_false(ok)
    assert.truthy(err:find("tv.task: 'slot' must be a non%-empty string %(got 1%)"))
    -- nothing was admitted by any of that
    assert.same({}, sup:slots())
  end)

  it("checks the controller option", function()
    for _, case in ipairs({
      { 5, "tv.supervisor: 'controller' must be true or a table { max_slot_queue = n } %(got 5%)" },
      { { max_slot_queue = -1 }, "'controller.max_slot_queue' must be an integer between 0 and" },
      { { max_slot_queue = 0 / 0 }, "'controller.max_slot_queue' must be an integer" },
      { { max_slot_queue = 1.5 }, "'controller.max_slot_queue' must be an integer" },
      { { queue = 1 }, "tv.supervisor: unknown option 'controller.queue'" },
    }) do
      local ok, err = pcall(tv.supervisor, { controller = case[1] })
      assert.is_false(ok)
      assert.truthy(tostring(err):find(case[2]), tostring(err))
    end
    assert.equal(100, (function()
      local s = tv.supervisor({ controller = {} })
      for i = 1, 101 do s:submit({ task = job("t" .. i, 0), slot = "s" }) end
      return s:slot("s").queue_depth
    end)())
  end)

  it("raises for a misused method call and a bad slot name", function()
    local ok, err = pcall(sup.submit, {}, { task = job("a", 0) })
    assert.is_false(ok)
    assert.truthy(err:find("sup:submit: call it as a method"))
    ok, err = pcall(sup.slot, sup, 3)
    assert.is_false(ok)
    assert.truthy(err:find("sup:slot: 'name' must be a non%-empty string"))
  end)
end)

describe("tasks the controller cannot take yet", function()
  it("after, ready, hooks and restart/backoff functions are refused with ENOTSUP; nothing is started", function()
    local sup = tv.supervisor({ controller = true })
    local events = H.collect(sup)
    local noop = function() end
    local refused = {
      tv.task({ name = "a", run = noop, after = { "x" } }),
      tv.task({ name = "b", run = noop, ready = "notify" }),
      tv.task({ name = "c", run = noop, cleanup = noop }),
      tv.task({ name = "d", run = noop, restart = function() return false end }),
      tv.task({ name = "e", run = noop, backoff = function() return 0 end }),
    }
    for _, spec in ipairs(refused) do
      local ok, err = sup:submit({ task = spec })
      assert.is_nil(ok, spec.name)
      assert.matches("^ENOTSUP: tasks with 'after', 'ready', lifecycle hooks or restart/backoff "
        .. "functions cannot be submitted", err)
    end
    assert.is_true(sup:submit({ task = tv.once("plain", noop) }))
    assert.is_true(sup:run())
    assert.same({ "plain" }, H.field_list(H.only(events, nil, "TaskAdded"), "task"))
  end)
end)
