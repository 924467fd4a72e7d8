-- readiness_spec.lua: start order (`after`) and readiness of Lua tasks
-- (ready = "notify" and ctx:ready(), TaskReady), dependencies that complete,
-- fail or are missing, cycles and the validation of `after`.
local H = require("helpers")
local tv = H.tv

local run_tasks = H.run

-- Index of the event of `kind` about `task` with attempt `attempt`.
local function at(events, kind, task, attempt)
  for i, ev in ipairs(events) do
    if ev.kind == kind and ev.task == task and (attempt == nil or ev.attempt == attempt) then return i end
  end
  return nil
end

describe("after + ready = notify", function()
  it("the dependent's TaskStarting comes after the dependency's TaskReady, whatever the batch order", function()
    for _, order in ipairs({ "dependent first", "dependency first" }) do
      local db = tv.task{ name = "db", restart = "never", ready = "notify", run = function(ctx)
        ctx:sleep(0.03)
        ctx:ready()
        ctx:sleep(0.03)
      end }
      local app = tv.task{ name = "app", restart = "never", after = { "db" }, run = function() end }
      local events, r = run_tasks(order == "dependent first" and { app, db } or { db, app })
      assert.is_true(r[1], r[2])
      assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskReady#1", "TaskStopped#1",
        "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "db"), order)
      assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1",
        "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "app"), order)
      assert.is_true(at(events, "TaskReady", "db", 1) < at(events, "TaskStarting", "app", 1), order)
      assert.equal("completed", r[2].app.status)
    end
  end)

  it("a dependent waits as long as the dependency is not ready (no TaskReady before ctx:ready())", function()
    local app_started_at, ready_at
    local events = run_tasks({
      tv.task{ name = "db", restart = "never", ready = "notify", run = function(ctx)
        ctx:sleep(0.06)
        ready_at = tv.monotime()
        ctx:ready()
        ctx:sleep(0.02)
      end },
      tv.task{ name = "app", restart = "never", after = { "db" },
        run = function() app_started_at = tv.monotime() end },
    })
    assert.is_true(app_started_at >= ready_at)
    assert.equal(1, H.count(events, "TaskReady", "db"))
  end)

  it("ctx:ready() twice publishes one TaskReady", function()
    local events = run_tasks({
      tv.task{ name = "db", restart = "never", ready = "notify", run = function(ctx)
        ctx:ready(); ctx:ready(); ctx:sleep(0.01)
      end },
    })
    assert.equal(1, H.count(events, "TaskReady", "db"))
  end)

  it("a chain c -> b -> a starts in order a, b, c", function()
    local function notify(name, after)
      return tv.task{ name = name, restart = "never", ready = "notify", after = after, run = function(ctx)
        ctx:sleep(0.01); ctx:ready(); ctx:sleep(0.05)
      end }
    end
    local events = run_tasks({ notify("c", { "b" }), notify("b", { "a" }), notify("a") })
    assert.is_true(at(events, "TaskReady", "a") < at(events, "TaskStarting", "b"))
    assert.is_true(at(events, "TaskReady", "b") < at(events, "TaskStarting", "c"))
  end)

  it("waits for every dependency in its list", function()
    local function notify(name, delay)
      return tv.task{ name = name, restart = "never", ready = "notify", run = function(ctx)
        ctx:sleep(delay); ctx:ready(); ctx:sleep(0.05)
      end }
    end
    local events = run_tasks({
      tv.task{ name = "app", restart = "never", after = { "x", "y" }, run = function() end },
      notify("x", 0.01), notify("y", 0.04),
    })
    assert.is_true(at(events, "TaskReady", "x") < at(events, "TaskStarting", "app"))
    assert.is_true(at(events, "TaskReady", "y") < at(events, "TaskStarting", "app"))
  end)

  it("a task without explicit readiness is ready at start and publishes no TaskReady", function()
    local events, r = run_tasks({
      tv.task{ name = "db", restart = "never", run = function(ctx) ctx:sleep(0.05) end },
      tv.task{ name = "app", restart = "never", after = { "db" }, run = function() end },
    })
    assert.is_true(r[1], r[2])
    assert.equal(0, H.count(events, "TaskReady"))
    assert.is_true(at(events, "TaskStarting", "db") < at(events, "TaskStarting", "app"))
    assert.equal("completed", r[2].app.status)
  end)

  it("a dependency added earlier with sup:add satisfies a later sup:add", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    assert(sup:add(tv.task{ name = "db", restart = "never", ready = "notify", run = function(ctx)
      ctx:sleep(0.02); ctx:ready(); ctx:sleep(0.03)
    end }))
    assert(sup:add(tv.task{ name = "app", restart = "never", after = { "db" }, run = function() end }))
    assert.is_true(sup:run())
    assert.is_true(at(events, "TaskReady", "db") < at(events, "TaskStarting", "app"))
  end)
end)

