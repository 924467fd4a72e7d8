-- spec/simulate_spec.lua: `taskvisor simulate` and tv.testing.simulate: virtual
-- time (hours of backoff, timeouts and grace take no wall time), traced
-- process attempts in the real process task's words, byte-identical output
-- for the same config, trace and seed, and clear errors for bad traces.
local H = require("helpers")
local tv = H.tv
local core = require("taskvisor.core")

local function sq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function write(code, suffix)
  local base = os.tmpname()
  os.remove(base)
  local path = base .. (suffix or ".lua")
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  return path
end

local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs `taskvisor simulate ARGS`; returns stdout, status, stderr.
local function simulate(args) return H.sh(sq(H.host()) .. " simulate " .. args, true) end

local CONFIG = [[
local tv = require("taskvisor")
return tv.config{
  supervisor = { grace = 5 },
  tasks = {
    tv.process{ name = "web", cmd = { "/nonexistent/web-server" }, restart = "always",
      backoff = { first = 1, max = 60, factor = 2, jitter = "full" } },
    tv.task{ name = "worker", restart = "on_failure", backoff = { first = 2, max = 30, factor = 2, jitter = "equal" },
      run = function(ctx) ctx:sleep(45 + math.random(10)); error("lost the queue") end },
  },
}
]]
local TRACE = [[
return {
  web = function(attempt)
    if attempt % 4 == 0 then return { run = 600, exit = 0 } end
    return { run = 20, exit = 1 }
  end,
}
]]

