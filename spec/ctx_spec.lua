-- spec/ctx_spec.lua: the `ctx` a task's function receives (name, attempt,
-- sleep, cancelled, yield), tv.sleep, and how a task's coroutine behaves:
-- cancellation wakes it at once, every primitive yields to the loop, <close>
-- variables run when an attempt is cut short, a fresh stack per attempt.
local H = require("helpers")
local tv = H.tv

local function now() return tv.monotime() end

-- Turns a frozen loop into a failure instead of a hung test run: a count hook
-- on the calling coroutine raises once `limit` seconds have passed. A task
-- that spins without ever yielding still executes Lua code, so the hook fires
-- there and the task fails (which the assertions then notice).
local function watchdog(limit)
  local deadline = now() + (limit or 10)
  debug.sethook(function()
    if now() > deadline then
      debug.sethook()
      error("watchdog: the loop looked frozen", 0)
    end
  end, "", 10000)
end

-- A task (restart "never") that sleeps `secs` and records what ctx:sleep
-- returned and how long it took into `out`.
local function sleeper(name, secs, out)
  return tv.once(name, function(ctx)
    local t0 = now()
    out.result = ctx:sleep(secs)
    out.elapsed = now() - t0
    out.cancelled_after = ctx:cancelled()
  end)
end

describe("ctx", function()
  it("exposes the task's name and numbers attempts 1, 2, 3 across retries", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local seen = {}
    assert(sup:add(tv.task({
      name = "retrier", max_retries = 2, backoff = { first = 0.01 },
      run = function(ctx)
        seen[#seen + 1] = { name = ctx.name, attempt = ctx.attempt }
        error("fail every time", 0)
      end,
    })))
    assert.is_true(sup:run())
    assert.same({
      { name = "retrier", attempt = 1 },
      { name = "retrier", attempt = 2 },
      { name = "retrier", attempt = 3 },
    }, seen)
    assert.same({ "TaskAddRequested", "TaskAdded",
      "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskFailed#2", "BackoffScheduled#2",
      "TaskStarting#3", "TaskFailed#3", "ActorExhausted#3", "TaskRemoved" },
      H.trace(events, "retrier"))
  end)

  it("ctx:sleep(s) returns true after sleeping the whole time", function()
    local sup = tv.supervisor({ grace = 2 })
    local out = {}
    assert(sup:add(sleeper("napper", 0.1, out)))
    assert.is_true(sup:run())
    assert.is_true(out.result)
    assert.is_true(out.elapsed >= 0.09, "slept only " .. out.elapsed .. " s")
    assert.is_true(out.elapsed < 5)
    assert.is_false(out.cancelled_after)
  end)

  -- How another task stops the sleeper.
  local stoppers = {
    { what = "removed with sup:remove", stop = function(sup) return sup:remove("napper") end },
    { what = "cancelled with sup:cancel", stop = function(sup) return sup:cancel("napper", 5) end },
    { what = "shut down with sup:shutdown", stop = function(sup) return sup:shutdown() end },
  }
  for _, case in ipairs(stoppers) do
    it("ctx:sleep returns false and wakes at once when the task is " .. case.what, function()
      local sup = tv.supervisor({ grace = 5 })
      local events = H.collect(sup)
      local out, stop_result = {}, nil
      assert(sup:add(sleeper("napper", 10, out)))
      assert(sup:add(tv.once("killer", function(ctx)
        ctx:sleep(0.05)
        stop_result = case.stop(sup)
      end)))
      local t0 = now()
      assert.is_true(sup:run())
      local total = now() - t0
      assert.is_true(stop_result)
      assert.is_false(out.result)
      assert.is_true(out.cancelled_after)
      -- (bounds against the 10 s sleep, not a quiet machine's speed)
      assert.is_true(out.elapsed < 5, "a cancelled 10 s sleep took " .. out.elapsed .. " s")
      assert.is_true(total < 6, "run took " .. total .. " s")
      -- the sleeper returned by itself: stopped, not force-stopped
      local stopped = H.first(events, "TaskStopped", "napper")
      assert.is_not_nil(stopped)
      assert.is_nil(stopped.reason)
      assert.equal(0, H.count(events, "GraceExceeded"))
    end)
  end

  it("tv.sleep in a task also returns false at once when the task is removed", function()
    local sup = tv.supervisor({ grace = 5 })
    local result, elapsed
    assert(sup:add(tv.once("napper", function()
      local t0 = now()
      result = tv.sleep(10)
      elapsed = now() - t0
    end)))
    assert(sup:add(tv.once("killer", function(ctx)
      ctx:sleep(0.05)
      assert(sup:remove("napper"))
    end)))
    assert.is_true(sup:run())
    assert.is_false(result)
    assert.is_true(elapsed < 5, "a cancelled 10 s tv.sleep took " .. tostring(elapsed) .. " s")
  end)

  it("ctx:cancelled() is false while running and true as soon as sup:remove is called", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    local target_ctx
    local before, after_wake, seen_by_remover, remove_result
    assert(sup:add(tv.once("target", function(ctx)
      target_ctx = ctx
      before = ctx:cancelled()
      ctx:sleep(10)
      after_wake = ctx:cancelled()
    end)))
    assert(sup:add(tv.once("remover", function(ctx)
      ctx:sleep(0.05)
      remove_result = sup:remove("target")
      -- flagged at once, before the target's coroutine has even resumed
      seen_by_remover = target_ctx:cancelled()
    end)))
    assert.is_true(sup:run())
    assert.is_false(before)
    assert.is_true(remove_result)
    assert.is_true(seen_by_remover)
    assert.is_true(after_wake)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskRemoveRequested",
      "TaskStopped#1", "TaskRemoved" }, H.trace(events, "target"))
  end)

  it("ctx:yield() returns true while running and false once the task is cancelled", function()
    local sup = tv.supervisor({ grace = 5 })
    local trues, last, other_ticks, true_after_cancel = 0, nil, 0, 0
    assert(sup:add(tv.once("yielder", function(ctx)
      watchdog()
      while true do
        last = ctx:yield()
        if not last then break end
        -- a yield that was already pending when the cancel came reports it too
        if ctx:cancelled() then true_after_cancel = true_after_cancel + 1 end
        trues = trues + 1
      end
    end)))
    assert(sup:add(tv.once("remover", function(ctx)
      for _ = 1, 5 do
        ctx:sleep(0.01)
        other_ticks = other_ticks + 1
      end
      assert(sup:remove("yielder"))
    end)))
    assert.is_true(sup:run())
    assert.is_true(trues > 0)
    assert.is_false(last)
    assert.equal(0, true_after_cancel)
    -- the yielding task let the other one run on the same loop
    assert.equal(5, other_ticks)
  end)

  it("a task looping on ctx:sleep and ignoring false does not freeze the loop and is "
    .. "force-stopped after grace", function()
    local sup = tv.supervisor({ grace = 0.3 })
    local events = H.collect(sup)
    local spins_after_cancel, ticks, ticks_after_shutdown = 0, 0, 0
    local shutting_down = false
    assert(sup:add(tv.once("stubborn", function(ctx)
      watchdog()
      while true do
        ctx:sleep(0.01)
        if ctx:cancelled() then spins_after_cancel = spins_after_cancel + 1 end
      end
    end)))
    assert(sup:add(tv.once("ticker", function(ctx)
      for _ = 1, 10 do
        ctx:sleep(0.01)
        ticks = ticks + 1
      end
      shutting_down = true
      assert(sup:shutdown())
    end)))
    -- a subscriber keeps being served while the stubborn task spins
    assert(sup:subscribe({ name = "watcher", on_event = function()
      if shutting_down then ticks_after_shutdown = ticks_after_shutdown + 1 end
    end }))
    local t0 = now()
    local ok, err, stuck = sup:run()
    local total = now() - t0
    assert.is_nil(ok)
    assert.is_string(err)
    assert.matches("^GraceExceeded: ", err)
    assert.truthy(err:find("stubborn", 1, true))
    assert.same({ "stubborn" }, stuck)
    assert.equal(10, ticks)
    assert.is_true(spins_after_cancel > 1, "the cancelled sleep did not keep returning")
    assert.is_true(ticks_after_shutdown > 0)
    assert.is_true(total >= 0.3 and total < 5, "run took " .. total .. " s")
    local stopped = H.first(events, "TaskStopped", "stubborn")
    assert.is_not_nil(stopped)
    assert.matches("^force_stopped", stopped.reason)
    assert.equal("force_stopped", H.first(events, "TaskRemoved", "stubborn").reason)
    local supervisor_events = {}
    for _, ev in ipairs(events) do
      if ev.task == nil then supervisor_events[#supervisor_events + 1] = ev.kind end
    end
    assert.same({ "ShutdownRequested", "GraceExceeded" }, supervisor_events)
    assert.equal("GraceExceeded", events[#events].kind)
  end)

  -- Each primitive, called again and again by a task that is already
  -- cancelled, must still yield to the loop each time.
  local primitives = {
    { what = "ctx:sleep(0.01)", call = function(ctx) return ctx:sleep(0.01) end },
    { what = "ctx:sleep(0)", call = function(ctx) return ctx:sleep(0) end },
    { what = "ctx:yield()", call = function(ctx) return ctx:yield() end },
    { what = "tv.sleep(0.01)", call = function() return tv.sleep(0.01) end },
  }
  for _, prim in ipairs(primitives) do
    it(prim.what .. " yields to the loop even when the task is already cancelled", function()
      local sup = tv.supervisor({ grace = 0.2 })
      local events = H.collect(sup)
      local results, other_ticks = {}, 0
      assert(sup:add(tv.once("spinner", function(ctx)
        watchdog()
        while true do
          local already = ctx:cancelled() -- only calls made once cancelled count
          local r = prim.call(ctx)
          if already and #results < 3 then results[#results + 1] = r end
        end
      end)))
      assert(sup:add(tv.once("other", function(ctx)
        ctx:sleep(0.02)
        assert(sup:remove("spinner"))
        -- keeps running while the spinner ignores its cancellation
        while sup:contains("spinner") do
          ctx:yield()
          other_ticks = other_ticks + 1
        end
      end)))
      local t0 = now()
      assert.is_true(sup:run())
      local total = now() - t0
      assert.same({ false, false, false }, results)
      assert.is_true(other_ticks > 1, "the other task ran " .. other_ticks .. " times")
      assert.is_true(total < 5, "run took " .. total .. " s")
      assert.matches("^force_stopped", H.first(events, "TaskStopped", "spinner").reason)
      assert.equal("force_stopped", H.first(events, "TaskRemoved", "spinner").reason)
    end)
  end

  it("tv.sleep(s) works in a task and in a subscriber's on_event", function()
    local sup = tv.supervisor({ grace = 5 })
    local task_result, task_elapsed, sub_result, sub_elapsed
    assert(sup:subscribe({ name = "dozy", on_event = function(ev)
      if ev.kind == "TaskStarting" then
        local t0 = now()
        sub_result = tv.sleep(0.1)
        sub_elapsed = now() - t0
      end
    end }))
    assert(sup:add(tv.once("t", function()
      local t0 = now()
      task_result = tv.sleep(0.1)
      task_elapsed = now() - t0
    end)))
    assert.is_true(sup:run())
    assert.is_true(task_result)
    assert.is_true(task_elapsed >= 0.09 and task_elapsed < 5, "task slept " .. task_elapsed)
    assert.is_true(sub_result)
    assert.is_true(sub_elapsed >= 0.09 and sub_elapsed < 5, "subscriber slept " .. sub_elapsed)
  end)

  it("tv.sleep raises a clear error outside a supervised coroutine", function()
    local ok, err = pcall(tv.sleep, 0.01)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("not inside a supervised coroutine", 1, true))
    -- a plain coroutine is not supervised either
    ok, err = pcall(coroutine.wrap(function() return tv.sleep(0.01) end))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("not inside a supervised coroutine", 1, true))
    -- nor is a coroutine created inside a task
    local sup = tv.supervisor({ grace = 2 })
    local nested_ok, nested_err
    assert(sup:add(tv.once("t", function()
      nested_ok, nested_err = pcall(coroutine.wrap(function() return tv.sleep(0.01) end))
    end)))
    assert.is_true(sup:run())
    assert.is_false(nested_ok)
    assert.truthy(tostring(nested_err):find("not inside a supervised coroutine", 1, true))
  end)

  it("ctx:exec from another coroutine raises at the caller's line, not inside init.lua", function()
    local sup = tv.supervisor({ grace = 2 })
    local r = {}
    local line
    assert(sup:add(tv.once("t", function(ctx)
      r.exec = { pcall(coroutine.wrap(function()
        line = debug.getinfo(1, "l").currentline + 1
        local code = ctx:exec({ "true" })
        return code
      end)) }
    end)))
    assert.is_true(sup:run())
    assert.is_false(r.exec[1])
    assert.equal("spec/ctx_spec.lua:" .. line .. ": ctx:exec: must be called from the task's own coroutine",
      tostring(r.exec[2]):match("[^/]*/?(spec/ctx_spec%.lua:.*)$"))
  end)

  it("ctx:sleep and ctx:yield from another coroutine raise 'must be called from the task's "
    .. "own coroutine'", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local r = {}
    assert(sup:add(tv.once("t", function(ctx)
      r.sleep = { pcall(coroutine.wrap(function() return ctx:sleep(0.01) end)) }
      r.yield = { pcall(coroutine.wrap(function() return ctx:yield() end)) }
      r.own = ctx:sleep(0.01) -- the task's own coroutine still works afterwards
    end)))
    assert.is_true(sup:run())
    assert.is_false(r.sleep[1])
    assert.truthy(tostring(r.sleep[2]):find("ctx:sleep: must be called from the task's own coroutine", 1, true))
    assert.is_false(r.yield[1])
    assert.truthy(tostring(r.yield[2]):find("ctx:yield: must be called from the task's own coroutine", 1, true))
    assert.is_true(r.own)
    assert.equal(0, H.count(events, "TaskFailed"))
  end)

  it("bad ctx:sleep arguments raise an error naming ctx:sleep", function()
    local sup = tv.supervisor({ grace = 2 })
    local results = {}
    local bad = { -1, 0 / 0, "x", math.huge, {} }
    assert(sup:add(tv.once("t", function(ctx)
      for i, v in ipairs(bad) do results[i] = { pcall(ctx.sleep, ctx, v) } end
      results.none = { pcall(ctx.sleep, ctx) }
      results.tv = { pcall(tv.sleep, -1) }
    end)))
    assert.is_true(sup:run())
    for i, v in ipairs(bad) do
      assert.is_false(results[i][1], "ctx:sleep(" .. tostring(v) .. ") did not raise")
      assert.truthy(tostring(results[i][2]):find("ctx:sleep", 1, true),
        "ctx:sleep(" .. tostring(v) .. ") raised: " .. tostring(results[i][2]))
    end
    assert.is_false(results.none[1])
    assert.truthy(tostring(results.none[2]):find("ctx:sleep", 1, true))
    assert.is_false(results.tv[1])
    assert.truthy(tostring(results.tv[2]):find("tv.sleep", 1, true))
  end)

  describe("<close> variables", function()
    local function closer(log, tag)
      return setmetatable({}, { __close = function(_, err)
        log[#log + 1] = { tag = tag, err = err }
      end })
    end

    it("run when an attempt times out", function()
      local sup = tv.supervisor({ grace = 2 })
      local events = H.collect(sup)
      local log, starts, after_sleep = {}, {}, false
      assert(sup:add(tv.task({
        name = "slowpoke", timeout = 0.05, max_retries = 1, backoff = { first = 0.01 },
        run = function(ctx)
          starts[#starts + 1] = #log -- how many closes had run when this attempt began
          local c <close> = closer(log, "attempt " .. ctx.attempt)
          ctx:sleep(10)
          after_sleep = true
        end,
      })))
      local t0 = now()
      assert.is_true(sup:run())
      assert.is_true(now() - t0 < 3)
      assert.same({ "attempt 1", "attempt 2" }, { log[1] and log[1].tag, log[2] and log[2].tag })
      assert.same({ 0, 1 }, starts) -- attempt 1's close ran before attempt 2 started
      assert.is_false(after_sleep)
      assert.same({ "TaskAddRequested", "TaskAdded",
        "TaskStarting#1", "TimeoutHit#1", "TaskFailed#1", "BackoffScheduled#1",
        "TaskStarting#2", "TimeoutHit#2", "TaskFailed#2", "ActorExhausted#2", "TaskRemoved" },
        H.trace(events, "slowpoke"))
    end)

    it("run when a task is force-stopped after grace", function()
      local sup = tv.supervisor({ grace = 0.2 })
      local log = {}
      assert(sup:add(tv.once("stubborn", function(ctx)
        watchdog()
        local c <close> = closer(log, "stubborn")
        while true do ctx:sleep(0.01) end
      end)))
      assert(sup:add(H.stopper(sup, 0.05)))
      local ok, err, stuck = sup:run()
      assert.is_nil(ok)
      assert.matches("^GraceExceeded", err)
      assert.same({ "stubborn" }, stuck)
      assert.equal(1, #log)
      assert.equal("stubborn", log[1].tag)
    end)

    it("run when the task raises, receiving the error", function()
      local sup = tv.supervisor({ grace = 2 })
      local events = H.collect(sup)
      local log = {}
      assert(sup:add(tv.once("raiser", function(ctx)
        local c <close> = closer(log, "raiser")
        ctx:sleep(0.01)
        error("kaboom", 0)
      end)))
      assert.is_true(sup:run())
      assert.equal(1, #log)
      assert.equal("raiser", log[1].tag)
      assert.equal("kaboom", log[1].err)
      assert.equal("execution failed: kaboom", H.first(events, "TaskFailed", "raiser").reason)
    end)
  end)

  it("a bare coroutine.yield() inside a task yields to the loop and the task continues", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local flag, spins, finished = false, 0, false
    assert(sup:add(tv.task({
      name = "bare", restart = "never", timeout = 5, -- a stranded coroutine fails instead of hanging
      run = function()
        watchdog()
        while not flag do
          coroutine.yield()
          spins = spins + 1
        end
        finished = true
      end,
    })))
    assert(sup:add(tv.once("flagger", function(ctx)
      ctx:sleep(0.05)
      flag = true
    end)))
    assert.is_true(sup:run())
    assert.is_true(finished)
    assert.is_true(spins >= 1)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "bare"))
  end)

  it("runs each attempt on a fresh coroutine: locals start over, upvalues persist", function()
    local sup = tv.supervisor({ grace = 2 })
    local calls, locals_seen, depths = 0, {}, {}
    local function stack_depth()
      local n = 1
      while debug.getinfo(n, "l") do n = n + 1 end
      return n
    end
    local function deep(n, ctx)
      if n == 0 then
        ctx:yield()
        error("deep failure", 0)
      end
      return deep(n - 1, ctx) + 1 -- not a tail call: the frames stay on the stack
    end
    assert(sup:add(tv.task({
      name = "fresh", restart = "always", max_retries = 0, backoff = { first = 0.01 },
      run = function(ctx)
        calls = calls + 1
        local mine
        locals_seen[ctx.attempt] = mine
        mine = "set in attempt " .. ctx.attempt
        depths[ctx.attempt] = stack_depth()
        if ctx.attempt == 1 then deep(20, ctx) end -- fails deep down, mid-yield
        if ctx.attempt == 3 then sup:shutdown() return end
        ctx:yield()
      end,
    })))
    assert.is_true(sup:run())
    assert.equal(3, calls)
    assert.same({}, locals_seen)
    assert.equal(3, #depths)
    assert.equal(depths[1], depths[2])
    assert.equal(depths[1], depths[3])
  end)

  local after_yield = {
    { what = "ctx:sleep", pause = function(ctx) ctx:sleep(0.01) end },
    { what = "ctx:yield", pause = function(ctx) ctx:yield() end },
    { what = "tv.sleep", pause = function() tv.sleep(0.01) end },
    { what = "coroutine.yield", pause = function() coroutine.yield() end },
  }
  for _, case in ipairs(after_yield) do
    it("a task that raises after " .. case.what .. " reports TaskFailed with its message", function()
      local sup = tv.supervisor({ grace = 2 })
      local events = H.collect(sup)
      assert(sup:add(tv.once("late", function(ctx)
        case.pause(ctx)
        error("boom after yielding", 0)
      end)))
      assert.is_true(sup:run())
      local failed = H.first(events, "TaskFailed", "late")
      assert.is_not_nil(failed)
      assert.equal(1, failed.attempt)
      assert.equal("execution failed: boom after yielding", failed.reason)
      assert.is_string(failed.traceback)
      assert.truthy(failed.traceback:find("stack traceback", 1, true))
      assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1",
        "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "late"))
    end)
  end

  it("a task that calls tv.fail after yielding reports its exit code", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    assert(sup:add(tv.once("coded", function(ctx)
      ctx:sleep(0.01)
      tv.fail("exit soon", 42)
    end)))
    assert.is_true(sup:run())
    local failed = H.first(events, "TaskFailed", "coded")
    assert.equal("execution failed: exit soon", failed.reason)
    assert.equal(42, failed.exit_code)
  end)

  it("a ctx kept after its task finished raises when used instead of crashing", function()
    local sup = tv.supervisor({ grace = 2 })
    local from_other = {}
    assert(sup:add(tv.once("short", function(ctx)
      _G.taskvisor_stale_ctx = ctx
    end)))
    assert(sup:add(tv.once("later", function(ctx)
      ctx:sleep(0.05) -- "short" has finished by now
      local stale = _G.taskvisor_stale_ctx
      from_other.sleep = { pcall(stale.sleep, stale, 0.01) }
      from_other.yield = { pcall(stale.yield, stale) }
      from_other.own = ctx:sleep(0.01)
    end)))
    assert.is_true(sup:run())
    local stale = _G.taskvisor_stale_ctx
    _G.taskvisor_stale_ctx = nil
    assert.is_not_nil(stale)
    -- from another task during the run
    assert.is_false(from_other.sleep[1])
    assert.truthy(tostring(from_other.sleep[2]):find("must be called from the task's own coroutine", 1, true))
    assert.is_false(from_other.yield[1])
    assert.is_true(from_other.own)
    -- from the main program after the run
    local ok, err = pcall(stale.sleep, stale, 0.01)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("ctx:sleep", 1, true))
    ok = pcall(stale.yield, stale)
    assert.is_false(ok)
    -- and once the supervisor itself is gone
    sup = nil
    collectgarbage()
    collectgarbage()
    ok, err = pcall(stale.sleep, stale, 0.01)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("ctx:sleep", 1, true))
    assert.is_false(pcall(stale.yield, stale))
    assert.is_true(pcall(function() return stale.name, stale.attempt, stale:cancelled() end))
  end)

  it("a wait where Lua cannot yield raises at once and leaves no wake-up behind", function()
    local sup = tv.supervisor({ grace = 2 })
    local out = {}
    assert(sup:add(tv.once("sorter", function(ctx)
      watchdog()
      out.ok, out.err = pcall(table.sort, { 3, 2, 1 }, function(a, b)
        ctx:yield() -- inside table.sort's C comparator call: cannot yield
        return a < b
      end)
      local t0 = now()
      out.slept = ctx:sleep(0.2) -- must really sleep: no stale wake-up from above
      out.elapsed = now() - t0
    end)))
    assert.is_true(sup:run())
    assert.is_false(out.ok)
    assert.truthy(tostring(out.err):find("ctx:yield: cannot wait here", 1, true))
    assert.is_true(out.slept)
    assert.is_true(out.elapsed >= 0.15, "slept only " .. out.elapsed)
  end)

  it("a task's coroutine resumed by another coroutine fails with a clear reason", function()
    local sup = tv.supervisor({ grace = 2 })
    local events = H.collect(sup)
    local victim, seen = nil, {}
    assert(sup:add(tv.once("victim", function(ctx)
      victim = coroutine.running()
      seen.slept = ctx:sleep(2) -- must not return true when resumed by someone else
    end)))
    assert(sup:add(tv.once("thief", function(ctx)
      ctx:sleep(0.05)
      seen.resume = { coroutine.resume(victim) }
    end)))
    local t0 = now()
    assert.is_true(sup:run())
    assert.is_true(now() - t0 < 1.5, "the victim's 2 s sleep was not cut short")
    assert.is_nil(seen.slept)
    assert.is_false(seen.resume[1])
    assert.truthy(tostring(seen.resume[2]):find("resumed outside its supervisor", 1, true))
    local failed = H.first(events, "TaskFailed", "victim")
    assert.is_not_nil(failed)
    assert.truthy(failed.reason:find("resumed outside its supervisor", 1, true))
    assert.is_nil(H.first(events, "TaskStopped", "victim"))
  end)
end)