describe("dependencies that end", function()
  it("a long-running dependency ready at start satisfies its dependent", function()
    local events, r = run_tasks({
      tv.once("init", function(ctx) ctx:sleep(0.03) end),
      tv.task{ name = "app", restart = "never", after = { "init" }, run = function() end },
    })
    assert.equal("completed", r[2].app.status)
    assert.equal(0, H.count(events, "ActorDead", "app"))
  end)

  it("a one-shot dependency that completes at once satisfies its dependent, in either batch order", function()
    for _, order in ipairs({ "dependency first", "dependent first" }) do
      local init = tv.once("init", function() end)
      local app = tv.task{ name = "app", restart = "never", after = { "init" }, run = function() end }
      local events, r = run_tasks(order == "dependency first" and { init, app } or { app, init })
      assert.equal(0, H.count(events, "ActorDead", "app"), order)
      assert.equal("completed", r[2].app.status, order)
    end
  end)

  it("a notify dependency that calls ctx:ready() and returns at once satisfies its dependent", function()
    local events, r = run_tasks({
      tv.once("init", function(ctx) ctx:sleep(0.02); ctx:ready() end, { ready = "notify" }),
      tv.task{ name = "app", restart = "never", after = { "init" }, run = function() end },
    })
    assert.equal(1, H.count(events, "TaskReady", "init"))
    assert.equal(0, H.count(events, "ActorDead", "app"))
    assert.equal("completed", r[2].app.status)
  end)

  it("a notify one-shot that completes without calling ctx:ready() counts as ready", function()
    local events, r = run_tasks({
      tv.once("init", function(ctx) ctx:sleep(0.02) end, { ready = "notify" }),
      tv.task{ name = "app", restart = "never", after = { "init" }, run = function() end },
    })
    assert.equal(0, H.count(events, "ActorDead", "app"))
    assert.equal("completed", r[2].app.status)
  end)

  it("a dependency that fails before it is ready ends the dependent: ActorDead 'dependency ... is not running'", function()
    local events, r = run_tasks({
      tv.once("init", function(ctx) ctx:sleep(0.02); error("x", 0) end, { ready = "notify" }),
      tv.task{ name = "app", restart = "never", after = { "init" }, run = function() end },
    })
    assert.same({ "TaskAddRequested", "TaskAdded", "ActorDead#0", "TaskRemoved" }, H.trace(events, "app"))
    assert.matches("^dependency 'init' is not running", H.first(events, "ActorDead", "app").reason)
    assert.same({ status = "dead", attempts = 0, reason = H.first(events, "ActorDead", "app").reason }, r[2].app)
  end)

  it("a dependency that is not registered ends the dependent at once; other tasks run on", function()
    -- (added while running: sup:run refuses such an 'after' among the tasks it starts)
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    local added
    local ok, outcomes = sup:run({
      tv.once("adder", function()
        added = { sup:add(tv.task{ name = "app", restart = "never", after = { "nope" },
          run = function() error("never") end }) }
      end),
      tv.once("other", function(ctx) ctx:sleep(0.02) end),
    })
    local r = { ok, outcomes }
    assert.same({ true }, added)
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "ActorDead#0", "TaskRemoved" }, H.trace(events, "app"))
    assert.equal("dependency 'nope' is not running: no task of that name (it must be added before this one "
      .. "starts, and not end before it is ready)", H.first(events, "ActorDead", "app").reason)
    assert.equal("completed", r[2].other.status)
  end)

  it("a blocked dependent is cancelled cleanly by a shutdown (no attempt, outcome cancelled)", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    local ok = sup:run({
      tv.task{ name = "db", restart = "never", ready = "notify", run = function(ctx) ctx:sleep(5) end },
      tv.task{ name = "app", restart = "never", after = { "db" }, run = function() error("never") end },
      H.stopper(sup, 0.02),
    })
    assert.is_true(ok)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskRemoved" }, H.trace(events, "app"))
    assert.equal("cancelled", sup:outcomes().app.status)
    assert.equal(0, sup:outcomes().app.attempts)
  end)
