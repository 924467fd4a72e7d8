-- reload_spec: live reload through taskvisor.reload (the control API's
-- POST /v1/reload calls the same apply): each class of the plan checked
-- against PIDs (a changed cmd gets a new pid, an unchanged or policy-only
-- task keeps its own, and the new policy takes effect at its next exit),
-- operator stops surviving reloads, an invalid config changing nothing, a
-- script refused, groups, and the rule functions are compared by.
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv
local C = require("taskvisor.config")
local R = require("taskvisor.reload")

local function has(s, sub) return s ~= nil and s:find(sub, 1, true) ~= nil end

local V1 = [[
local tv = require("taskvisor")
local port = 8080
return tv.config{ supervisor = { grace = 5 }, tasks = {
  tv.process{ name = "same", cmd = { "sleep", "100" } },
  tv.process{ name = "cmd", cmd = { "sleep", "100" } },
  tv.process{ name = "pol", cmd = { "sleep", "100" }, restart = "always", backoff = { first = 0.01 } },
  tv.process{ name = "gone", cmd = { "sleep", "100" } },
  tv.task{ name = "fn", run = function(ctx) local p = port while ctx:sleep(0.05) do end end },
  { name = "plain", run = function(ctx) while ctx:sleep(0.05) do end end },
  tv.group{ name = "g", strategy = "one_for_one", children = {
    tv.process{ name = "g1", cmd = { "sleep", "100" }, restart = "always" },
    tv.process{ name = "g2", cmd = { "sleep", "100" }, restart = "always" },
  } },
} }
]]

local function edit(text, from, to)
  local i, j = text:find(from, 1, true)
  assert(i, "not in the config: " .. from)
  return text:sub(1, i - 1) .. to .. text:sub(j + 1)
end

-- A host as the control server holds it: the config at `path` built and
-- run, with a driver task `drive(host, events, pid)`; shut down when it returns.
local function hosted(text, drive)
  local path = H.script(text)
  local cfg = assert(C.load(path))
  local sup = assert(C.build(cfg, tv.supervisor))
  local events = H.collect(sup)
  local host = { sup = sup, path = path, config = cfg }
  local function pid(n) local p = sup:process(n) return p and p.pid end
  local failure
  assert(sup:add(tv.task({ name = "driver", restart = "never", run = function()
    local ok, err = pcall(drive, host, events, pid)
    if not ok then failure = err end
    sup:shutdown()
  end })))
  local r = table.pack(sup:run())
  os.remove(path)
  assert(failure == nil, failure)
  assert(r[1], r[2])
  return events, host
end

local function write(host, text)
  local f = assert(io.open(host.path, "w"))
  f:write(text)
  f:close()
end

local function all_up(pid, names)
  return function()
    for _, n in ipairs(names) do if not pid(n) then return false end end
    return true
  end
end

