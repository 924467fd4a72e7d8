-- outcomes_spec.lua: reliable outcomes: what sup:run returns, sup:outcomes(),
-- sup:wait / wait_any / wait_all from tasks and subscribers (timeouts, unknown
-- names, misuse outside a coroutine), cancelled outcomes after a shutdown, and
-- no outcome lost to a subscriber whose queue overflows.
local H = require("helpers")
local tv = H.tv

describe("sup:run's outcomes", function()
  it("name -> { status, attempts, reason, exit_code } for completed, exhausted and dead tasks", function()
    local sup = tv.supervisor{}
    local ok, outcomes = sup:run({
      tv.once("done", function() end),
      tv.restartable("tired", function() tv.fail("again", 4) end, { max_retries = 1, backoff = { first = 0.001 } }),
      tv.once("dead", function() tv.fatal("gone", 7) end),
      tv.process{ name = "proc", cmd = { "/bin/sh", "-c", "exit 5" }, restart = "never" },
    })
    assert.is_true(ok)
    assert.same({
      done = { status = "completed", attempts = 1, reason = "policy_exhausted_success" },
      tired = { status = "exhausted", attempts = 2, reason = "max_retries_exceeded(1/1): execution failed: again",
        exit_code = 4 },
      dead = { status = "dead", attempts = 1, reason = "fatal error (no retry): gone", exit_code = 7 },
      proc = { status = "exhausted", attempts = 1, reason = "execution failed: exited with code 5", exit_code = 5 },
    }, outcomes)
    assert.same(outcomes, sup:outcomes())
  end)

  it("sup:outcomes() is empty before anything ended and returns copies", function()
    local sup = tv.supervisor{}
    assert.same({}, sup:outcomes())
    assert.is_true(sup:run({ tv.once("a", function() end) }))
    local o = sup:outcomes()
    o.a.status = "changed"
    assert.equal("completed", sup:outcomes().a.status)
  end)

  it("after a shutdown, running, sleeping-in-backoff and blocked tasks are cancelled with their attempts", function()
    local sup = tv.supervisor{}
    local ok, outcomes = sup:run({
      H.cooperative("running"),
      tv.restartable("backing_off", function() error("x", 0) end, { backoff = { first = 5 } }),
      H.stopper(sup, 0.03),
    })
    assert.is_true(ok)
    assert.same({ status = "cancelled", attempts = 1 }, outcomes.running)
    assert.equal("cancelled", outcomes.backing_off.status)
    assert.equal(1, outcomes.backing_off.attempts)
    -- the stopper is still running when its own shutdown cancels it
    assert.equal("cancelled", outcomes.stopper.status)
  end)

  it("the latest run of a name wins when a task is added again after it ended", function()
    local sup = tv.supervisor{}
    assert.is_true(sup:run({
      tv.once("again", function() error("first", 0) end),
      tv.once("driver", function()
        local o = assert(sup:wait("again"))
        assert(o.status == "exhausted")
        assert(sup:add(tv.once("again", function() end)))
        sup:wait("again")
      end),
    }))
    assert.equal("completed", sup:outcomes().again.status)
  end)
end)

describe("sup:wait", function()
  it("from a task: waits for the end, returns at once when already ended, ENOENT for unknown names, ETIMEDOUT", function()
    local sup = tv.supervisor{}
    local got = {}
    assert.is_true(sup:run({
      tv.once("quick", function(ctx) ctx:sleep(0.02) end),
      tv.once("slow", function(ctx) ctx:sleep(0.1); tv.fail("late", 2) end),
      tv.once("waiter", function()
        got.unknown = table.pack(sup:wait("nope"))
        got.timeout = table.pack(sup:wait("slow", 0.01))
        got.quick = table.pack(sup:wait("quick"))
        local t0 = tv.monotime()
        got.again = table.pack(sup:wait("quick"))
        got.again_took = tv.monotime() - t0
        got.slow = table.pack(sup:wait("slow", 5))
      end),
    }))
    assert.same({ n = 2, nil, "ENOENT: no task named 'nope' is running or has ended" }, got.unknown)
    assert.same({ n = 2, nil, "ETIMEDOUT: task 'slow' still running after 0.01s" }, got.timeout)
    assert.same({ status = "completed", attempts = 1, reason = "policy_exhausted_success" }, got.quick[1])
    assert.same(got.quick[1], got.again[1])
    assert.is_true(got.again_took < 2) -- at once: it does not wait (bound loose for valgrind)
    assert.same({ status = "exhausted", attempts = 1, reason = "execution failed: late", exit_code = 2 }, got.slow[1])
  end)

  it("from a subscriber", function()
    local sup = tv.supervisor{}
    local got
    sup:subscribe({ name = "w", on_event = function(ev)
      if ev.kind == "TaskStarting" and ev.task == "job" then got = sup:wait("job") end
    end })
    assert.is_true(sup:run({ tv.once("job", function(ctx) ctx:sleep(0.02) end) }))
    assert.same({ status = "completed", attempts = 1, reason = "policy_exhausted_success" }, got)
  end)

  it("outside a coroutine it raises for a registered task (it cannot wait there)", function()
    local sup = tv.supervisor{}
    assert(sup:add(tv.once("q", function() end)))
    local ok, err = pcall(sup.wait, sup, "q")
    assert.is_false(ok)
    assert.matches("sup:wait: call it from a task or a subscriber %(it waits by yielding that coroutine%); "
      .. "outside, sup:run%(%) returns the outcomes", err)
    assert.is_true(sup:run())
  end)

  it("validates its arguments", function()
    local sup = tv.supervisor{}
    assert.has_error(function() sup:wait(42) end)
    assert.has_error(function() sup:wait("a", -1) end)
  end)
end)