end)

describe("validation of after and ready", function()
  local function spec(after)
    return { name = "a", run = function() end, after = after }
  end

  it("a cycle in one sup:run batch is an error naming it, and nothing is added", function()
    local sup = tv.supervisor{}
    local ok, err = pcall(sup.run, sup, {
      tv.task{ name = "a", after = { "b" }, run = function() end },
      tv.task{ name = "b", after = { "a" }, run = function() end },
    })
    assert.is_false(ok)
    assert.matches("'after' makes a cycle: a %-> b %-> a", err)
    assert.same({}, sup:list())
  end)

  it("a longer cycle is named in full", function()
    local sup = tv.supervisor{}
    local ok, err = pcall(sup.run, sup, {
      tv.task{ name = "a", after = { "b" }, run = function() end },
      tv.task{ name = "b", after = { "c" }, run = function() end },
      tv.task{ name = "c", after = { "a" }, run = function() end },
    })
    assert.is_false(ok)
    assert.matches("'after' makes a cycle: a %-> b %-> c %-> a %(none of them could start%)", err)
  end)

  it("self-dependency, a non-list, non-string names, duplicates and more than 64 names are refused", function()
    assert.has_error(function() tv.task(spec({ "a" })) end, "tv.task: 'after' names the task itself ('a')")
    assert.has_error(function() tv.task(spec("b")) end, "tv.task: 'after' must be a list of task names (got \"b\")")
    assert.has_error(function() tv.task(spec({ x = "b" })) end,
      "tv.task: 'after' must be a list of task names (it has key \"x\")")
    assert.has_error(function() tv.task(spec({ 1 })) end, "tv.task: 'after[1]' must be a non-empty string (got 1)")
    assert.has_error(function() tv.task(spec({ "b", "b" })) end, "tv.task: 'after' names 'b' twice")
    local many = {}
    for i = 1, 65 do many[i] = "t" .. i end
    assert.has_error(function() tv.task(spec(many)) end, "tv.task: 'after' may name at most 64 tasks (got 65)")
    many[65] = nil
    assert.is_not_nil(tv.task(spec(many)))
    assert.has_error(function() tv.task{ name = "a", run = function() end, ready = "bogus" } end,
      "tv.task: 'ready' must be one of \"started\", \"notify\", \"completed\" (got \"bogus\")")
  end)

  it("sup:add validates a plain table the same way", function()
    local sup = tv.supervisor{}
    assert.has_error(function() sup:add(spec({ "a" })) end, "sup:add: 'after' names the task itself ('a')")
  end)
end)

