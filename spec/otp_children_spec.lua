-- otp_children_spec: children of a running group (OTP's start_child,
-- terminate_child + delete_child on a subtree) and template groups (OTP's
-- simple_one_for_one): the strategy covers an added child (who restarts,
-- counted by TaskStarting), stop order, names, errors. Every step waits for
-- a state (is_alive / contains / an event count), never for the clock.
local H = require("helpers")
local tv = H.tv

local function worker(name) return H.cooperative(name, "always") end

-- The position of the n-th `kind` event of `task`.
local function nth(events, kind, task, n)
  for i, ev in ipairs(events) do
    if ev.kind == kind and ev.task == task then
      n = n - 1
      if n == 0 then return i end
    end
  end
  error(string.format("no %s #%d of %s", kind, n, task))
end

-- Polls `pred` from inside a task (yielding 5 ms at a time).
local function until_true(ctx, pred)
  while not pred() do ctx:sleep(0.005) end
end

-- A task that runs `body(ctx)` once `after` is ready, then shuts `sup` down.
local function driver(sup, after, body)
  return tv.task({ name = "driver", restart = "never", after = after, run = function(ctx)
    body(ctx)
    sup:shutdown()
  end })
end

-- A child whose first attempt fails once `flag.go` is set; later attempts run until stopped.
local function fails_on(name, flag)
  return tv.task({ name = name, restart = "always", backoff = { first = 0.001 }, run = function(ctx)
    if ctx.attempt == 1 then
      while not flag.go do ctx:sleep(0.005) end
      error("told to fail", 0)
    end
    while ctx:sleep(0.01) do end
  end })
end