local function kinds_of(events, task)
  local out = {}
  for _, e in ipairs(events) do
    if e.task == task then out[#out + 1] = e.kind .. (e.attempt and "#" .. e.attempt or "") end
  end
  return out
end

describe("taskvisor simulate", function()
  local cfg, trace
  setup(function()
    cfg, trace = write(CONFIG), write(TRACE)
  end)
  teardown(function()
    os.remove(cfg)
    os.remove(trace)
  end)

  it("prints the event lines with virtual timestamps and a summary, the seed first", function()
    local out, status, err = simulate(sq(cfg) .. " --for 2h --seed 7 --trace " .. sq(trace))
    assert.are.equal(0, status, err)
    assert.truthy(out:find("^simulate: [^\n]* for 2h00m00%.0s, seed 7, trace "), out:sub(1, 200))
    assert.truthy(out:find("\n00:00:00%.000 %[001%] %[task%-add%-requested%] task=web\n"))
    assert.truthy(out:find('\n00:00:20%.000 %[%d+%] %[failed%] task=web reason="execution failed: exited with code 1" attempt=1\n'))
    assert.truthy(out:find("\n02:00:00%.000 %[%d+%] %[shutdown%-requested%]\n"))
    assert.truthy(out:find("\n02:00:00%.000 %[%d+%] %[all%-stopped%-within%-grace%]\n"))
    assert.truthy(out:find("\nsummary: 2 tasks, 2h00m00%.0s virtual"))
    assert.truthy(out:find("\nweb%s+%d+%s+%d+"))
    assert.truthy(out:find("\nrun: attempts=%d+ restarts=%d+ failures=%d+ exhaustions=0 escalations=0 shutdown=02:00:00%.000 result=ok\n"))
  end)

  it("gives byte-identical output (text, JSON, SVG) for the same config, trace and seed", function()
    local svg1, svg2 = os.tmpname(), os.tmpname()
    local a, sa = simulate(sq(cfg) .. " --for 6h --seed 3 --trace " .. sq(trace) .. " --svg " .. sq(svg1))
    local b, sb = simulate(sq(cfg) .. " --for 6h --seed 3 --trace " .. sq(trace) .. " --svg " .. sq(svg2))
    assert.are.equal(0, sa)
    assert.are.equal(0, sb)
    assert.are.equal(a, b)
    local s1, s2 = read(svg1), read(svg2)
    os.remove(svg1)
    os.remove(svg2)
    assert.are.equal(s1, s2)
    assert.truthy(s1:find("^<svg xmlns=\"http://www.w3.org/2000/svg\""))
    assert.truthy(s1:find("</svg>\n$"))
    local j1 = simulate(sq(cfg) .. " --for 6h --seed 3 --json --trace " .. sq(trace))
    local j2 = simulate(sq(cfg) .. " --for 6h --seed 3 --json --trace " .. sq(trace))
    assert.are.equal(j1, j2)
    local doc = require("dkjson").decode(j1)
    assert.are.equal(3, doc.seed)
    assert.are.equal("TaskAddRequested", doc.events[1].kind)
    assert.are.equal("web", doc.summary.tasks[1].name)
    assert.are.equal(6 * 3600, doc.summary.run.shutdown)
    -- a different seed draws other jitter: other delays
    local c = simulate(sq(cfg) .. " --for 6h --seed 4 --trace " .. sq(trace))
    assert.are_not.equal(a, c)
  end)

  it("takes the options before CONFIG too, and rejects bad ones naming them", function()
    local out, status = simulate("--for 10m " .. sq(cfg))
    assert.are.equal(0, status)
    assert.truthy(out:find("for 10m00%.0s, seed 1\n"))
    local _, s2, err = simulate(sq(cfg) .. " --for -5")
    assert.are.equal(1, s2)
    assert.truthy(err:find("'%-%-for' must be a positive duration"), err)
    local _, s3, err3 = simulate(sq(cfg) .. " --seed abc")
    assert.are.equal(1, s3)
    assert.truthy(err3:find("'%-%-seed' must be an integer"), err3)
  end)
end)

describe("simulate: bad traces name the trace's line and field", function()
  local cfg
  setup(function() cfg = write(CONFIG) end)
  teardown(function() os.remove(cfg) end)

  local function bad(trace_src)
    local t = write(trace_src)
    local out, status, err = simulate(sq(cfg) .. " --trace " .. sq(t))
    os.remove(t)
    assert.are.equal(1, status, out)
    return err, t
  end

  it("a task the config does not have", function()
    local err, t = bad("return {\n  web = { { run = 5 } },\n  wbe = { { run = 5, exit = 1 } },\n}\n")
    assert.truthy(err:find(t .. ":3: trace names task 'wbe', which is not a task of the config (process tasks: web)", 1, true), err)
  end)

  it("a negative time, a wrong type, an unknown field", function()
    local err, t = bad("return {\n  web = {\n    { run = 5, exit = 1 },\n    { run = -5, exit = 1 },\n  },\n}\n")
    assert.truthy(err:find(t .. ":2: web[2].run must be a number of seconds >= 0 (got -5)", 1, true), err)
    err, t = bad("return { web = { { run = 5, exit = \"one\" } } }\n")
    assert.truthy(err:find(t .. ":1: web[1].exit must be an exit code, an integer 0..255 (got \"one\")", 1, true), err)
    err = bad("return { web = { { run = 5, exti = 1 } } }\n")
    assert.truthy(err:find("web[1]: unknown field 'exti'", 1, true), err)
    err = bad("return { web = 5 }\n")
    assert.truthy(err:find("web must be a list of attempt outcomes or a function(attempt) (got 5)", 1, true), err)
    err = bad("return { web = { { run = 5, signal = \"NOPE\" } } }\n")
    assert.truthy(err:find("web[1].signal must be a signal name", 1, true), err)
  end)

  it("a Lua task (its run function runs for real), a trace that is not a table", function()
    local err = bad("return { worker = { { run = 5 } } }\n")
    assert.truthy(err:find("trace names task 'worker', a Lua task: only process tasks are traced", 1, true), err)
    err = bad("return 42\n")
    assert.truthy(err:find("a trace must return a table", 1, true), err)
  end)

  it("a trace function's bad result names the attempt and the function's line", function()
    local err, t = bad("return {\n  web = function(n)\n    return { run = n == 3 and -1 or 5, exit = 1 }\n  end,\n}\n")
    assert.truthy(err:find(t .. ":2: the trace function returned: web(3).run must be a number of seconds >= 0 (got -1)", 1, true), err)
  end)
end)

describe("tv.testing.simulate", function()
  local T = tv.testing

  it("runs hours of backoff in virtual time, exact to the millisecond", function()
    local cfg = tv.config{ tasks = {
      tv.task{ name = "crash", restart = "always", backoff = { first = 5, factor = 1 },
        run = function(ctx) ctx:sleep(10); error("boom") end } } }
    local t0 = os.clock()
    local r = T.simulate(cfg, { for_ = "1h", seed = 1 })
    assert.is_true(os.clock() - t0 < 30) -- (no real waiting: 1 h of virtual time)
    -- an attempt every 15 s from 0: the 241st would start at 3600, the horizon
    assert.are.equal(240, r.task.crash.attempts)
    assert.are.equal(239 * 5 + 5, r.task.crash.backoff) -- each failure's 5 s
    assert.are.equal(3600, r.summary.run.shutdown)
    local starts = H.only(r.events, "crash", "TaskStarting")
    assert.are.equal(15, starts[2].t)
    assert.are.equal(3585, starts[240].t)
    assert.are.equal("real", (core.clock_kind())) -- the clock is back
  end)

  it("plays traced attempts in the process task's words: exit, signal, never ready, until stopped", function()
    local cfg = tv.config{ supervisor = { grace = 5 }, tasks = {
      tv.process{ name = "exits", cmd = { "/nonexistent" }, restart = "never" },
      tv.process{ name = "killed", cmd = { "/nonexistent" }, restart = "never" },
      tv.process{ name = "slow", cmd = { "/nonexistent" }, restart = "never", ready = { notify = true, timeout = 5 } },
      tv.process{ name = "fatal", cmd = { "/nonexistent" }, fatal_codes = { 9 } },
      tv.process{ name = "steady", cmd = { "/nonexistent" } },
    } }
    local r = T.simulate(cfg, { for_ = 60, trace = {
      exits = { { run = 3, exit = 3 } }, killed = { { run = 4, signal = "KILL" } },
      slow = { { never_ready = true } }, fatal = { { run = 1, exit = 9 } } } })
    local function failed(task) return H.first(r.events, "TaskFailed", task) end
    assert.are.equal("execution failed: exited with code 3", failed("exits").reason)
    assert.are.equal(3, failed("exits").exit_code)
    assert.are.equal(3, failed("exits").t)
    assert.are.equal("execution failed: killed by signal SIGKILL", failed("killed").reason)
    assert.are.equal('execution failed: not ready within 5s (ready = "notify")', failed("slow").reason)
    assert.are.equal(5, failed("slow").t)
    assert.truthy(H.first(r.events, "ActorDead", "fatal"))
    assert.are.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "TaskRemoved" },
      kinds_of(r.events, "steady"))
    assert.are.equal(60, H.first(r.events, "TaskStopped", "steady").t)
    assert.are.equal("up", r.task.steady.at_shutdown)
  end)

  it("traces a group's process children; a schedule's waits are idle, not outages", function()
    local cfg = tv.config{ supervisor = { grace = 3 }, tasks = {
      tv.process{ name = "db", cmd = { "/x/db" }, ready = { notify = true, timeout = 10 } },
      tv.group{ name = "app", strategy = "one_for_all", after = { "db" }, children = {
        tv.process{ name = "api", cmd = { "/x/api" }, restart = "always", backoff = { first = 2 } },
        { name = "cache", cmd = { "/x/cache" }, restart = "always" } } },
      tv.task{ name = "cron", every = 60, run = function(ctx) ctx:sleep(5) end } } }
    local r = T.simulate(cfg, { for_ = 600, trace = { db = { { ready_after = 3 } },
      api = { { run = 100, exit = 2 }, { run = 50, signal = "SEGV" }, {} }, cache = { { ignore_term = 1 } } } })
    assert.are.equal(3, H.first(r.events, "TaskStarting", "api").t) -- after db's readiness
    assert.are.equal(3, r.task.api.attempts)
    assert.are.equal(3, r.task.cache.attempts) -- one_for_all
    assert.are.equal(104, H.only(r.events, "cache", "TaskStopped")[1].t) -- 1 s after its SIGTERM
    assert.are.equal("execution failed: killed by signal SIGSEGV", H.only(r.events, "api", "TaskFailed")[2].reason)
    assert.are.equal(10, r.task.cron.attempts)
    assert.are.equal(0, r.task.cron.down)
    assert.are.equal(0, r.task.cron.longest_outage)
  end)

  it("a process ignoring SIGTERM stops late, within grace; past grace it is GraceExceeded", function()
    local function cfg(grace)
      return tv.config{ supervisor = { grace = grace }, tasks = {
        tv.process{ name = "stubborn", cmd = { "/nonexistent" }, stop_timeout = 20 } } }
    end
    local r = T.simulate(cfg(10), { for_ = 100, trace = { stubborn = { { ignore_term = 4 } } } })
    assert.are.equal(104, H.first(r.events, "TaskStopped", "stubborn").t)
    assert.truthy(H.first(r.events, "AllStoppedWithinGrace"))
    r = T.simulate(cfg(2), { for_ = 100, trace = { stubborn = { { ignore_term = 4 } } } })
    assert.are.equal(102, H.first(r.events, "GraceExceeded").t)
    assert.truthy(r.summary.run.result:find("GraceExceeded"), r.summary.run.result)
  end)

  it("stops a traced process in any wait: before its readiness, through ignore_term, at its stop_timeout", function()
    local cfg = tv.config{ supervisor = { grace = 30 }, tasks = {
      tv.process{ name = "never", cmd = { "/x" }, ready = { notify = true, timeout = 0 } },
      tv.process{ name = "late", cmd = { "/x" }, ready = { notify = true, timeout = 60 } },
      tv.process{ name = "capped", cmd = { "/x" }, stop_timeout = 2 },
      tv.process{ name = "zero", cmd = { "/x" }, restart = "always", backoff = { first = 1, factor = 1 } } } }
    local r = T.simulate(cfg, { for_ = 10, trace = { never = { { never_ready = true, ignore_term = 3 } },
      late = { { ready_after = 20, run = 30, exit = 1 } }, capped = { { ignore_term = 9 } },
      zero = { { run = 0, exit = 4 } } } })
    local function stopped(task) return H.first(r.events, "TaskStopped", task).t end
    assert.are.equal(13, stopped("never")) -- 3 s of ignoring SIGTERM
    assert.are.equal(10, stopped("late")) -- stopped while not ready yet
    assert.is_nil(H.first(r.events, "TaskReady", "late"))
    assert.are.equal(12, stopped("capped")) -- SIGKILLed at its stop_timeout
    assert.are.equal("execution failed: exited with code 4", H.first(r.events, "TaskFailed", "zero").reason)
    assert.are.equal(0, H.first(r.events, "TaskFailed", "zero").t) -- run = 0: ends at once
    assert.are.equal(10, r.task.zero.attempts) -- one a second
  end)

  it("a budget that escalates ends the run: Escalated, counted, result ESCALATED", function()
    local cfg = tv.config{ tasks = {
      tv.process{ name = "flappy", cmd = { "/nonexistent" }, restart = "always", backoff = { first = 1 },
        intensity = { max_restarts = 3, within = 60 }, on_exhausted = "escalate" } } }
    local r = T.simulate(cfg, { for_ = "1h", trace = { flappy = { { run = 2, exit = 1 } } } })
    assert.are.equal(1, r.task.flappy.escalations)
    assert.are.equal(1, r.summary.run.escalations)
    assert.truthy(r.summary.run.result:find("^ESCALATED"), r.summary.run.result)
    assert.truthy(H.first(r.events, "Escalated", "flappy"))
    assert.is_true(r.summary.run.shutdown < 60) -- the escalation shut it down, long before the horizon
  end)

  it("ctx:exec in a simulation fails the attempt with a clear error", function()
    local cfg = tv.config{ tasks = { tv.task{ name = "shell", restart = "never",
      run = function(ctx) ctx:exec({ "/bin/true" }) end } } }
    local r = T.simulate(cfg, { for_ = 10 })
    local f = H.first(r.events, "TaskFailed", "shell")
    assert.truthy(f.reason:find("ctx:exec: not available in a simulation", 1, true), f.reason)
    -- and outside one, ctx:exec is itself again
    local sup = tv.supervisor{}
    local code
    sup:add(tv.task{ name = "real", restart = "never", run = function(ctx) code = ctx:exec({ "/bin/true" }) end })
    assert(sup:run())
    assert.are.equal(0, code)
  end)

  it("is deterministic for a seed, jitter and math.random included", function()
    local function cfg()
      return tv.config{ tasks = { tv.task{ name = "j", restart = "always",
        backoff = { first = 1, max = 30, factor = 2, jitter = "decorrelated" },
        run = function(ctx) ctx:sleep(math.random(20)); error("x") end } } }
    end
    local a = T.simulate(cfg(), { for_ = "2h", seed = 11 })
    local b = T.simulate(cfg(), { for_ = "2h", seed = 11 })
    local c = T.simulate(cfg(), { for_ = "2h", seed = 12 })
    assert.are.same(a.lines, b.lines)
    assert.are_not.same(a.lines, c.lines)
    assert.are.equal(11, a.seed)
  end)

  it("leaves the host's exit status to real runs, and refuses to start inside a running supervisor", function()
    local out, status = H.host_run([[
      local tv = require("taskvisor")
      local cfg = tv.config{ tasks = { tv.process{ name = "p", cmd = { "/x" }, restart = "always",
        intensity = { max_restarts = 1, within = 60 }, on_exhausted = "escalate" } } }
      local r = tv.testing.simulate(cfg, { for_ = 60, trace = { p = { { run = 1, exit = 1 } } } })
      print(r.summary.run.result:match("^%u+"))
    ]])
    assert.are.equal(0, status, out) -- (an escalated real run would exit 3)
    assert.truthy(out:find("^ESCALATED\n"), out)
    local cfg = tv.config{ tasks = { tv.process{ name = "p", cmd = { "/x" } } } }
    local sup = tv.supervisor{}
    local ok, err
    sup:add(tv.task{ name = "inner", restart = "never",
      run = function() ok, err = pcall(T.simulate, cfg, { for_ = 1 }) end })
    assert(sup:run())
    assert.is_false(ok)
    assert.truthy(err:find("cannot change the clock while a supervisor runs", 1, true), err)
  end)

  it("rejects bad options and a trace for a task it does not have", function()
    local cfg = tv.config{ tasks = { tv.process{ name = "p", cmd = { "/x" } } } }
    assert.has_error(function() T.simulate(cfg, { for_ = -1 }) end,
      "simulate: 'for' must be a positive duration such as 3600, \"90s\", \"30m\", \"24h\" or \"7d\" (got -1)")
    assert.has_error(function() T.simulate(cfg, { seed = 1.5 }) end, "simulate: 'seed' must be an integer (got 1.5)")
    local ok, err = pcall(T.simulate, cfg, { trace = { q = { { run = 1 } } } })
    assert.is_false(ok)
    assert.truthy(err:find("trace names task 'q', which is not a task of the config (process tasks: p)", 1, true), err)
    assert.are.equal("real", (core.clock_kind()))
  end)
end)

describe("README's simulate example", function()
  it("prints what README shows and writes the committed SVG", function()
    local svg = os.tmpname()
    local out, status, err = simulate("docs/simulate-example.lua --for 6h --trace docs/simulate-trace.lua --svg " .. sq(svg))
    assert.are.equal(0, status, err)
    local readme = read("README.md")
    local block = readme:match("\n%$ taskvisor simulate docs/simulate%-example%.lua[^\n]*\n(.-)\n```\n")
    assert.truthy(block, "README's block not found")
    local n = 0
    for line in block:gmatch("[^\n]+") do
      if line ~= "..." then
        n = n + 1
        assert.truthy(out:find("\n" .. line:gsub("%p", "%%%0") .. "\n") or out:find("^" .. line:gsub("%p", "%%%0") .. "\n"),
          "README line not in the output: " .. line)
      end
    end
    assert.is_true(n >= 8)
    local made = read(svg)
    os.remove(svg)
    assert.are.equal(read("docs/simulate-example.svg"), made)
  end)
end)
