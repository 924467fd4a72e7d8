-- chaos_spec.lua: seeded random scenarios that mix everything a config can do
-- at once (tasks that succeed, fail, raise, go fatal, time out, ignore
-- cancellation, yield in odd ways; subscribers that raise, sleep or manage
-- tasks; removals, cancels and shutdowns from tasks and subscribers), then
-- check invariants that must hold whatever happened. The sanitizer build runs
-- the same seeds through the instrumented host.
local H = require("helpers")
local tv = H.tv

-- TASKVISOR_CHAOS_SEEDS=FIRST-LAST runs more seeds (a longer soak).
local SEEDS = { 1, 2, 3, 5, 8, 13, 21, 34 }
local range = os.getenv("TASKVISOR_CHAOS_SEEDS")
if range then
  local first, last = range:match("^(%d+)%-(%d+)$")
  SEEDS = {}
  for seed = tonumber(first), tonumber(last) do SEEDS[#SEEDS + 1] = seed end
end

local function scenario(seed)
  local rnd = (function()
    local x = seed * 2654435761 % 4294967296
    return function(n) -- 1..n
      x = (x * 1103515245 + 12345) % 2147483648
      return x % n + 1
    end
  end)()
  local sup = tv.supervisor({ grace = 0.2, max_concurrent = rnd(3) - 1, seed = seed })
  local events = H.collect(sup)
  local names = {}
  for i = 1, 12 do names[i] = "t" .. i end
  local function pick() return names[rnd(#names)] end

  local behaviours = {
    function() end,                                      -- succeed at once
    function(ctx) ctx:sleep(0.01 * rnd(5)) end,          -- work, then succeed
    function() error("boom") end,                        -- fail
    function() tv.fail("flaky", 75) end,                 -- fail with a code
    function() tv.fatal("broken", 3) end,                -- fatal
    function(ctx) while ctx:sleep(0.01) do end end,      -- run until cancelled
    function(ctx) for _ = 1, 5 do ctx:yield() end end,   -- yield a little
    function() coroutine.yield() end,                    -- bare yield
    function(ctx)                                        -- ignore cancellation (bounded)
      local give_up = tv.monotime() + 1
      while tv.monotime() < give_up do ctx:sleep(0.01) end
    end,
    function(ctx)                                        -- manage other tasks
      for _ = 1, 3 do
        local op = rnd(4)
        if op == 1 then sup:remove(pick())
        elseif op == 2 then sup:cancel(pick(), 0.05)
        elseif op == 3 then sup:is_alive(pick())
        else sup:list() end
        ctx:sleep(0.01)
      end
    end,
  }
  local restarts = { "never", "on_failure", "always" }
  local function spec(name)
    return tv.task({
      name = name,
      restart = restarts[rnd(3)],
      max_retries = rnd(3),
      timeout = rnd(3) == 1 and 0.03 or nil,
      backoff = { first = 0.005, factor = 2, jitter = ({ "none", "full", "equal", "decorrelated" })[rnd(4)] },
      run = behaviours[rnd(#behaviours)],
    })
  end

  for i = 1, 6 do sup:add(spec(names[i])) end
  -- a subscriber that adds and removes tasks while events flow
  local budget = 40
  assert(sup:subscribe({
    name = "meddler",
    on_event = function(ev)
      if budget <= 0 or ev.kind ~= "TaskRemoved" then return end
      budget = budget - 1
      local op = rnd(5)
      if op == 1 then sup:add(spec(pick()))
      elseif op == 2 then sup:remove(pick())
      elseif op == 3 then error("meddler trips")
      elseif op == 4 then tv.sleep(0.005) end
    end,
  }))
  assert(sup:subscribe({ name = "tiny", queue = 2, on_event = function() tv.sleep(0.001) end }))
  -- the end: a shutdown at a random moment, from a task of another supervisor
  -- (max_concurrent may let a long task hold every permit of this one; tasks
  -- of any supervisor run on the one loop that sup:run drives)
  local aux = tv.supervisor({ grace = 1 })
  aux:add(tv.once("ender", function(ctx)
    ctx:sleep(0.05 * rnd(6))
    sup:shutdown()
  end))
  local t0 = tv.monotime()
  local ok, err, stuck = sup:run()
  return {
    sup = sup, events = events, ok = ok, err = err, stuck = stuck,
    elapsed = tv.monotime() - t0,
  }
end

describe("chaos", function()
  for _, seed in ipairs(SEEDS) do
    it("seed " .. seed .. ": run returns, every registration ends once, attempts never overlap", function()
      local r = scenario(seed)
      -- run returned, in bounded time, with a coherent verdict
      assert.is_true(r.elapsed < 5, "run took " .. r.elapsed)
      if not r.ok then
        assert.truthy(tostring(r.err):find("^GraceExceeded: "))
        assert.is_table(r.stuck)
        assert.is_true(#r.stuck > 0)
      end
      assert.equal("closed", r.sup:state())
      assert.same({}, r.sup:list())
      -- per name: added and removed alternate, starting with an add
      local open, last_seq = {}, 0
      local running = {}
      for _, ev in ipairs(r.events) do
        assert.is_true(ev.seq > last_seq, "seq not increasing")
        last_seq = ev.seq
        local t = ev.task
        if ev.kind == "TaskAdded" then
          assert.is_nil(open[t], "added twice without removal: " .. t)
          open[t] = true
        elseif ev.kind == "TaskRemoved" then
          assert.is_true(open[t] == true, "removed without add: " .. tostring(t))
          open[t] = nil
          assert.is_nil(running[t], "removed while an attempt runs: " .. t)
        elseif ev.kind == "TaskStarting" then
          assert.is_true(open[t] == true, "attempt of an unregistered task: " .. t)
          assert.is_nil(running[t], "overlapping attempts: " .. t)
          running[t] = ev.attempt
        elseif ev.kind == "TaskStopped" or ev.kind == "TaskFailed" then
          assert.equal(running[t], ev.attempt, "attempt end without its start: " .. t)
          running[t] = nil
        end
      end
      assert.same({}, open, "registrations never removed")
      -- a shutdown ends with exactly one verdict; a natural completion (every
      -- task ended before the shutdown came) publishes neither
      local verdicts = H.count(r.events, "AllStoppedWithinGrace") + H.count(r.events, "GraceExceeded")
      local shutdowns = H.count(r.events, "ShutdownRequested")
      assert.is_true(shutdowns <= 1)
      assert.equal(shutdowns, verdicts)
      if shutdowns == 0 then assert.is_true(r.ok) end
    end)
  end
end)
