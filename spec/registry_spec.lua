-- registry_spec.lua: add / remove / cancel / list / snapshot / is_alive /
-- contains, from the top level, from inside tasks and from inside
-- subscribers; error codes (EEXIST, ENOENT, ESHUTDOWN, ETIMEDOUT); removal of
-- running, backing-off and stubborn tasks; all-or-none batches in sup:run.
local H = require("helpers")
local tv = H.tv

local stubborn, cooperative = H.stubborn, H.cooperative

-- A watchdog: shuts the supervisor down after `secs` if nothing else did, so
-- a regression fails the spec instead of hanging it.
local function watchdog(sup, secs)
  return tv.task({
    name = "~watchdog",
    restart = "never",
    run = function(ctx)
      if ctx:sleep(secs) then sup:shutdown() end
    end,
  })
end

local event_index = H.index

describe("registry", function()
  it("add/remove/cancel/list/snapshot/is_alive/contains work from inside a task", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local seen = {}
    assert(sup:add(tv.task({
      name = "ctl",
      restart = "never",
      run = function(ctx)
        seen.add = { sup:add(cooperative("child")) }
        seen.add2 = { sup:add(cooperative("other")) }
        -- (the snapshot lists running attempts: wait until both have started)
        assert(H.wait_for(H.has(events, "TaskStarting", "child")))
        assert(H.wait_for(H.has(events, "TaskStarting", "other")))
        seen.list = sup:list()
        seen.snapshot = sup:snapshot()
        seen.alive = sup:is_alive("child")
        seen.contains = sup:contains("child")
        seen.remove = { sup:remove("child") }
        seen.cancel = { sup:cancel("other") }
        seen.after_cancel_contains = sup:contains("other")
        assert(H.wait_for(H.has(events, "TaskRemoved", "child")))
        seen.list_end = sup:list()
        seen.contains_end = sup:contains("child")
        seen.alive_end = sup:is_alive("child")
      end,
    })))
    assert.is_true(sup:run())
    assert.same({ true }, seen.add)
    assert.same({ true }, seen.add2)
    assert.same({ "child", "ctl", "other" }, seen.list)
    assert.same({ "child", "ctl", "other" }, seen.snapshot)
    assert.is_true(seen.alive)
    assert.is_true(seen.contains)
    assert.same({ true }, seen.remove)
    assert.same({ true }, seen.cancel)
    assert.is_false(seen.after_cancel_contains)
    assert.same({ "ctl" }, seen.list_end)
    assert.is_false(seen.contains_end)
    assert.is_false(seen.alive_end)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskRemoveRequested",
      "TaskStopped#1", "TaskRemoved" }, H.trace(events, "child"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskRemoveRequested",
      "TaskStopped#1", "TaskRemoved" }, H.trace(events, "other"))
    assert.equal("manual_cancel", H.first(events, "TaskRemoveRequested", "other").reason)
  end)

  it("add/remove/cancel/list/snapshot/is_alive/contains work from inside a subscriber", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local seen = {}
    assert(sup:subscribe({
      name = "driver",
      on_event = function(ev)
        if ev.kind == "TaskStarting" and ev.task == "a" then
          seen.add = { sup:add(cooperative("b")) }
          seen.list = sup:list()
          seen.contains = sup:contains("b")
          seen.alive_a = sup:is_alive("a")
        elseif ev.kind == "TaskStarting" and ev.task == "b" then
          seen.snapshot = sup:snapshot()
          seen.alive_b = sup:is_alive("b")
          seen.remove = { sup:remove("b") }
          seen.add_c = { sup:add(cooperative("c")) }
        elseif ev.kind == "TaskStarting" and ev.task == "c" then
          seen.cancel = { sup:cancel("c") } -- waits, yielding this subscriber only
          seen.after_cancel = sup:list()
          seen.removed_c_before_return = event_index(events, "TaskRemoved", "c") ~= nil
          seen.cancel_a = { sup:cancel("a") }
        end
      end,
    }))
    assert(sup:add(cooperative("a")))
    assert.is_true(sup:run())
    assert.same({ true }, seen.add)
    assert.same({ "a", "b" }, seen.list)
    assert.is_true(seen.contains)
    assert.is_true(seen.alive_a)
    assert.same({ "a", "b" }, seen.snapshot)
    assert.is_true(seen.alive_b)
    assert.same({ true }, seen.remove)
    assert.same({ true }, seen.add_c)
    assert.same({ true }, seen.cancel)
    assert.same({ "a" }, seen.after_cancel)
    assert.is_true(seen.removed_c_before_return)
    assert.same({ true }, seen.cancel_a)
    for _, name in ipairs({ "a", "b", "c" }) do
      assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskRemoveRequested",
        "TaskStopped#1", "TaskRemoved" }, H.trace(events, name))
    end
    -- natural completion: no shutdown narrative
    assert.equal(0, H.count(events, "ShutdownRequested"))
  end)

  it("a duplicate add returns nil, 'EEXIST: ...' and publishes TaskAddFailed; the first task keeps running", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local first_runs, second_runs = 0, 0
    assert(sup:add(tv.task({
      name = "dup",
      restart = "never",
      run = function(ctx)
        first_runs = first_runs + 1
        ctx:sleep(0.1)
      end,
    })))
    local ok, err = sup:add(tv.task({
      name = "dup",
      restart = "never",
      run = function() second_runs = second_runs + 1 end,
    }))
    local inside
    assert(sup:add(tv.once("later", function(ctx)
      ctx:sleep(0.02)
      inside = { sup:add(tv.once("dup", function() second_runs = second_runs + 1 end)) }
    end)))
    assert.is_true(sup:run())
    assert.is_nil(ok)
    assert.is_string(err)
    assert.matches("^EEXIST: ", err)
    assert.is_nil(inside[1])
    assert.matches("^EEXIST: ", inside[2])
    assert.equal(1, first_runs)
    assert.equal(0, second_runs)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskAddRequested", "TaskAddFailed",
      "TaskStarting#1", "TaskAddRequested", "TaskAddFailed", "TaskStopped#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "dup"))
    for _, ev in ipairs(H.only(events, "dup", "TaskAddFailed")) do
      assert.equal("already_exists", ev.reason)
    end
    -- the first attempt was not disturbed by the rejected adds
    assert.equal("policy_exhausted_success", H.first(events, "ActorExhausted", "dup").reason)
  end)

  it("remove/cancel of an unknown name return nil, 'ENOENT: ...'; is_alive/contains are false", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local top = { remove = { sup:remove("nope") }, cancel = { sup:cancel("nope") },
      alive = sup:is_alive("nope"), contains = sup:contains("nope") }
    local inside = {}
    assert(sup:add(tv.once("t", function()
      inside.remove = { sup:remove("ghost") }
      inside.cancel = { sup:cancel("ghost") }
      inside.cancel_wait = { sup:cancel("ghost", 0.5) }
      inside.alive = sup:is_alive("ghost")
      inside.contains = sup:contains("ghost")
    end)))
    assert.is_true(sup:run())
    for _, r in ipairs({ top.remove, top.cancel, inside.remove, inside.cancel, inside.cancel_wait }) do
      assert.is_nil(r[1])
      assert.is_string(r[2])
      assert.matches("^ENOENT: ", r[2])
    end
    assert.is_false(top.alive)
    assert.is_false(top.contains)
    assert.is_false(inside.alive)
    assert.is_false(inside.contains)
    -- a rejected call changes nothing: no removal narrative for unknown names
    assert.equal(0, H.count(events, "TaskRemoveRequested"))
    assert.equal(0, #H.only(events, "nope"))
    assert.equal(0, #H.only(events, "ghost"))
  end)

  it("after the supervisor stopped, add/remove/cancel/subscribe/shutdown/run return nil, 'ESHUTDOWN: ...'", function()
    local sup = tv.supervisor({ grace = 1 })
    local events = H.collect(sup)
    assert(sup:add(tv.once("t", function() end)))
    assert.is_true(sup:run())
    assert.equal("closed", sup:state())
    local n = #events
    local calls = {
      add = { sup:add(tv.once("late", function() end)) },
      add_old = { sup:add(tv.once("t", function() end)) },
      remove = { sup:remove("t") },
      cancel = { sup:cancel("t") },
      subscribe = { sup:subscribe(function() end) },
      shutdown = { sup:shutdown() },
      run = { sup:run() },
      run_specs = { sup:run({ tv.once("batch", function() end) }) },
    }
    for what, r in pairs(calls) do
      assert.is_nil(r[1], what)
      assert.is_string(r[2], what)
      assert.matches("^ESHUTDOWN", r[2])
    end
    assert.same({}, sup:list())
    assert.same({}, sup:snapshot())
    assert.is_false(sup:contains("late"))
    assert.equal(n, #events) -- nothing published after the run
  end)

  it("list() is sorted and snapshot() lists only tasks with an attempt running (not those in backoff)", function()
    local sup = tv.supervisor({ grace = 2 })
    local seen = {}
    assert(sup:add(cooperative("charlie")))
    assert(sup:add(tv.task({
      name = "bravo",
      backoff = { first = 10 },
      run = function() error("boom") end,
    })))
    assert(sup:add(cooperative("alpha")))
    assert(sup:add(watchdog(sup, 5)))
    assert(sup:add(tv.once("zulu", function(ctx)
      ctx:sleep(0.1)
      seen.list = sup:list()
      seen.snapshot = sup:snapshot()
      seen.alive = { alpha = sup:is_alive("alpha"), bravo = sup:is_alive("bravo"),
        charlie = sup:is_alive("charlie") }
      seen.contains_bravo = sup:contains("bravo")
      sup:shutdown()
    end)))
    assert.is_true(sup:run())
    assert.same({ "alpha", "bravo", "charlie", "zulu", "~watchdog" }, seen.list)
    assert.same({ "alpha", "charlie", "zulu", "~watchdog" }, seen.snapshot)
    assert.same({ alpha = true, bravo = false, charlie = true }, seen.alive)
    assert.is_true(seen.contains_bravo)
  end)

  it("list() keeps a stopping task listed until its TaskRemoved", function()
    local sup = tv.supervisor({ grace = 0.3 })
    local events = H.collect(sup)
    local polls, removed_at, requested_at = {}, nil, nil
    assert(sup:add(stubborn("stuck")))
    assert(sup:add(tv.once("ctl", function(ctx)
      ctx:sleep(0.05)
      assert(sup:remove("stuck"))
      requested_at = tv.monotime()
      for _ = 1, 200 do
        local listed = H.contains(sup:list(), "stuck")
        local seen_removed = event_index(events, "TaskRemoved", "stuck") ~= nil
        polls[#polls + 1] = { listed = listed, removed = seen_removed }
        if not listed then
          removed_at = tv.monotime()
          break
        end
        ctx:sleep(0.02)
      end
    end)))
    assert.is_true(sup:run())
    assert.is_not_nil(removed_at)
    -- listed for the whole grace period (force-stopped after 0.3 s)
    assert.is_true(removed_at - requested_at >= 0.25)
    assert.is_true(removed_at - requested_at < 2)
    assert.is_true(#polls >= 5)
    for i, p in ipairs(polls) do
      -- listed exactly until TaskRemoved has been published
      assert.equal(not p.listed, p.removed, "poll " .. i)
    end
    assert.equal("force_stopped", H.first(events, "TaskRemoved", "stuck").reason)
  end)

  it("removing a cooperative running task gives TaskRemoveRequested, TaskStopped, TaskRemoved", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local res, listed_right_after
    assert(sup:add(cooperative("w")))
    assert(sup:add(tv.once("ctl", function(ctx)
      ctx:sleep(0.05)
      res = { sup:remove("w") }
      listed_right_after = sup:contains("w")
      res.again = { sup:remove("w") } -- already stopping: accepted, no new event
    end)))
    assert.is_true(sup:run())
    assert.same({ true }, { res[1], res[2] })
    assert.same({ true }, res.again)
    assert.is_true(listed_right_after)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskRemoveRequested",
      "TaskStopped#1", "TaskRemoved" }, H.trace(events, "w"))
    assert.is_nil(H.first(events, "TaskRemoved", "w").reason)
    assert.is_nil(H.first(events, "TaskStopped", "w").reason)
  end)

  it("removing a task during its backoff gives TaskRemoveRequested, TaskRemoved and no attempt events", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local runs = 0
    local alive_in_backoff
    assert(sup:add(tv.task({
      name = "b",
      backoff = { first = 30 },
      run = function()
        runs = runs + 1
        error("boom")
      end,
    })))
    assert(sup:add(tv.once("ctl", function(ctx)
      ctx:sleep(0.05)
      alive_in_backoff = sup:is_alive("b")
      assert(sup:remove("b"))
    end)))
    local t0 = tv.monotime()
    assert.is_true(sup:run())
    assert.is_true(tv.monotime() - t0 < 10) -- did not wait out the 30 s backoff
    assert.equal(1, runs)
    assert.is_false(alive_in_backoff)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1",
      "BackoffScheduled#1", "TaskRemoveRequested", "TaskRemoved" }, H.trace(events, "b"))
  end)

  it("sup:cancel(name) from a task waits until the task is gone and returns true", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local res, removed_seen, stopped_seen, contains_after, cleaned
    assert(sup:add(tv.task({
      name = "victim",
      restart = "always",
      run = function(ctx)
        local _ <close> = setmetatable({}, { __close = function() cleaned = true end })
        while ctx:sleep(0.01) do end
        ctx:yield() -- one more loop pass before it returns
        ctx:yield()
      end,
    })))
    assert(sup:add(tv.once("ctl", function(ctx)
      ctx:sleep(0.05)
      res = { sup:cancel("victim") }
      removed_seen = event_index(events, "TaskRemoved", "victim") ~= nil
      stopped_seen = event_index(events, "TaskStopped", "victim") ~= nil
      contains_after = sup:contains("victim")
    end)))
    assert.is_true(sup:run())
    assert.same({ true }, res)
    assert.is_true(removed_seen)
    assert.is_true(stopped_seen)
    assert.is_false(contains_after)
    assert.is_true(cleaned)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskRemoveRequested",
      "TaskStopped#1", "TaskRemoved" }, H.trace(events, "victim"))
    assert.equal("manual_cancel", H.first(events, "TaskRemoveRequested", "victim").reason)
    -- cancel returned after the removal, before ctl's own end
    assert.is_true(event_index(events, "TaskRemoved", "victim") < event_index(events, "TaskStopped", "ctl"))
  end)

  it("sup:cancel(name, 0.1) on a stubborn task returns nil, 'ETIMEDOUT: ...'; removal completes later (force_stopped)", function()
    -- (bounds far apart: valgrind on a loaded machine stretches every wait)
    local sup = tv.supervisor({ grace = 3 })
    local events = H.collect(sup)
    local res, waited, contains_after, second, second_waited
    assert(sup:add(stubborn("mule")))
    assert(sup:add(tv.once("ctl", function(ctx)
      ctx:sleep(0.05)
      local t0 = tv.monotime()
      res = { sup:cancel("mule", 0.1) }
      waited = tv.monotime() - t0
      contains_after = sup:contains("mule")
      t0 = tv.monotime()
      second = { sup:cancel("mule") } -- default wait = grace: sees the force-stop
      second_waited = tv.monotime() - t0
    end)))
    local t0 = tv.monotime()
    assert.is_true(sup:run())
    local total = tv.monotime() - t0
    assert.is_nil(res[1])
    assert.is_string(res[2])
    assert.matches("^ETIMEDOUT: ", res[2])
    assert.is_true(waited >= 0.08 and waited < 2, "waited " .. waited) -- not the grace
    assert.is_true(contains_after)
    assert.same({ true }, second)
    -- the two waits together reach the force-stop, 3 s (the grace) after the first cancel
    assert.is_true(waited + second_waited >= 2.5 and second_waited < 10,
      "waited " .. waited .. " + " .. second_waited)
    assert.is_true(total < 15)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskRemoveRequested",
      "TaskStopped#1", "TaskRemoved" }, H.trace(events, "mule"))
    assert.equal(1, H.count(events, "TaskRemoveRequested", "mule")) -- the second cancel adds none
    assert.matches("^force_stopped", H.first(events, "TaskStopped", "mule").reason)
    assert.equal("force_stopped", H.first(events, "TaskRemoved", "mule").reason)
  end)

  it("a stubborn task being removed blocks no add/remove of others; its name stays reserved until it is gone", function()
    local sup = tv.supervisor({ grace = 0.4 })
    local events = H.collect(sup)
    local r = {}
    local new_body_ran = false
    assert(sup:add(stubborn("s")))
    assert(sup:add(tv.once("ctl", function(ctx)
      ctx:sleep(0.05)
      r.remove_s = { sup:remove("s") }
      r.add_other = { sup:add(tv.once("other", function(c) c:sleep(0.02) end)) }
      r.add_w = { sup:add(cooperative("w")) }
      ctx:sleep(0.1)
      r.remove_w = { sup:remove("w") }
      r.readd_s = { sup:add(tv.once("s", function() new_body_ran = true end)) }
      r.other_done = event_index(events, "TaskRemoved", "other") ~= nil
      ctx:sleep(0.05)
      r.w_gone = not sup:contains("w")
      r.s_listed = sup:contains("s")
      r.cancel_s = { sup:cancel("s") }
      r.readd_after = { sup:add(tv.once("s", function() new_body_ran = true end)) }
    end)))
    assert.is_true(sup:run())
    assert.same({ true }, r.remove_s)
    assert.same({ true }, r.add_other)
    assert.same({ true }, r.add_w)
    assert.same({ true }, r.remove_w)
    assert.is_nil(r.readd_s[1])
    assert.matches("^EEXIST: ", r.readd_s[2])
    assert.is_true(r.other_done)
    assert.is_true(r.w_gone)
    assert.is_true(r.s_listed)
    assert.same({ true }, r.cancel_s)
    assert.same({ true }, r.readd_after)
    assert.is_true(new_body_ran)
    -- others completed while s was still stopping
    local s_removed = event_index(events, "TaskRemoved", "s")
    assert.is_true(event_index(events, "TaskRemoved", "other") < s_removed)
    assert.is_true(event_index(events, "TaskRemoved", "w") < s_removed)
    assert.equal("force_stopped", events[s_removed].reason)
    assert.equal(1, H.count(events, "TaskAddFailed", "s"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskRemoveRequested",
      "TaskAddRequested", "TaskAddFailed", "TaskStopped#1", "TaskRemoved",
      "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "s"))
  end)

  it("a name can be re-added after its TaskRemoved", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local runs, readd = 0, {}
    local function job()
      return tv.once("phoenix", function(ctx)
        runs = runs + 1
        ctx:sleep(0.01)
      end)
    end
    assert(sup:subscribe({
      name = "readder",
      on_event = function(ev)
        if ev.kind == "TaskRemoved" and ev.task == "phoenix" and #readd < 2 then
          readd[#readd + 1] = { sup:add(job()) }
        end
      end,
    }))
    assert(sup:add(job()))
    assert.is_true(sup:run())
    assert.same({ { true }, { true } }, readd)
    assert.equal(3, runs)
    assert.equal(3, H.count(events, "TaskAdded", "phoenix"))
    assert.equal(3, H.count(events, "TaskRemoved", "phoenix"))
    assert.equal(0, H.count(events, "TaskAddFailed", "phoenix"))
  end)

  it("sup:run(specs) with a duplicate inside the batch adds none of it", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local ran = {}
    local function job(name)
      return tv.once(name, function() ran[#ran + 1] = name end)
    end
    local ok, err = sup:run({ job("a"), job("b"), job("a") })
    assert.is_nil(ok)
    assert.is_string(err)
    assert.matches("^EEXIST: ", err)
    assert.same({}, sup:list())
    -- the supervisor is still usable
    assert.is_true(sup:run({ job("c") }))
    assert.same({ "c" }, ran)
    assert.equal(0, H.count(events, "TaskStarting", "a"))
    assert.equal(0, H.count(events, "TaskStarting", "b"))
    assert.equal(0, H.count(events, "TaskAddRequested", "a"))
    assert.equal(0, H.count(events, "TaskAddRequested", "b"))
  end)

  it("sup:run(specs) with an already-registered name adds none of the batch", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local ran = {}
    local function job(name)
      return tv.once(name, function() ran[#ran + 1] = name end)
    end
    assert(sup:add(job("x")))
    local ok, err = sup:run({ job("y"), job("x"), job("z") })
    assert.is_nil(ok)
    assert.matches("^EEXIST: ", err)
    assert.same({ "x" }, sup:list())
    assert.is_true(sup:run())
    assert.same({ "x" }, ran)
    for _, name in ipairs({ "y", "z" }) do -- refused with the batch: said so, never added
      assert.same({ "TaskAddFailed" }, H.trace(events, name))
      assert.matches("^EEXIST: task 'x' already exists; no task of this batch", H.first(events, "TaskAddFailed", name).reason)
    end
    assert.equal(1, H.count(events, "TaskStarting", "x"))
    assert.equal(1, H.count(events, "TaskAddRequested", "x"))
  end)

  it("sup:run() from inside a task or a subscriber raises an error", function()
    local sup = tv.supervisor({ grace = 2 })
    local from_task, from_sub
    assert(sup:subscribe({
      name = "runner",
      on_event = function(ev)
        if ev.kind == "TaskStarting" and not from_sub then
          from_sub = { pcall(sup.run, sup) }
        end
      end,
    }))
    assert(sup:add(tv.once("t", function(ctx)
      ctx:yield()
      from_task = { pcall(sup.run, sup) }
      ctx:yield()
    end)))
    assert.is_true(sup:run())
    assert.is_false(from_task[1])
    assert.matches("sup:run", tostring(from_task[2]))
    assert.matches("inside a task", tostring(from_task[2]))
    assert.is_false(from_sub[1])
    assert.matches("sup:run", tostring(from_sub[2]))
  end)

  it("calling methods with a dot instead of a colon raises 'call it as a method'", function()
    local sup = tv.supervisor()
    local spec = tv.once("t", function() end)
    local calls = {
      add = function() return sup.add(spec) end,
      remove = function() return sup.remove("t") end,
      cancel = function() return sup.cancel("t") end,
      list = function() return sup.list() end,
      snapshot = function() return sup.snapshot() end,
      is_alive = function() return sup.is_alive("t") end,
      contains = function() return sup.contains("t") end,
      subscribe = function() return sup.subscribe(function() end) end,
      shutdown = function() return sup.shutdown() end,
      run = function() return sup.run() end,
      state = function() return sup.state() end,
    }
    for method, fn in pairs(calls) do
      local ok, err = pcall(fn)
      assert.is_false(ok, method)
      assert.matches("call it as a method", tostring(err))
      assert.matches("sup:" .. method, tostring(err), 1, true)
    end
    -- nothing happened to the supervisor
    assert.equal("open", sup:state())
    assert.same({}, sup:list())
  end)

  it("cancel outside a coroutine returns true at once; a task cancelled before it started has no attempt events", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local ran = false
    assert(sup:add(tv.once("early", function() ran = true end)))
    local t0 = tv.monotime()
    local res = { sup:cancel("early") }
    assert.is_true(tv.monotime() - t0 < 10) -- at once, not after the 30 s grace
    assert.same({ true }, res)
    assert.is_true(sup:run())
    assert.is_false(ran)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskRemoveRequested", "TaskRemoved" },
      H.trace(events, "early"))
  end)

  it("sup:cancel where Lua cannot yield does not wait, and the later removal is safe", function()
    -- (the sanitizer build checks the "safe": the waiter must not outlive its task)
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local out = {}
    assert(sup:add(tv.once("slow-to-stop", function(ctx)
      while not ctx:cancelled() do ctx:sleep(0.01) end
      local t0 = tv.monotime()
      while tv.monotime() - t0 < 0.3 do ctx:yield() end -- takes 0.3 s to stop
    end)))
    assert(sup:add(tv.once("canceller", function(ctx)
      ctx:sleep(0.02)
      out.sorted = { pcall(table.sort, { 2, 1 }, function(a, b)
        out.cancel = { sup:cancel("slow-to-stop") } -- cannot yield here: no wait
        return a < b
      end) }
      ctx:sleep(0.01)
    end)))
    assert(sup:add(tv.once("collector", function(ctx)
      ctx:sleep(0.15) -- the canceller is gone by now
      collectgarbage()
      collectgarbage()
    end)))
    assert.is_true(sup:run())
    assert.is_true(out.sorted[1])
    assert.same({ true }, out.cancel)
    assert.is_not_nil(event_index(events, "TaskRemoved", "slow-to-stop"))
    assert.is_true(event_index(events, "TaskRemoved", "canceller") <
      event_index(events, "TaskRemoved", "slow-to-stop"))
  end)

  it("a rejected sup:run(specs) adds none of the batch", function()
    local sup = tv.supervisor({ grace = 2 })
    local other = tv.supervisor({ grace = 2 })
    local out = {}
    assert(sup:add(tv.once("caller", function()
      out.ok, out.err = pcall(other.run, other, { tv.once("x", function() end) })
    end)))
    assert.is_true(sup:run())
    assert.is_false(out.ok)
    assert.truthy(tostring(out.err):find("cannot be called from inside a task", 1, true))
    assert.same({}, other:list())
  end)
end)