describe("sup:add_child", function()
  it("starts the child in the running group; on shutdown it stops first (it is the last child)", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local ok, out = sup:run({ tv.group({ name = "g", children = { worker("a") } }),
      driver(sup, { "g" }, function(ctx)
        assert.is_true(sup:add_child("g", worker("b")))
        until_true(ctx, function() return sup:is_alive("b") end)
      end) })
    assert.is_true(ok, out)
    assert.is_true(H.index(events, "TaskStopped", "b") < H.index(events, "TaskStopped", "a"))
    assert.is_true(H.index(events, "TaskRemoved", "a") < H.index(events, "TaskRemoved", "g"))
    assert.equal("cancelled", out.b.status)
  end)

  it("one_for_all covers the added child: its failure restarts the static sibling, and the other way round", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local flag = {}
    local ok, out = sup:run({ tv.group({ name = "g", strategy = "one_for_all", children = { fails_on("a", flag) } }),
      driver(sup, { "g" }, function(ctx)
        assert.is_true(sup:add_child("g", worker("x")))
        until_true(ctx, function() return sup:is_alive("x") end)
        flag.go = true
        until_true(ctx, function() return H.count(events, "TaskStarting", "x") == 2 and sup:is_alive("x") end)
      end) })
    assert.is_true(ok, out)
    assert.equal(2, H.count(events, "TaskStarting", "a"))
    assert.equal(2, H.count(events, "TaskStarting", "x"))
    -- a's failure held x (stopped), then both came back in order: a, then x
    assert.is_true(H.index(events, "TaskFailed", "a") < H.index(events, "TaskStopped", "x"))
    assert.is_true(nth(events, "TaskStarting", "a", 2) < nth(events, "TaskStarting", "x", 2))
  end)

  it("rest_for_one orders it last: a failure of the middle child restarts it too, not the first", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local flag = {}
    local ok, out = sup:run({ tv.group({ name = "g", strategy = "rest_for_one", children = { worker("a"), fails_on("b", flag) } }),
      driver(sup, { "g" }, function(ctx)
        assert.is_true(sup:add_child("g", worker("c")))
        until_true(ctx, function() return sup:is_alive("c") end)
        flag.go = true
        until_true(ctx, function() return H.count(events, "TaskStarting", "c") == 2 and sup:is_alive("c") end)
      end) })
    assert.is_true(ok, out)
    assert.equal(1, H.count(events, "TaskStarting", "a"))
    assert.equal(2, H.count(events, "TaskStarting", "b"))
    assert.equal(2, H.count(events, "TaskStarting", "c"))
    -- restarted in order: b, then c
    local starts = {}
    for _, ev in ipairs(events) do
      if ev.kind == "TaskStarting" and (ev.task == "b" or ev.task == "c") then starts[#starts + 1] = ev.task end
    end
    assert.same({ "b", "c", "b", "c" }, starts)
  end)

  it("added before the group starts: started with the others, in order", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    assert(sup:add(tv.group({ name = "g", children = { worker("a") } })))
    assert.is_true(sup:add_child("g", worker("late")))
    local ok, out = sup:run({ driver(sup, { "g" }, function(ctx)
      until_true(ctx, function() return sup:is_alive("late") end)
    end) })
    assert.is_true(ok, out)
    assert.is_true(H.index(events, "TaskStarting", "a") < H.index(events, "TaskStarting", "late"))
  end)

  it("refusals: no such group, not a group, a name taken, significant under never; the group goes on", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local r = {}
    local ok, out = sup:run({ tv.group({ name = "g", children = { worker("a") } }), worker("solo"),
      driver(sup, { "g", "solo" }, function()
        r.nogroup = { sup:add_child("nope", worker("x")) }
        r.notgroup = { sup:add_child("solo", worker("x")) }
        r.taken = { sup:add_child("g", worker("solo")) }
        r.sig = { sup:add_child("g", tv.task({ name = "s", restart = "never", significant = true, run = function() end })) }
        r.alive = sup:is_alive("a")
      end) })
    assert.is_true(ok, out)
    assert.same({ nil, "ENOENT: no group named 'nope'" }, r.nogroup)
    assert.same({ nil, "ENOTSUP: 'solo' is not a group" }, r.notgroup)
    assert.same({ nil, "EEXIST: task 'solo' already exists" }, r.taken)
    assert.same({ nil, "ENOTSUP: task 's' is significant but group 'g''s auto_shutdown is \"never\"" }, r.sig)
    assert.is_true(r.alive)
    assert.equal(0, H.count(events, "TaskFailed", "g"))
    assert.equal(1, H.count(events, "TaskStarting", "g"))
  end)

  it("a group stopping refuses it: ESHUTDOWN", function()
    local sup = tv.supervisor({ grace = 30 })
    local r
    local ok, out = sup:run({ tv.group({ name = "g", children = {
      tv.task({ name = "slow", restart = "never", shutdown = 0.05, run = H.stubborn("slow").run }) } }),
      driver(sup, { "g" }, function()
        assert(sup:remove("g"))
        r = { sup:add_child("g", worker("x")) }
      end) })
    assert.is_true(ok, out)
    assert.same({ nil, "ESHUTDOWN: the group is stopping" }, r)
  end)
end)

describe("sup:remove_child", function()
  it("stops the child; a later one_for_all restart does not bring it back", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local flag = {}
    local r = {}
    local ok, out = sup:run({ tv.group({ name = "g", strategy = "one_for_all",
      children = { fails_on("a", flag), worker("b") } }),
      driver(sup, { "g" }, function(ctx)
        r.removed = { sup:remove_child("g", "b") }
        until_true(ctx, function() return not sup:contains("b") end)
        r.again = { sup:remove_child("g", "b") }
        flag.go = true
        until_true(ctx, function() return H.count(events, "TaskStarting", "a") == 2 and sup:is_alive("a") end)
      end) })
    assert.is_true(ok, out)
    assert.same({ true }, r.removed)
    assert.same({ nil, "ENOENT: group 'g' has no child 'b'" }, r.again)
    assert.equal(1, H.count(events, "TaskStarting", "b"))
    assert.equal("cancelled", out.b.status)
  end)
end)

describe("template groups (simple_one_for_one)", function()
  it("start_child(group, args) makes instances from template(args, n), named group/1, group/2, ...", function()
    local sup = tv.supervisor({ grace = 30 })
    local seen, names = {}, {}
    local ok, out = sup:run({
      tv.group({ name = "workers", template = function(args, n)
        return { restart = "never", run = function() seen[#seen + 1] = args.id .. "@" .. n end }
      end }),
      driver(sup, { "workers" }, function(ctx)
        for id = 1, 3 do names[#names + 1] = assert(sup:start_child("workers", { id = "job" .. id })) end
        until_true(ctx, function() return #seen == 3 end)
        until_true(ctx, function() return not sup:contains("workers/3") end)
        names[4] = assert(sup:start_child("workers", { id = "job4" })) -- a name is never reused
        until_true(ctx, function() return #seen == 4 end)
        assert.is_true(sup:is_alive("workers"), "a template group does not end when its children have")
      end) })
    assert.is_true(ok, out)
    assert.same({ "workers/1", "workers/2", "workers/3", "workers/4" }, names)
    table.sort(seen)
    assert.same({ "job1@1", "job2@2", "job3@3", "job4@4" }, seen)
    assert.equal("completed", out["workers/4"].status)
  end)

  it("a template table makes identical instances; a function may name its own", function()
    local sup = tv.supervisor({ grace = 30 })
    local r = {}
    local ok, out = sup:run({
      tv.group({ name = "pool", template = { restart = "always", run = function(ctx) while ctx:sleep(0.01) do end end } }),
      tv.group({ name = "named", template = function(args) return tv.task({ name = "job-" .. args, restart = "never",
        run = function() end }) end }),
      driver(sup, { "pool", "named" }, function(ctx)
        r.a = sup:start_child("pool")
        r.b = sup:start_child("pool")
        r.c = sup:start_child("named", "x")
        until_true(ctx, function() return sup:is_alive("pool/1") and sup:is_alive("pool/2") end)
        r.args = { pcall(sup.start_child, sup, "pool", { 1 }) }
        r.add = { sup:add_child("pool", worker("w")) }
        r.start = { sup:start_child("driver") }
        r.rm = { sup:remove_child("pool", "pool/1") }
        until_true(ctx, function() return not sup:contains("pool/1") end)
      end) })
    assert.is_true(ok, out)
    assert.equal("pool/1", r.a)
    assert.equal("pool/2", r.b)
    assert.equal("job-x", r.c)
    assert.is_false(r.args[1])
    assert.matches("sup:start_child: a template table takes no args", r.args[2])
    assert.same({ nil, "ENOTSUP: group 'pool' makes its children from its template (sup:start_child)" }, r.add)
    assert.same({ nil, "ENOTSUP: 'driver' is not a group" }, r.start)
    assert.same({ true }, r.rm)
    assert.equal("cancelled", out["pool/2"].status)
  end)

  it("start_child on a group without a template: ENOTSUP", function()
    local sup = tv.supervisor({ grace = 30 })
    local r
    local ok, out = sup:run({ tv.group({ name = "g", children = { worker("a") } }),
      driver(sup, { "g" }, function() r = { sup:start_child("g") } end) })
    assert.is_true(ok, out)
    assert.same({ nil, "ENOTSUP: group 'g' has no template (sup:add_child adds a spec)" }, r)
  end)

  it("instances share the group's budget: a crash-looping instance escalates the group", function()
    local sup = tv.supervisor({ grace = 30 })
    local events = H.collect(sup)
    local ok, out = sup:run({
      tv.group({ name = "pool", restart = "never", intensity = { max_restarts = 2, within = 60 },
        template = { restart = "always", backoff = { first = 0.001 }, run = function() error("boom", 0) end } }),
      driver(sup, { "pool" }, function(ctx)
        sup:start_child("pool")
        until_true(ctx, function() return not sup:contains("pool") end)
      end) })
    assert.is_true(ok, out)
    assert.equal(3, H.count(events, "TaskStarting", "pool/1"))
    assert.matches("more than 2 restarts within 60s %(group 'pool'%)", H.first(events, "TaskFailed", "pool").reason)
  end)
end)
