-- group_spec: supervision groups through the Lua API (tv.group): start order
-- and reverse stop order, the strategies, OTP's restart types, restart
-- intensity and escalation through nested groups, process children, and
-- the validation of group specs. Scenarios after Erlang's supervisor_SUITE.
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv

-- Runs `specs` (plus a stopper after `stop_after` seconds, if given).
local function run(specs, stop_after)
  local sup = tv.supervisor({ grace = 5 })
  local events = H.collect(sup)
  if stop_after then specs[#specs + 1] = H.stopper(sup, stop_after) end
  local ok, err = sup:run(specs)
  assert(ok, err)
  return events
end

-- "Kind task#attempt" of the events that tell a strategy's story, from the
-- first `from` ("Kind task") on; the stopper left out.
local STORY = { TaskStarting = true, TaskStopped = true, TaskFailed = true, TaskRemoved = true,
  ActorExhausted = true }
local function story(events, from)
  local out, on = {}, from == nil
  for _, ev in ipairs(events) do
    local line = ev.kind .. " " .. tostring(ev.task) .. (ev.attempt and ("#" .. ev.attempt) or "")
    if not on and (line == from or ev.kind .. " " .. tostring(ev.task) == from) then on = true end
    if on and STORY[ev.kind] and ev.task ~= "stopper" then
      out[#out + 1] = ev.kind .. " " .. ev.task .. (ev.attempt and ("#" .. ev.attempt) or "")
    end
  end
  return out
end

local function worker(name, restart) return H.cooperative(name, restart or "always") end

-- Fails its first attempt after `after` seconds, then runs until stopped.
local function flaky(name, after)
  return tv.task({
    name = name, restart = "always", backoff = { first = 0.01 },
    run = function(ctx)
      if ctx.attempt == 1 then
        ctx:sleep(after or 0.05)
        error("flaky")
      end
      while ctx:sleep(0.01) do end
    end,
  })
end

local function always_failing(name, opts)
  local spec = { name = name, restart = "always", backoff = { first = 0.01 },
    run = function(ctx) ctx:sleep(0.01) error("broken") end }
  for k, v in pairs(opts or {}) do spec[k] = v end
  return tv.task(spec)
end

describe("tv.group", function()
  it("starts children in order (each once the previous is ready) and stops them in reverse", function()
    local events = run({ tv.group({ name = "g", children = { worker("a"), worker("b"), worker("c") } }) }, 0.1)
    local kinds = {}
    for _, ev in ipairs(events) do
      if ev.task ~= "stopper" then kinds[#kinds + 1] = ev.kind .. " " .. tostring(ev.task) end
    end
    assert.same({ "TaskAddRequested g", "TaskAdded g", "TaskStarting g",
      "TaskAddRequested a", "TaskAdded a", "TaskStarting a",
      "TaskAddRequested b", "TaskAdded b", "TaskStarting b",
      "TaskAddRequested c", "TaskAdded c", "TaskStarting c", "TaskReady g",
      "ShutdownRequested nil",
      "TaskStopped c", "TaskRemoved c", "TaskStopped b", "TaskRemoved b", "TaskStopped a", "TaskRemoved a",
      "TaskStopped g", "TaskRemoved g", "AllStoppedWithinGrace nil" }, kinds)
  end)

  it("one_for_one: a failing child restarts alone", function()
    local events = run({ tv.group({ name = "g", children = { worker("a"), flaky("b"), worker("c") } }) }, 0.3)
    assert.same({ "TaskFailed b#1", "TaskStarting b#2" }, { story(events, "TaskFailed b")[1], story(events, "TaskFailed b")[2] })
    assert.equal(1, H.count(events, "TaskStarting", "a"))
    assert.equal(1, H.count(events, "TaskStarting", "c"))
  end)

  it("one_for_all: a failing child restarts every sibling (stopped last first, started in order)", function()
    local events = run({ tv.group({ name = "g", strategy = "one_for_all",
      children = { worker("a"), flaky("b"), worker("c") } }) }, 0.3)
    assert.same({ "TaskFailed b#1", "TaskStopped c#1", "TaskStopped a#1",
      "TaskStarting a#2", "TaskStarting b#2", "TaskStarting c#2",
      "TaskStopped c#2", "TaskRemoved c", "TaskStopped b#2", "TaskRemoved b",
      "TaskStopped a#2", "TaskRemoved a", "TaskStopped g#1", "TaskRemoved g" },
      story(events, "TaskFailed b"))
  end)

  it("rest_for_one: restarts the failing child and those started after it", function()
    local events = run({ tv.group({ name = "g", strategy = "rest_for_one",
      children = { worker("a"), flaky("b"), worker("c"), worker("d") } }) }, 0.3)
    local s = story(events, "TaskFailed b")
    assert.same({ "TaskFailed b#1", "TaskStopped d#1", "TaskStopped c#1",
      "TaskStarting b#2", "TaskStarting c#2", "TaskStarting d#2" }, { table.unpack(s, 1, 6) })
    assert.equal(1, H.count(events, "TaskStarting", "a"))
  end)

  it("never (temporary) siblings are stopped for good, not restarted", function()
    local events = run({ tv.group({ name = "g", strategy = "one_for_all",
      children = { worker("temp", "never"), flaky("perm"), worker("trans", "on_failure") } }) }, 0.3)
    local s = story(events, "TaskFailed perm")
    assert.same({ "TaskFailed perm#1", "TaskStopped trans#1", "TaskStopped temp#1", "TaskRemoved temp",
      "TaskStarting perm#2", "TaskStarting trans#2" }, { table.unpack(s, 1, 6) })
    assert.equal(1, H.count(events, "TaskStarting", "temp"))
  end)

  it("on_failure (transient) children ending normally restart nobody; the group then completes", function()
    local events = run({ tv.group({ name = "g", strategy = "one_for_all", children = {
      tv.task({ name = "t1", run = function(ctx) ctx:sleep(0.02) end }),
      tv.task({ name = "t2", run = function(ctx) ctx:sleep(0.04) end }),
    } }) })
    assert.same({ "TaskStarting g#1", "TaskStarting t1#1", "TaskStarting t2#1",
      "TaskStopped t1#1", "ActorExhausted t1#1", "TaskRemoved t1",
      "TaskStopped t2#1", "ActorExhausted t2#1", "TaskRemoved t2",
      "TaskStopped g#1", "ActorExhausted g#1", "TaskRemoved g" }, story(events))
  end)

  it("fails upward when its restart intensity is exceeded; its own policy restarts it", function()
    local events = run({ tv.group({ name = "g", intensity = { max_restarts = 2, within = 5 },
      max_retries = 1, backoff = { first = 0.01 },
      children = { worker("a"), always_failing("x") } }) })
    local failed = H.only(events, "g", "TaskFailed")
    assert.equal(2, #failed)
    assert.equal("execution failed: restart intensity exceeded: more than 2 restarts within 5s "
      .. "(group 'g'); children stopped", failed[1].reason)
    assert.same({ "TaskFailed x#3", "ActorExhausted x#3", "TaskRemoved x", "TaskStopped a#1",
      "TaskRemoved a", "TaskFailed g#1", "TaskStarting g#2", "TaskStarting a#1", "TaskStarting x#1" },
      { table.unpack(story(events, "TaskFailed x#3"), 1, 9) })
    assert.equal("max_retries_exceeded(1/1): " .. failed[2].reason, H.first(events, "ActorExhausted", "g").reason)
  end)

  it("escalates through two levels of nested groups", function()
    local events = run({ tv.group({ name = "top", strategy = "one_for_all", restart = "never",
      intensity = { max_restarts = 1, within = 5 },
      children = {
        worker("w"),
        { name = "mid", intensity = { max_restarts = 1, within = 5 }, backoff = { first = 0.01 },
          children = { always_failing("x") } },
      } }) })
    assert.equal(2, H.count(events, "TaskFailed", "mid"))
    assert.equal(2, H.count(events, "TaskStarting", "w")) -- restarted with mid (one_for_all)
    local top = H.first(events, "TaskFailed", "top")
    assert.equal("execution failed: restart intensity exceeded: more than 1 restarts within 5s "
      .. "(group 'top'); children stopped", top.reason)
    assert.same({ "TaskFailed mid#2", "ActorExhausted mid#2", "TaskRemoved mid", "TaskStopped w#2",
      "TaskRemoved w", "TaskFailed top#1", "ActorExhausted top#1", "TaskRemoved top" },
      story(events, "TaskFailed mid#2"))
  end)

  it("restarts a process child when a sibling fails (one_for_all), leaving no zombie", function()
    local pids = {}
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert(sup:run({
      tv.group({ name = "g", strategy = "one_for_all", children = {
        tv.process({ name = "p", cmd = { "/bin/sh", "-c", "echo $$; exec sleep 10" }, stdout = "events" }),
        flaky("b", 0.3),
      } }),
      H.stopper(sup, 0.8),
    }))
    for _, ev in ipairs(H.only(events, "p", "TaskOutput")) do pids[#pids + 1] = tonumber(ev.line) end
    assert.same({ "TaskStarting p#1", "TaskStarting b#1", "TaskFailed b#1", "TaskStopped p#1",
      "TaskStarting p#2", "TaskStarting b#2" }, { table.unpack(story(events, "TaskStarting p"), 1, 6) })
    assert.equal(2, #pids)
    for _, pid in ipairs(pids) do assert.is_false(P.alive(pid)) end
    assert.same({}, P.zombies())
  end)

  it("validates its spec, naming the field", function()
    local function err(opts)
      local ok, e = pcall(tv.group, opts)
      assert.is_false(ok)
      return e
    end
    assert.matches("tv.group: children%[2%]: 'name' must be a non%-empty string",
      err({ name = "g", children = { worker("a"), { run = function() end } } }))
    assert.matches("tv.group: 'strategy' must be one of", err({ name = "g", strategy = "all", children = { worker("a") } }))
    assert.matches("tv.group: 'children' must be a non%-empty list", err({ name = "g", children = {} }))
    assert.matches("tv.group: 'intensity.max_restarts' must be an integer",
      err({ name = "g", intensity = { max_restarts = -1 }, children = { worker("a") } }))
    assert.matches("tv.group: unknown option 'intensity.max'", err({ name = "g", intensity = { max = 1 }, children = { worker("a") } }))
    assert.matches("tv.group: 'on_exhausted' must be", err({ name = "g", on_exhausted = "explode", children = { worker("a") } }))
    assert.matches("tv.group: duplicate task name 'a' %(children%[2%]%.name%)",
      err({ name = "g", children = { worker("a"), worker("a") } }))
    assert.matches("duplicate task name 'a' %(children%[2%] %(a nested group%)%)",
      err({ name = "g", children = { worker("a"), { name = "sub", children = { worker("a") } } } }))
    assert.matches("tv.group: unknown option 'strategey'", err({ name = "g", strategey = "one_for_all", children = { worker("a") } }))
    local g = tv.group({ name = "g", children = { worker("a"), { name = "p", cmd = { "true" } } } })
    assert.equal("one_for_one", g.strategy)
    assert.equal(3, g.intensity.max_restarts)
    assert.equal(5, g.intensity.within)
    assert.equal("escalate", g.on_exhausted)
    assert.equal("a", g.children[1].name)
    assert.has_error(function() g.name = "x" end)
    assert.equal(g, tv.group(g))
  end)

  it("accepts a plain table as a group spec in sup:run and sup:add", function()
    local events = run({ { name = "g", children = { { name = "t", restart = "never", run = function() end } } } })
    assert.equal(1, H.count(events, "TaskStarting", "t"))
    assert.equal(1, H.count(events, "ActorExhausted", "g"))
  end)

  it("fails when a child's name is taken in the supervisor", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert(sup:run({ worker("a", "never"), tv.group({ name = "g", restart = "never", children = { worker("a") } }),
      H.stopper(sup, 0.1) }))
    assert.equal("execution failed: cannot start child 'a': EEXIST: a task of that name already "
      .. "exists in the supervisor; children stopped", H.first(events, "TaskFailed", "g").reason)
  end)
end)