describe("sup:wait_any and sup:wait_all", function()
  it("wait_any returns the first task to end; both wait_any and wait_all time out", function()
    local sup = tv.supervisor{}
    local got = {}
    assert.is_true(sup:run({
      tv.once("a", function(ctx) ctx:sleep(0.03) end),
      tv.once("b", function(ctx) ctx:sleep(0.08); error("b failed", 0) end),
      tv.once("waiter", function()
        got.any_t = table.pack(sup:wait_any(0.005))
        got.any = table.pack(sup:wait_any())
        got.all_t = table.pack(sup:wait_all(0.005))
        -- (not wait_all() here: it waits on the caller too, see the pending bug below)
        got.all = { { b = sup:wait("b", 5) } }
      end),
    }))
    assert.same({ n = 2, nil, "ETIMEDOUT: no task ended in time" }, got.any_t)
    assert.equal("a", got.any[1])
    assert.same({ status = "completed", attempts = 1, reason = "policy_exhausted_success" }, got.any[2])
    assert.is_nil(got.all_t[1])
    assert.equal("ETIMEDOUT: not every task ended in time", got.all_t[2])
    assert.is_table(got.all_t[3])
    assert.same({ status = "exhausted", attempts = 1, reason = "execution failed: b failed" }, got.all[1].b)
  end)

  it("wait_all(timeout) from a task leaves the caller out (it used to wait on itself and time out)", function()
    local sup = tv.supervisor{}
    local r, took
    assert.is_true(sup:run({
      tv.once("a", function(ctx) ctx:sleep(0.02) end),
      tv.once("waiter", function()
        local t0 = tv.monotime()
        r = table.pack(sup:wait_all(30))
        took = tv.monotime() - t0
      end),
    }))
    assert.is_table(r[1], r[2])
    assert.equal("completed", r[1].a.status)
    assert.is_true(took < 15, "took " .. took .. "s") -- not its 30 s timeout
  end)

  it("a task waiting for its own end gets EINVAL at once", function()
    local sup = tv.supervisor{}
    local r
    assert.is_true(sup:run({ tv.once("self", function() r = { sup:wait("self", 5) } end) }))
    assert.same({ nil, "EINVAL: task 'self' cannot wait for its own end" }, r)
  end)

  it("outside a coroutine: wait_any raises when something is registered, ENOENT when nothing is", function()
    local sup = tv.supervisor{}
    assert.same({ nil, "ENOENT: no task is registered" }, { sup:wait_any() })
    assert(sup:add(tv.once("q", function() end)))
    local ok, err = pcall(sup.wait_any, sup)
    assert.is_false(ok)
    assert.matches("^sup:wait_any: call it from a task or a subscriber", err)
    assert.is_false((pcall(sup.wait_all, sup)))
    assert.is_true(sup:run())
  end)
end)

describe("no outcome is lost", function()
  it("even when a slow subscriber with queue = 1 overflows", function()
    local sup = tv.supervisor{}
    local seen_removed = 0
    sup:subscribe({ name = "slow", queue = 1, on_event = function(ev)
      if ev.kind == "TaskRemoved" then seen_removed = seen_removed + 1 end
      tv.sleep(0.01)
    end })
    local specs, n = {}, 40
    for i = 1, n do
      local name = "t" .. i
      if i % 4 == 0 then
        specs[i] = tv.once(name, function() error("x", 0) end)
      elseif i % 4 == 1 then
        specs[i] = tv.once(name, function() tv.fatal("f", i) end)
      else
        specs[i] = tv.once(name, function(ctx) ctx:yield() end)
      end
    end
    local ok, outcomes = sup:run(specs)
    assert.is_true(ok)
    assert.is_true(seen_removed < n, "the slow subscriber did not overflow; the test proves nothing")
    local count = 0
    for i = 1, n do
      local o = outcomes["t" .. i]
      assert.is_table(o, "t" .. i)
      count = count + 1
      local want = (i % 4 == 0) and "exhausted" or (i % 4 == 1) and "dead" or "completed"
      assert.equal(want, o.status, "t" .. i)
      assert.equal(1, o.attempts)
      if i % 4 == 1 then assert.equal(i, o.exit_code) end
    end
    assert.equal(n, count)
  end)

  it("and a waiting task sees them all through wait_all while the slow subscriber drops events", function()
    local sup = tv.supervisor{}
    sup:subscribe({ name = "slow", queue = 1, on_event = function() tv.sleep(0.01) end })
    local all
    local specs = {}
    for i = 1, 20 do specs[i] = tv.once("t" .. i, function(ctx) ctx:sleep(0.001 * i) end) end
    specs[#specs + 1] = tv.once("watcher", function()
      local names = {}
      for i = 1, 20 do names[i] = "t" .. i end
      all = {}
      for _, name in ipairs(names) do all[name] = assert(sup:wait(name, 5)) end
    end)
    assert.is_true(sup:run(specs))
    for i = 1, 20 do assert.equal("completed", all["t" .. i].status) end
  end)
end)