describe("reload", function()
  it("classifies every task, applies the plan, and the PIDs say so", function()
    local V2 = edit(V1, '"cmd", cmd = { "sleep", "100" }', '"cmd", cmd = { "sleep", "101" }')
    V2 = edit(V2, "first = 0.01", "first = 0.25")
    V2 = edit(V2, '  tv.process{ name = "gone", cmd = { "sleep", "100" } },\n',
      '  tv.process{ name = "new", cmd = { "sleep", "100" } },\n')
    V2 = edit(V2, "local port = 8080", "local port = 8081")
    V2 = edit(V2, '"g1", cmd = { "sleep", "100" }, restart = "always"',
      '"g1", cmd = { "sleep", "100" }, restart = "always", max_retries = 5')
    local dry, plan, before, after = nil, nil, {}, {}
    local events = hosted(V1, function(host, ev, pid)
      local names = { "same", "cmd", "pol", "gone", "g1", "g2" }
      assert(H.wait_for(all_up(pid, names)))
      for _, n in ipairs(names) do before[n] = pid(n) end
      write(host, V2)
      dry = assert(R.apply(host, { dry_run = true }))
      for _, n in ipairs(names) do assert.equal(before[n], pid(n)) end -- a dry run changes nothing
      plan = assert(R.apply(host, {}))
      assert(H.wait_for(function() return pid("cmd") and pid("cmd") ~= before.cmd and pid("new") end))
      assert(H.wait_for(function() return not P.alive(before.gone) end))
      for _, n in ipairs({ "same", "cmd", "pol", "g1", "g2", "new" }) do after[n] = pid(n) end
      assert.falsy(H.contains(host.sup:list(), "gone"))
      -- the policy-only change takes effect at the next exit: a 250 ms backoff
      assert(host.sup:signal("pol", "KILL"))
      assert(H.wait_for(H.has(ev, "BackoffScheduled", "pol")))
    end)
    for _, p in ipairs({ dry, plan }) do
      assert.same({ "new" }, p.add)
      assert.same({ "gone" }, p.remove)
      assert.same({ "cmd", "fn" }, p.restart)
      assert.same({ "pol", "g1" }, p.update)
      assert.same({ "same", "plain" }, p.unchanged)
      assert.equal("cmd, process changed", p.why.cmd)
      assert.equal("run changed", p.why.fn)
      assert.equal("backoff changed", p.why.pol)
      assert.equal("max_retries changed", p.why.g1)
    end
    assert.is_true(dry.dry_run)
    assert.is_false(plan.dry_run)
    assert.equal(before.same, after.same)
    assert.equal(before.pol, after.pol)
    assert.equal(before.g1, after.g1)
    assert.equal(before.g2, after.g2)
    assert.are_not.equal(before.cmd, after.cmd)
    assert.same({ 250 }, H.field_list(H.only(events, "pol", "BackoffScheduled"), "delay_ms"))
    -- the unchanged ones were never stopped; the restarted one was, once
    for _, n in ipairs({ "same", "pol", "g1", "g2", "plain" }) do
      assert.equal(0, H.count(events, "TaskRemoveRequested", n), n)
    end
    assert.equal(1, H.count(events, "TaskStarting", "same"))
    -- (config.build added the first ones before the collector subscribed)
    assert.equal(1, H.count(events, "TaskAdded", "cmd"))
    assert.equal(1, H.count(events, "TaskAdded", "fn"))
    assert.equal(1, H.count(events, "TaskAdded", "new"))
    assert.equal(0, H.count(events, "TaskAdded", "same"))
    -- the new cmd is added only once the old one is gone
    assert.truthy(H.index(events, "TaskRemoved", "cmd") < H.index(events, "TaskAdded", "cmd"))
  end)

  -- child `changed` of group g (strategy `strategy`) gets a new cmd: which
  -- children get new pids
  local function remake(strategy, changed)
    local V = edit(V1, 'strategy = "one_for_one"', string.format("strategy = %q", strategy))
    local V2 = edit(V, string.format('"%s", cmd = { "sleep", "100" }', changed),
      string.format('"%s", cmd = { "sleep", "102" }', changed))
    local plan, before, after = nil, {}, {}
    local events = hosted(V, function(host, ev, pid)
      assert(H.wait_for(all_up(pid, { "g1", "g2" })))
      before.g1, before.g2 = pid("g1"), pid("g2")
      write(host, V2)
      plan = assert(R.apply(host, {}))
      assert(H.wait_for(function() return pid(changed) and pid(changed) ~= before[changed] end))
      assert(H.wait_for(all_up(pid, { "g1", "g2" })))
      after.g1, after.g2 = pid("g1"), pid("g2")
      -- (read once the new child shows its command line: a loaded machine
      -- may report its pid a moment before /proc has it)
      assert(H.wait_for(function()
        local c = pid(changed) and P.read("/proc/" .. pid(changed) .. "/cmdline")
        after.cmdline = c
        return c and c ~= ""
      end))
      -- and a second reload of the same file changes nothing
      local again = assert(R.apply(host, {}))
      assert.same({}, again.restart)
      assert.same({}, again.update)
    end)
    assert.same({ changed }, plan.restart)
    assert.equal("cmd, process changed", plan.why[changed])
    assert.same({}, plan.update)
    assert.equal(1, H.count(events, "TaskStarting", "g")) -- the group itself ran on
    assert.equal(0, H.count(events, "TaskRemoveRequested", changed)) -- remade by its group
    assert.equal("sleep\0" .. "102\0", after.cmdline)
    return before.g1 ~= after.g1, before.g2 ~= after.g2, events
  end

  it("remakes a changed group child alone under one_for_one", function()
    local g1, g2 = remake("one_for_one", "g2")
    assert.same({ false, true }, { g1, g2 })
    g1, g2 = remake("one_for_one", "g1")
    assert.same({ true, false }, { g1, g2 })
  end)

  it("remakes a changed child with every sibling under one_for_all", function()
    local g1, g2 = remake("one_for_all", "g2")
    assert.same({ true, true }, { g1, g2 })
  end)

  it("remakes a changed child and the later ones under rest_for_one", function()
    local g1, g2 = remake("rest_for_one", "g1")
    assert.same({ true, true }, { g1, g2 })
    g1, g2 = remake("rest_for_one", "g2")
    assert.same({ false, true }, { g1, g2 })
  end)

  it("remakes an operator-stopped group child stopped", function()
    local V2 = edit(V1, '"g2", cmd = { "sleep", "100" }', '"g2", cmd = { "sleep", "102" }')
    local started
    local events = hosted(V1, function(host, ev, pid)
      assert(H.wait_for(all_up(pid, { "g1", "g2" })))
      local g1 = pid("g1")
      assert(host.sup:stop_task("g2", 30))
      write(host, V2)
      assert.same({ "g2" }, assert(R.apply(host, {})).restart)
      assert(H.wait_for(H.has(ev, "TaskStopped", "g2", 0))) -- the new one, held before it ran
      assert.is_true(host.sup:stopped("g2"))
      assert.is_nil(pid("g2"))
      assert.equal(g1, pid("g1"))
      assert(host.sup:start_task("g2"))
      assert(H.wait_for(function() return pid("g2") end))
      started = P.read("/proc/" .. pid("g2") .. "/cmdline")
    end)
    assert.equal("sleep\0" .. "102\0", started)
    assert.equal("operator", H.first(events, "TaskStopped", "g2").reason)
  end)

  it("restarts the whole group when its own strategy changed", function()
    local V2 = edit(V1, 'strategy = "one_for_one"', 'strategy = "one_for_all"')
    local plan
    hosted(V1, function(host, ev, pid)
      assert(H.wait_for(all_up(pid, { "g1", "g2" })))
      write(host, V2)
      plan = assert(R.apply(host, {}))
      assert(H.wait_for(H.has(ev, "TaskAdded", "g")))
    end)
    assert.same({ "g" }, plan.restart)
    assert.equal("strategy changed", plan.why.g)
  end)

  it("keeps operator-stopped tasks stopped: unchanged, updated, or restarted", function()
    local V2 = edit(V1, '"cmd", cmd = { "sleep", "100" }', '"cmd", cmd = { "sleep", "101" }')
    V2 = edit(V2, "first = 0.01", "first = 0.25")
    local marks = {}
    local events = hosted(V1, function(host, ev, pid)
      local sup = host.sup
      assert(H.wait_for(all_up(pid, { "same", "cmd", "pol" })))
      for _, n in ipairs({ "same", "cmd", "pol" }) do assert(sup:stop_task(n, 30)) end
      marks.stopped = #ev
      write(host, V2)
      local plan = assert(R.apply(host, {}))
      assert.same({ "cmd" }, plan.restart)
      assert(H.wait_for(H.has(ev, "TaskStopped", "cmd", 0))) -- the new one, held before it ran
      for _, n in ipairs({ "same", "cmd", "pol" }) do assert.is_true(sup:stopped(n), n) end
      -- and again: nothing changed, still stopped
      assert(R.apply(host, {}))
      for _, n in ipairs({ "same", "cmd", "pol" }) do assert.is_true(sup:stopped(n), n) end
      assert.is_nil(pid("cmd"))
      marks.done = #ev
      assert(sup:start_task("cmd"))
      assert(H.wait_for(function() return pid("cmd") end))
    end)
    for i = marks.stopped + 1, marks.done do
      local e = events[i]
      assert.is_false(e.kind == "TaskStarting" and (e.task == "same" or e.task == "cmd" or e.task == "pol"),
        e.kind .. " " .. tostring(e.task))
    end
  end)

  it("changes nothing when the new config is invalid, and says where", function()
    local cases = {
      { "return tv.config{ tasks = { ", "near <eof>" }, -- (a syntax error: its file:line)
      { edit(V1, '{ name = "plain", run', '{ name = "plain", restart = "sometimes", run'),
        "tasks[6] (plain): 'restart' must be one of" },
      { edit(V1, '"same", cmd = { "sleep", "100" }', '"same", cmd = { "no-such-program-xyz" }'),
        "tasks[1] (same): ENOENT: program 'no-such-program-xyz' not found" },
      { edit(V1, '"gone", cmd = { "sleep", "100" }', '"gone", cmd = { "sleep", "100" }, after = { "nobody" }'),
        "tasks[4] (gone): 'after' names 'nobody', which is no task of this config" },
      { edit(V1, '"gone", cmd = { "sleep", "100" }', '"g1", cmd = { "sleep", "100" }'),
        "name 'g1' is used twice" },
      { edit(V1, '"gone", cmd = { "sleep", "100" }', '"driver", cmd = { "sleep", "100" }'),
        "tasks[4] (driver): a task of that name is already running (not one of the config's" },
    }
    local results, before, after = {}, nil, nil
    hosted(V1, function(host, ev, pid)
      assert(H.wait_for(all_up(pid, { "same", "cmd" })))
      before = { pid("same"), pid("cmd"), #host.sup:list() }
      local cfg = host.config
      for i, c in ipairs(cases) do
        write(host, c[1])
        results[i] = { R.apply(host, {}) }
        assert.equal(cfg, host.config) -- the running config stays the one recorded
      end
      after = { pid("same"), pid("cmd"), #host.sup:list() }
    end)
    assert.same(before, after)
    for i, r in ipairs(results) do
      assert.is_nil(r[1], i)
      assert.truthy(has(r[2], "ECONFIG: "), r[2])
      assert.is_table(r[3])
      local all = table.concat(r[3], "\n")
      assert.truthy(has(all, cases[i][2]), all)
      assert.truthy(all:find("%.lua:%d+: ") ~= nil, all) -- file:line
    end
    -- the plain table's error names its own line (the file's line 9)
    assert.truthy(results[2][3][1]:find("%.lua:9: tasks%[6%]") ~= nil, results[2][3][1])
  end)

  it("answers EBUSY while a restart is still waiting for the old task, ESHUTDOWN once stopping", function()
    local V = edit(V1, '"cmd", cmd = { "sleep", "100" }',
      '"cmd", cmd = { "sh", "-c", "trap \'\' TERM; while :; do sleep 0.05; done" }, stop_timeout = 0.5')
    local V2 = edit(V, "stop_timeout = 0.5", "stop_timeout = 0.6")
    local busy, later, stopping
    hosted(V, function(host, ev, pid)
      assert(H.wait_for(all_up(pid, { "cmd" })))
      write(host, V2)
      assert.same({ "cmd" }, assert(R.apply(host, {})).restart)
      busy = { R.apply(host, {}) } -- the old one ignores SIGTERM until its stop_timeout
      assert(H.wait_for(H.has(ev, "TaskAdded", "cmd")))
      later = assert(R.apply(host, {}))
      host.sup:shutdown()
      stopping = { R.apply(host, {}) }
    end)
    assert.same({ nil, "EBUSY: the previous reload is still restarting 1 task" }, busy)
    assert.same({}, later.restart)
    assert.same({ nil, "ESHUTDOWN: the supervisor is stopping; nothing was changed" }, stopping)
  end)

  it("refuses a script config, and says why", function()
    local path = H.script("return 42")
    local sup = tv.supervisor({})
    local r = { R.apply({ sup = sup, path = path, config = tv.config({ tasks = {} }) }, {}) }
    assert.is_nil(r[1])
    assert.truthy(has(r[2], "ERELOAD: cannot be reloaded: " .. path .. ": does not return a declarative config"), r[2])
    r = { R.apply({ sup = sup, path = path, script = "it runs its own supervisor (sup:run)" }, {}) }
    assert.same({ nil, "ERELOAD: cannot be reloaded: it runs its own supervisor (sup:run)" }, r)
    r = { R.apply({ sup = sup, path = path, script = R.script_reason(path) }, {}) }
    assert.same({ nil, "ERELOAD: cannot be reloaded: " .. path .. " runs its own supervisor (it calls "
      .. "sup:run() instead of returning tv.config{...}): only a declarative config can be diffed; "
      .. "restart the host to change it" }, r)
    r = { R.apply({ sup = sup }, {}) }
    assert.truthy(has(r[2], "ERELOAD: cannot be reloaded: the host runs no declarative config"), r[2])
    assert.has_error(function() R.apply(nil, {}) end)
    os.remove(path)
  end)
end)

describe("reload's comparison of functions", function()
  local function mk(src) return assert(load(src))() end
  it("ignores lines, compares upvalues by value, nested functions and plain tables by content", function()
    local a = mk("local n = 1 return function() return n end")
    local b = mk("\n\n\nlocal n = 1 return function() return n end")
    local c = mk("local n = 2 return function() return n end")
    assert.is_true(R.equal(a, b))
    assert.is_false(R.equal(a, c))
    local t1 = mk("local t = { port = 80, hosts = { 'a' } } return function() return t end")
    local t2 = mk("local t = { port = 80, hosts = { 'a' } } return function() return t end")
    local t3 = mk("local t = { port = 81, hosts = { 'a' } } return function() return t end")
    assert.is_true(R.equal(t1, t2))
    assert.is_false(R.equal(t1, t3))
    local h1 = mk("local function h() return 1 end return function() return h() end")
    local h2 = mk("local function h() return 1 end return function() return h() end")
    local h3 = mk("local function h() return 2 end return function() return h() end")
    assert.is_true(R.equal(h1, h2))
    assert.is_false(R.equal(h1, h3))
    -- a value with a metatable (a file handle, an object) only as itself
    local o1 = mk("local o = setmetatable({}, {}) return function() return o end")
    local o2 = mk("local o = setmetatable({}, {}) return function() return o end")
    assert.is_false(R.equal(o1, o2))
    assert.is_true(R.equal(o1, o1))
    assert.is_false(R.equal(print, a))
  end)
end)