-- A cycle made across separate adds (each add alone is fine) used to leave its tasks waiting for
-- each other forever; now the add that would close it is refused. Every run here is bounded by a
-- watchdog, so the old behaviour fails the test instead of hanging it.
describe("after cycles across separate adds", function()
  local function noop() end
  local function after(name, deps, opts)
    local o = { name = name, restart = "never", after = deps, run = noop }
    for k, v in pairs(opts or {}) do o[k] = v end
    return tv.task(o)
  end

  -- A supervisor with a watchdog: it shuts the supervisor down (hung = true) if anything else
  -- is still registered after `secs`, and otherwise ends with the rest.
  local function guarded(secs)
    local sup = tv.supervisor{ grace = 1 }
    local events = H.collect(sup)
    local state = { hung = false }
    assert(sup:add(tv.task{ name = "watchdog", restart = "never", run = function(ctx)
      local t0 = tv.monotime()
      ctx:sleep(0.01)
      while #sup:list() > 1 do
        if tv.monotime() - t0 > secs then
          state.hung = true
          state.left = sup:list()
          sup:shutdown()
          return
        end
        ctx:sleep(0.01)
      end
    end }))
    return sup, events, state
  end

  it("a after b, then b after a: the second add fails with EINVAL naming the cycle; a ends", function()
    local sup, events, state = guarded(2)
    assert(sup:add(after("a", { "b" })))
    local ok, err = sup:add(after("b", { "a" }))
    assert.is_nil(ok)
    assert.equal("EINVAL: 'after' would make a cycle: b -> a -> b (none of them could start); "
      .. "task 'b' not added", err)
    assert.same({ "a", "watchdog" }, sup:list())
    assert.is_true(sup:run())
    assert.is_false(state.hung, "hung: " .. table.concat(state.left or {}, ","))
    assert.equal("after_cycle: b -> a -> b", H.first(events, "TaskAddFailed", "b").reason)
    assert.matches("^dependency 'b' is not running", H.first(events, "ActorDead", "a").reason)
    assert.equal(0, H.count(events, "TaskAdded", "b"))
  end)

  it("b after c, a after b, then c after a (from a running task): refused; a task already running is unharmed", function()
    local sup, events, state = guarded(2)
    local got = {}
    assert(sup:add(tv.task{ name = "other", restart = "never", run = function(ctx) ctx:sleep(0.3) end }))
    assert(sup:add(tv.task{ name = "adder", restart = "never", run = function(ctx)
      ctx:sleep(0.02)
      got.b = { sup:add(after("b", { "c" })) }
      got.a = { sup:add(after("a", { "b" })) }
      got.c = { sup:add(after("c", { "a" })) }
    end }))
    local ok, outcomes = sup:run()
    assert.is_true(ok)
    assert.is_false(state.hung, "hung: " .. table.concat(state.left or {}, ","))
    assert.same({ true }, got.b)
    assert.same({ true }, got.a)
    assert.same({ nil, "EINVAL: 'after' would make a cycle: c -> a -> b -> c (none of them could start); "
      .. "task 'c' not added", n = 2 }, table.pack(table.unpack(got.c, 1, 2)))
    assert.equal("completed", outcomes.other.status)
    assert.equal("dead", outcomes.a.status)
    assert.equal("dead", outcomes.b.status)
    assert.is_nil(outcomes.c)
  end)

  it("through a group's child: x after g, then g{ c1 after x } is refused, and the other way round", function()
    local sup, _, state = guarded(2)
    assert(sup:add(after("x", { "g" })))
    local ok, err = sup:add(tv.group{ name = "g", children = { tv.once("c1", noop, { after = { "x" } }) } })
    assert.is_nil(ok)
    assert.equal("EINVAL: 'after' would make a cycle: g -> c1 -> x -> g (none of them could start); "
      .. "task 'g' not added", err)
    assert.is_true(sup:run())
    assert.is_false(state.hung)

    sup, _, state = guarded(2)
    assert(sup:add(tv.group{ name = "g", children = { tv.once("c1", noop, { after = { "x" } }) } }))
    ok, err = sup:add(after("x", { "g" }))
    assert.is_nil(ok)
    assert.equal("EINVAL: 'after' would make a cycle: x -> g -> c1 -> x (none of them could start); "
      .. "task 'x' not added", err)
    assert.is_true(sup:run())
    assert.is_false(state.hung)
  end)

  it("through a nested group, while the outer group is bringing up its children", function()
    local sup, events, state = guarded(3)
    local added = false -- 'slow' is not ready until the add was tried (no race of timers)
    local slow = tv.task{ name = "slow", restart = "never", ready = "notify", run = function(ctx)
      while not added do ctx:sleep(0.01) end
      ctx:ready(); ctx:sleep(0.01)
    end }
    assert(sup:add(tv.group{ name = "g", children = {
      slow, tv.group{ name = "h", children = { tv.once("c2", noop, { after = { "x" } }) } } } }))
    local got
    assert(sup:add(tv.once("adder", function(ctx)
      ctx:sleep(0.05) -- g is up to 'slow', which is not ready yet
      got = { sup:add(after("x", { "g" })) }
      added = true
    end)))
    assert.is_true(sup:run())
    assert.is_false(state.hung, "hung: " .. table.concat(state.left or {}, ","))
    assert.equal("EINVAL: 'after' would make a cycle: x -> g -> h -> c2 -> x (none of them could "
      .. "start); task 'x' not added", got[2])
    assert.equal(1, H.count(events, "TaskReady", "g")) -- the group came up (c2 ended: no x)
  end)

  it("sup:run refuses a batch closing a cycle through a task already added, and adds none of it", function()
    local sup, _, state = guarded(2)
    assert(sup:add(after("worker", { "db" })))
    local ok, err = sup:run({ after("db", { "migrate" }), after("migrate", { "worker" }), after("free", {}) })
    assert.is_nil(ok)
    assert.equal("EINVAL: 'after' would make a cycle: db -> migrate -> worker -> db (none of them "
      .. "could start); no task of this batch was added", err)
    assert.same({ "watchdog", "worker" }, sup:list())
    assert.is_true(sup:run())
    assert.is_false(state.hung)
  end)

  it("what is no cycle is accepted: a diamond over separate adds, and a task after a running one", function()
    local sup, events, state = guarded(2)
    assert(sup:add(after("top", { "left", "right" })))
    assert(sup:add(after("left", { "base" })))
    assert(sup:add(after("right", { "base" })))
    assert(sup:add(tv.once("base", function(ctx) ctx:sleep(0.02) end)))
    assert(sup:add(tv.group{ name = "g", after = { "base" }, children = { after("c", { "top" }) } }))
    assert(sup:add(after("late", { "g", "top" })))
    local ok, outcomes = sup:run()
    assert.is_true(ok)
    assert.is_false(state.hung)
    assert.equal(0, H.count(events, "TaskAddFailed"))
    for _, n in ipairs({ "top", "left", "right", "base", "g", "c", "late" }) do
      assert.equal("completed", outcomes[n].status, n)
    end
  end)
end)