describe("keep_outcomes bounds the record", function()
  local function names(t)
    local out = {}
    for k in pairs(t) do out[#out + 1] = k end
    table.sort(out)
    return out
  end
  -- one-shots that end in name order: n1 first, n5 last
  local function in_order(n)
    local specs = {}
    for i = 1, n do
      specs[i] = tv.once("n" .. i, function(ctx) ctx:sleep(0.002 * i) end)
    end
    return specs
  end

  it("keeps the names that ended last; a wait for a dropped one says why", function()
    local sup = tv.supervisor{ keep_outcomes = 3 }
    local specs = in_order(5)
    local seen = {}
    specs[#specs + 1] = tv.once("driver", function()
      assert(sup:wait("n5"))
      seen.after_five = names(sup:outcomes())
      -- a later run of a kept name refreshes it: n3 becomes the newest, n4 the oldest
      assert(sup:add(tv.once("n3", function() end)))
      assert(sup:wait("n3"))
      seen.after_n3 = names(sup:outcomes())
      seen.wait = table.pack(sup:wait("n1"))
    end)
    local ok, outcomes = sup:run(specs)
    assert.is_true(ok)
    assert.same({ "n3", "n4", "n5" }, seen.after_five)
    assert.same({ "n3", "n4", "n5" }, seen.after_n3)
    assert.is_nil(seen.wait[1])
    assert.matches("^ENOENT: no task named 'n1' is running, and no outcome is kept for it %(only "
      .. "the last keep_outcomes = 3 are kept, 2 dropped so far%)$", seen.wait[2])
    -- the driver's own end pushed out n4, the oldest
    assert.same({ "driver", "n3", "n5" }, names(outcomes))
  end)

  it("keep_outcomes = 0 keeps none: run returns {}; wait and wait_any on an ended task say so", function()
    local sup = tv.supervisor{ keep_outcomes = 0 }
    local got, any
    local ok, outcomes = sup:run({
      tv.once("quick", function() end),
      tv.once("w", function() got = table.pack(sup:wait("quick")) end),
      tv.once("later", function(ctx) ctx:sleep(0.02) end),
      -- (it used to wait out its timeout: nothing it waits for ever has an outcome)
      tv.once("w2", function() any = table.pack(sup:wait_any(5)) end),
    })
    assert.is_true(ok)
    assert.same({}, outcomes)
    assert.is_nil(got[1])
    assert.is_truthy(got[2]:find("^ENOENT: no outcome kept for task 'quick'")
      or got[2]:find("^ENOENT: no task named 'quick' is running, and no outcome is kept"), got[2])
    assert.is_nil(any[1])
    assert.matches("^ENOENT: task '%w+' ended but its outcome was not kept %(keep_outcomes = 0%)$", any[2])
  end)

  it("wait_all says when an outcome it needs was dropped (it returned a partial table as success)", function()
    local sup = tv.supervisor{ keep_outcomes = 1 }
    local got
    assert.is_true(sup:run({
      tv.once("a", function(ctx) ctx:sleep(0.05) end),
      tv.once("b", function(ctx) ctx:sleep(0.02) end),
      tv.once("c", function(ctx) ctx:sleep(0.03) end),
      tv.once("w", function() got = table.pack(sup:wait_all(5)) end),
    }))
    -- names in order: a ends last (kept); b and c ended before it (dropped)
    assert.is_nil(got[1])
    assert.matches("^ENOENT: no task named 'b' is running, and no outcome is kept for it", got[2])
    assert.same({ "a" }, names(got[3]))
  end)

  it("defaults to 10,000 and refuses what is not a count", function()
    local specs = {}
    for i = 1, 10001 do specs[i] = tv.once("t" .. i, function() end) end
    local ok, outcomes = tv.supervisor{}:run(specs)
    assert.is_true(ok)
    assert.equal(10000, #names(outcomes))
    for _, bad in ipairs({ -1, 1.5, 0 / 0, math.huge, (1 << 24) + 1, "10" }) do
      local ok, err = pcall(tv.supervisor, { keep_outcomes = bad })
      assert.is_false(ok)
      assert.matches("tv.supervisor: 'keep_outcomes' must be", err)
    end
  end)
end)
