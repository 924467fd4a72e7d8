-- concurrency_spec.lua: max_concurrent (a FIFO-fair semaphore; backoff holds no
-- permit; a cancelled waiter never starts) and loop fairness (instantly
-- completing "always" tasks yield to the loop and cannot starve a sleeper).
local H = require("helpers")
local tv = H.tv

local function starts(events)
  local out = {}
  for _, ev in ipairs(H.only(events, nil, "TaskStarting")) do out[#out + 1] = ev.task end
  return out
end

describe("concurrency", function()
  it("max_concurrent = 2: never more than 2 attempts at once, all 6 complete, TaskStarting in add order", function()
    local sup = tv.supervisor({ grace = 5, max_concurrent = 2 })
    local events = H.collect(sup)
    local running, peak, done = 0, 0, 0
    local names = { "t1", "t2", "t3", "t4", "t5", "t6" }
    for _, name in ipairs(names) do
      assert(sup:add(tv.once(name, function(ctx)
        running = running + 1
        if running > peak then peak = running end
        ctx:sleep(0.05)
        running = running - 1
        done = done + 1
      end)))
    end
    local t0 = tv.monotime()
    assert.is_true(sup:run())
    local elapsed = tv.monotime() - t0
    assert.equal(2, peak)
    assert.equal(6, done)
    assert.equal(0, running)
    assert.same(names, starts(events))
    assert.equal(6, H.count(events, "ActorExhausted"))
    for _, ev in ipairs(H.only(events, nil, "ActorExhausted")) do
      assert.equal("policy_exhausted_success", ev.reason)
    end
    -- three waves of 0.05 s (at least; a loaded machine takes longer)
    assert.is_true(elapsed >= 0.14, "took " .. elapsed)
    -- the third task starts only after one of the first two stopped
    local i3 = 0
    for i, ev in ipairs(events) do
      if ev.kind == "TaskStarting" and ev.task == "t3" then i3 = i end
    end
    local first_stop = math.huge
    for i, ev in ipairs(events) do
      if ev.kind == "TaskStopped" and i < first_stop then first_stop = i end
    end
    assert.is_true(first_stop < i3)
  end)

  it("the permit queue is FIFO: three instant 'always' tasks under max_concurrent = 1 take turns", function()
    local sup = tv.supervisor({ grace = 5, max_concurrent = 1 })
    local events = H.collect(sup)
    local seen = 0
    assert(sup:subscribe({
      name = "trigger",
      on_event = function(ev)
        if ev.kind == "TaskStarting" then
          seen = seen + 1
          if seen == 30 then sup:shutdown() end
        end
      end,
    }))
    local give_up = tv.monotime() + 60 -- a starved subscriber fails the spec, not hangs it
    for _, name in ipairs({ "a", "b", "c" }) do
      assert(sup:add(tv.task({
        name = name,
        restart = "always",
        run = function() if tv.monotime() > give_up then sup:shutdown() end end,
      })))
    end
    assert.is_true(sup:run())
    local order = starts(events)
    assert.is_true(#order >= 30)
    for i = 1, 30 do
      assert.equal(({ "a", "b", "c" })[(i - 1) % 3 + 1], order[i], "start " .. i)
    end
  end)

  it("tasks sleeping in backoff hold no permit: a failing task with a long backoff does not block others", function()
    local sup = tv.supervisor({ grace = 5, max_concurrent = 1 })
    local events = H.collect(sup)
    local t0 = tv.monotime()
    local at = {}
    assert(sup:add(tv.task({
      name = "flaky",
      backoff = { first = 0.4 },
      run = function(ctx)
        at["flaky#" .. ctx.attempt] = tv.monotime() - t0
        if ctx.attempt == 1 then error("first attempt fails") end
      end,
    })))
    for _, name in ipairs({ "a", "b" }) do
      assert(sup:add(tv.once(name, function(ctx)
        at[name] = tv.monotime() - t0
        ctx:sleep(0.05)
      end)))
    end
    assert.is_true(sup:run())
    -- a and b ran while flaky was backing off: had the backoff held the only
    -- permit, flaky's second attempt would come before them
    assert.same({ "flaky", "a", "b", "flaky" }, starts(events))
    assert.is_true(at.a < at["flaky#2"] and at.b < at["flaky#2"])
    assert.is_true(at["flaky#2"] >= 0.38, "flaky retried at " .. at["flaky#2"])
    local bo = H.first(events, "BackoffScheduled", "flaky")
    assert.equal(400, bo.delay_ms)
    assert.equal("failure", bo.backoff_source)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskStopped#2", "ActorExhausted#2", "TaskRemoved" }, H.trace(events, "flaky"))
  end)

  it("cancelling a task waiting for a permit gives no TaskStarting for it and leaks no permit", function()
    local sup = tv.supervisor({ grace = 5, max_concurrent = 1 })
    local events = H.collect(sup)
    local ran_waiter, ran_after = false, false
    local seen = {}
    assert(sup:add(tv.task({
      name = "holder",
      restart = "always",
      run = function(ctx) while ctx:sleep(0.01) do end end,
    })))
    assert(sup:add(tv.once("waiter", function() ran_waiter = true end)))
    assert(sup:subscribe({
      name = "driver",
      on_event = function(ev)
        if ev.kind == "TaskStarting" and ev.task == "holder" then
          tv.sleep(0.05)
          seen.listed = sup:list()
          seen.snapshot = sup:snapshot()
          seen.alive = sup:is_alive("waiter")
          seen.remove = { sup:remove("waiter") }
          seen.waiter_gone = not sup:contains("waiter")
          tv.sleep(0.05)
          seen.cancel = { sup:cancel("holder") }
          seen.add = { sup:add(tv.once("after", function() ran_after = true end)) }
        end
      end,
    }))
    assert.is_true(sup:run())
    -- everything stopped when asked, nothing waited out the grace
    for _, ev in ipairs(events) do assert.is_nil((ev.reason or ""):find("force_stopped"), ev.reason) end
    assert.equal(0, H.count(events, "GraceExceeded"))
    assert.same({ "holder", "waiter" }, seen.listed)
    assert.same({ "holder" }, seen.snapshot)
    assert.is_false(seen.alive)
    assert.same({ true }, seen.remove)
    assert.same({ true }, seen.cancel)
    assert.same({ true }, seen.add)
    assert.is_false(ran_waiter)
    assert.is_true(ran_after) -- the permit came back
    assert.equal(0, H.count(events, "TaskStarting", "waiter"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskRemoveRequested", "TaskRemoved" },
      H.trace(events, "waiter"))
    assert.same({ "holder", "after" }, starts(events))
  end)

  it("fairness: 1,000 instant 'always' tasks do not starve a sleeper, and all of them make progress", function()
    local sup = tv.supervisor({ grace = 5 }) -- no subscriber: stays fast
    local N = 1000
    local attempts = {}
    -- if the loop were starved the sleeper would never shut down: the
    -- spinners do it after 60 s so the spec fails instead of hanging
    local give_up = tv.monotime() + 60
    for i = 1, N do
      local name = string.format("spin-%04d", i)
      attempts[i] = 0
      assert(sup:add(tv.task({
        name = name,
        restart = "always",
        run = function()
          attempts[i] = attempts[i] + 1
          if tv.monotime() > give_up then sup:shutdown() end
        end,
      })))
    end
    -- the sleeper wakes 40 times, however long a loop pass takes (valgrind,
    -- a loaded machine): it is the one that ends the run, not the give-up
    local wakes, by_sleeper = 0, false
    assert(sup:add(tv.once("sleeper", function(ctx)
      while wakes < 40 and ctx:sleep(0.01) do wakes = wakes + 1 end
      by_sleeper = wakes == 40
      sup:shutdown()
    end)))
    assert.is_true(sup:run())
    assert.is_true(by_sleeper, "the sleeper woke only " .. wakes .. " times before the give-up")
    local min, max = math.huge, 0
    for i = 1, N do
      if attempts[i] < min then min = attempts[i] end
      if attempts[i] > max then max = attempts[i] end
    end
    assert.is_true(min >= 3, "a task ran only " .. min .. " attempts")
    assert.is_true(max / min < 3, string.format("attempts range from %d to %d", min, max))
    assert.same({}, sup:list())
  end)
end)

describe("concurrency = \"exempt\"", function()
  it("a task that opts out of max_concurrent takes no permit: workers run beside it, limited ones still queue", function()
    -- max_concurrent = 1 and a submitter that runs until the workers are done:
    -- without the opt-out the workers would wait for its permit for good
    local sup = tv.supervisor({ grace = 5, max_concurrent = 1 })
    local events = H.collect(sup)
    local running, peak, done = 0, 0, 0
    local function worker(ctx)
      running = running + 1
      if running > peak then peak = running end
      ctx:sleep(0.02)
      running = running - 1
      done = done + 1
    end
    assert(sup:add(tv.task{ name = "submitter", restart = "never", concurrency = "exempt", run = function(ctx)
      for i = 1, 3 do assert(sup:add(tv.once("w" .. i, worker))) end
      assert(sup:wait_all(10))
    end }))
    assert.is_true(sup:run())
    assert.equal(3, done)
    assert.equal(1, peak) -- the limited workers still ran one at a time
    local outcomes = sup:outcomes()
    assert.equal("completed", outcomes.submitter.status)
    assert.same({ "submitter", "w1", "w2", "w3" }, starts(events))
  end)

  it("the spec shows the field; a bad value names it", function()
    assert.equal("exempt", tv.task{ name = "x", concurrency = "exempt", run = function() end }.concurrency)
    local ok, err = pcall(tv.task, { name = "x", concurrency = "none", run = function() end })
    assert.is_false(ok)
    assert.matches("'concurrency'", err)
    assert.matches("exempt", err)
  end)
end)