describe("ctx:ready() and the task's readiness", function()
  it("ready = \"completed\": ctx:ready() raises, naming the mode; the task is ready when it completes", function()
    local err
    local events, r = run_tasks({
      tv.once("init", function(ctx)
        err = select(2, pcall(ctx.ready, ctx))
        ctx:sleep(0.02)
      end, { ready = "completed" }),
      tv.task{ name = "app", restart = "never", after = { "init" }, run = function() end },
    })
    assert.equal("ctx:ready: task 'init' is ready when it completes (ready = \"completed\"); "
      .. "ctx:ready() is for ready = \"notify\"", err)
    assert.equal(0, H.count(events, "TaskReady"))
    assert.is_true(at(events, "ActorExhausted", "init") < at(events, "TaskStarting", "app"))
    assert.equal("completed", r[2].app.status)
  end)

  it("ready = \"completed\": an uncaught ctx:ready() fails the attempt with that message", function()
    local events = run_tasks({ tv.once("init", function(ctx) ctx:ready() end, { ready = "completed" }) })
    assert.matches("ctx:ready: task 'init' is ready when it completes", H.first(events, "TaskFailed", "init").reason,
      1, true)
  end)

  it("the default (ready at start): ctx:ready() is a no-op, even before the first yield (no TaskReady)", function()
    local n
    local events, r = run_tasks({
      tv.once("plain", function(ctx) n = select("#", ctx:ready()); ctx:sleep(0.01); ctx:ready() end),
    })
    assert.equal(0, n)
    assert.equal(0, H.count(events, "TaskReady"))
    assert.equal("completed", r[2].plain.status)
  end)
end)
