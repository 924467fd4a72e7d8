-- started_ready_spec: an attempt that started is ready, whatever it does next
-- (issue 12.1), and a cooldown refreshes the restart budget, not the failure
-- streak that max_retries counts (issue 12.2). Each case shuts down on the
-- event it waits for; a 30 s stopper only ends a run whose dependent would
-- otherwise never start (the defect), so the spec fails instead of hanging.
local H = require("helpers")
local tv = H.tv

-- Runs specs; shuts the supervisor down at the first `kind` event of `task`
-- (or after 30 s: the fallback stopper then completes, ActorExhausted).
local function run_until(specs, kind, task)
  local sup = tv.supervisor({ grace = 5 })
  local events = H.collect(sup)
  assert(sup:subscribe(function(ev)
    if ev.kind == kind and ev.task == task then sup:shutdown() end
  end))
  specs[#specs + 1] = H.stopper(sup, 30, "fallback")
  assert(sup:run(specs))
  return events
end

local function run_until_started(specs, task) return run_until(specs, "TaskStarting", task) end

local function crasher(name, opts)
  local spec = { name = name, restart = "always", backoff = { first = 0.05 },
                 run = function() error("boom") end }
  for k, v in pairs(opts or {}) do spec[k] = v end
  return tv.task(spec)
end

describe("an attempt that ends before its first yield", function()
  it("counts as ready: the next child of its group starts while it crash-loops", function()
    local events = run_until_started({
      tv.group({ name = "g", children = { crasher("first"), H.cooperative("second") } }),
    }, "second")
    assert.is_true(H.count(events, "TaskStarting", "second") >= 1)
    assert.is_nil(H.first(events, "ActorExhausted", "fallback"))
    -- the crasher's first failure comes before the second child starts
    assert.is_true(H.index(events, "TaskFailed", "first") < H.index(events, "TaskStarting", "second"))
  end)

  it("satisfies `after`: a dependent of a task that fails at once starts", function()
    local events = run_until_started({
      crasher("db"),
      tv.task({ name = "web", after = { "db" }, run = function(ctx) ctx:sleep(60) end }),
    }, "web")
    assert.is_true(H.count(events, "TaskStarting", "web") >= 1)
    assert.is_nil(H.first(events, "ActorDead", "web"))
  end)

  it("counts as ready when it returns at once under `interval`", function()
    local events = run_until_started({
      tv.group({ name = "g", children = {
        tv.task({ name = "tick", restart = "always", interval = 0.05, run = function() end }),
        H.cooperative("second"),
      } }),
    }, "second")
    assert.is_true(H.count(events, "TaskStarting", "second") >= 1)
  end)

  it("leaves explicit readiness alone: a notify-ready task that crashes at once is not ready", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    local attempts = 0
    assert(sup:subscribe(function(ev)
      if ev.kind == "TaskStarting" and ev.task == "db" then
        attempts = attempts + 1
        if attempts == 5 then sup:shutdown() end
      end
    end))
    assert(sup:run({
      crasher("db", { ready = "notify" }),
      tv.task({ name = "web", after = { "db" }, run = function(ctx) ctx:sleep(60) end }),
    }))
    assert.equals(0, H.count(events, "TaskStarting", "web"))
    assert.equals(0, H.count(events, "TaskReady", "db"))
  end)
end)

describe("a cooldown", function()
  it("refreshes the restart budget but not the failure streak of max_retries", function()
    local events = run_until({
      tv.task({
        name = "flappy", restart = "always", max_retries = 5, backoff = { first = 0.01 },
        intensity = { max_restarts = 2, within = 30 }, on_exhausted = { cooldown = 0.3 },
        run = function() error("down") end,
      }),
    }, "ActorExhausted", "flappy")
    assert.equals(6, H.count(events, "TaskStarting", "flappy"))
    local ended = H.first(events, "ActorExhausted", "flappy")
    assert.is_not_nil(ended)
    assert.matches("^max_retries_exceeded%(5/5%)", ended.reason)
    -- one cooldown after the third failure (the budget allows two restarts)
    local cooldowns = 0
    for _, ev in ipairs(H.only(events, "flappy", "BackoffScheduled")) do
      if ev.backoff_source == "cooldown" then cooldowns = cooldowns + 1 end
    end
    assert.equals(1, cooldowns)
  end)
end)
