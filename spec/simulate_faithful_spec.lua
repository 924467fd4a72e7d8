-- spec/simulate_faithful_spec.lua: a simulation tells what a real run does.
-- Each Lua-only config runs for real (about a second, on the libuv clock) and
-- in virtual time with the same seed; per task, the sequence of events (kind,
-- attempt, backoff delay, reason) must be the same. Delays are drawn from the
-- same seeded generator in the same order, so they match exactly; times are
-- not compared (the real run's lag is the machine's).
local H = require("helpers")
local tv = H.tv
local C = require("taskvisor.config")

-- The real run: the config built as `taskvisor run` builds it, shut down at
-- `horizon` seconds like the simulation is.
local function real_run(cfg, horizon, seed, setup)
  local sup_opts = {}
  for k, v in pairs(cfg.supervisor) do sup_opts[k] = v end
  sup_opts.seed = seed
  local events = {}
  local real = tv.config{ supervisor = sup_opts, tasks = cfg.tasks,
    subscribers = { { name = "collect", queue = 65536, on_event = function(e) events[#events + 1] = e end } } }
  local sup = assert(C.build(real, tv.supervisor))
  if setup then setup(sup) end
  local h = sup.core:_shutdown_at(horizon)
  sup:run()
  h:cancel()
  return events
end

-- "Kind#attempt delay=ms reason" per event of `task` (or, for "controller",
-- of every Controller* event).
local function story(events, task)
  local out = {}
  for _, e in ipairs(events) do
    if e.task == task or (task == "controller" and e.kind:find("^Controller")) then
      out[#out + 1] = string.format("%s#%s%s%s", e.kind, tostring(e.attempt or "-"),
        e.delay_ms and " delay=" .. e.delay_ms or "", e.reason and " " .. e.reason or "")
        .. (e.slot and " slot=" .. e.slot or "")
    end
  end
  return out
end

-- Runs cfg both ways and compares each task's story.
local function same_story(cfg, tasks, horizon, seed, setup)
  local real = real_run(cfg, horizon, seed, setup)
  local sim = tv.testing.simulate(cfg, { for_ = horizon, seed = seed, setup = setup })
  for _, name in ipairs(tasks) do
    local r, s = story(real, name), story(sim.events, name)
    assert.is_true(#r > 2, name .. ": the real run told little: " .. table.concat(r, ", "))
    assert.are.same(r, s, name)
  end
  return real, sim
end

local function failing(name, after, jitter, extra)
  local spec = { name = name, restart = "on_failure", max_retries = 4,
    backoff = { first = 0.02, max = 0.15, factor = 2, jitter = jitter },
    run = function(ctx) ctx:sleep(after); error("boom") end }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return tv.task(spec)
end

describe("a simulation matches the real run", function()
  for _, jitter in ipairs({ "none", "full", "equal", "decorrelated" }) do
    it("backoff with jitter = " .. jitter .. ": same attempts, same delays, exhausted alike", function()
      local cfg = tv.config{ tasks = { failing("j", 0.01, jitter) } }
      local real, sim = same_story(cfg, { "j" }, 2, 42)
      assert.are.equal(5, H.count(real, "TaskStarting", "j"))
      assert.are.equal(1, H.count(sim.events, "ActorExhausted", "j"))
    end)
  end

  it("a restart budget that escalates: the same escalation and shutdown", function()
    local cfg = tv.config{ tasks = {
      tv.task{ name = "flappy", restart = "always", backoff = { first = 0.01 },
        intensity = { max_restarts = 3, within = 5 }, on_exhausted = "escalate",
        run = function(ctx) ctx:sleep(0.02); error("flap") end },
      tv.task{ name = "bystander", run = function(ctx) while ctx:sleep(10) do end end },
    } }
    local real, sim = same_story(cfg, { "flappy", "bystander" }, 3, 1)
    assert.truthy(H.first(real, "Escalated", "flappy"))
    assert.are.equal(1, sim.task.flappy.escalations)
    assert.truthy(sim.summary.run.result:find("^ESCALATED"))
  end)

  for _, strategy in ipairs({ "one_for_one", "one_for_all", "rest_for_one" }) do
    it("a group with strategy = " .. strategy .. ": the same children restarted", function()
      local cfg = tv.config{ tasks = {
        tv.group{ name = "g", strategy = strategy, children = {
          tv.task{ name = "first", run = function(ctx) while ctx:sleep(10) do end end },
          tv.task{ name = "crashy", restart = "on_failure", backoff = { first = 0.02 },
            run = function(ctx) if ctx.attempt <= 2 then ctx:sleep(0.05) error("crash") end
              while ctx:sleep(10) do end end },
          tv.task{ name = "last", run = function(ctx) while ctx:sleep(10) do end end },
        } } } }
      local real = same_story(cfg, { "first", "crashy", "last" }, 1.5, 5)
      local starts = function(n) return H.count(real, "TaskStarting", n) end
      assert.are.equal(3, starts("crashy"))
      assert.are.equal(strategy == "one_for_all" and 3 or 1, starts("first"))
      assert.are.equal(strategy == "one_for_one" and 1 or 3, starts("last"))
    end)
  end

  it("a timeout: TimeoutHit then the retry, alike", function()
    local cfg = tv.config{ tasks = { failing("slow", 5, "none", { timeout = 0.05 }) } }
    local _, sim = same_story(cfg, { "slow" }, 3, 9)
    assert.are.equal(5, H.count(sim.events, "TimeoutHit", "slow"))
  end)

  it("the controller: the same admissions, rejections and slot transitions", function()
    local cfg = tv.config{ supervisor = { controller = { max_slot_queue = 4 } }, tasks = {} }
    local function deploy(v, secs)
      return tv.task{ name = "deploy-" .. v, slot = "deploy", restart = "never",
        run = function(ctx) ctx:sleep(secs) end }
    end
    local function setup(sup)
      assert(sup:add(tv.task{ name = "driver", restart = "never", run = function(ctx)
        assert(sup:submit{ slot = "deploy", admission = "queue", task = deploy("v1", 0.2) })
        assert(sup:submit{ slot = "deploy", admission = "queue", task = deploy("v2", 0.1) })
        ctx:sleep(0.05)
        assert(sup:submit{ slot = "deploy", admission = "replace", task = deploy("v3", 0.1) })
        assert(not sup:submit{ slot = "deploy", admission = "drop_if_running", task = deploy("v4", 0.1) })
        ctx:sleep(0.3)
        assert(sup:submit{ slot = "deploy", admission = "queue", task = deploy("v5", 0.05) })
      end }))
    end
    local real, sim = same_story(cfg, { "controller", "driver", "deploy-v1", "deploy-v3", "deploy-v5" }, 1.5, 3, setup)
    assert.truthy(H.first(real, "ControllerRejected"))
    assert.are.equal(0, H.count(sim.events, "TaskStarting", "deploy-v4"))
  end)
end)
