-- hooks_spec.lua: lifecycle hooks (setup, on_restart, on_error, cleanup,
-- on_shutdown) of Lua and process tasks: their order relative to the task's
-- events, their arguments, hooks that yield, setup failure and HookFailed.
-- Hook calls and the task's events go into one ordered log: a subscriber
-- appends the events, the hooks append "hook:<name>(args)".
local H = require("helpers")
local tv = H.tv

-- Runs `spec` (a table: hook fields may be the strings "log" (records its
-- call), "raise" (records, then raises "bad <hook>") or "hang" (records,
-- then sleeps forever)) next to the specs `more(sup)` returns, on a fresh
-- supervisor (opts, default grace 2): the log, all events, run's values.
local function run_hooks(spec, opts, more)
  local log = {}
  local sup = tv.supervisor(opts or { grace = 2 })
  local events = H.collect(sup)
  sup:subscribe({ name = "log", queue = 65536, on_event = function(ev)
    if ev.task == spec.name then
      log[#log + 1] = ev.attempt and (ev.kind .. "#" .. ev.attempt) or ev.kind
    end
  end })
  for _, h in ipairs({ "setup", "on_restart", "on_error", "cleanup", "on_shutdown" }) do
    local how = spec[h]
    if type(how) == "string" then
      spec[h] = function(...)
        local args = {}
        for i, v in ipairs({ ... }) do args[i] = tostring(v) end
        log[#log + 1] = "hook:" .. h .. (#args > 0 and ("(" .. table.concat(args, ",") .. ")") or "")
        if how == "raise" then error("bad " .. h, 0) end
        if how == "hang" then while true do tv.sleep(0.01) end end
      end
    end
  end
  local specs = { spec.cmd and tv.process(spec) or tv.task(spec) }
  for _, s in ipairs(more and more(sup) or {}) do specs[#specs + 1] = s end
  local r = table.pack(sup:run(specs))
  return log, events, r, sup
end

local ALL = { setup = "log", on_restart = "log", on_error = "log", cleanup = "log", on_shutdown = "log" }
local function with(base, extra)
  local out = {}
  for k, v in pairs(base) do out[k] = v end
  for k, v in pairs(extra) do out[k] = v end
  return out
end

describe("hook order", function()
  it("setup before the first TaskStarting; on_error after BackoffScheduled; on_restart before the next TaskStarting; cleanup before TaskRemoved; no on_shutdown on a natural end", function()
    local log, _, r = run_hooks(with(ALL, { name = "h", restart = "on_failure", backoff = { first = 0.005 },
      run = function(ctx) if ctx.attempt < 3 then error("x", 0) end end }))
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "hook:setup",
      "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1", "hook:on_error(execution failed: x,1)",
      "hook:on_restart(1)",
      "TaskStarting#2", "TaskFailed#2", "BackoffScheduled#2", "hook:on_error(execution failed: x,2)",
      "hook:on_restart(2)",
      "TaskStarting#3", "TaskStopped#3", "ActorExhausted#3", "hook:cleanup", "TaskRemoved" }, log)
  end)

  it("on a shutdown: the attempt stops, then on_shutdown, then cleanup, then TaskRemoved", function()
    local log, _, r = run_hooks(with(ALL, { name = "h", restart = "always",
      run = function(ctx) ctx:sleep(5) end }), nil, function(sup) return { H.stopper(sup, 0.02) } end)
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "hook:setup", "TaskStarting#1", "TaskStopped#1",
      "hook:on_shutdown", "hook:cleanup", "TaskRemoved" }, log)
  end)

  it("on sup:remove: cleanup runs, on_shutdown does not", function()
    local log, _, r = run_hooks(with(ALL, { name = "h", restart = "always",
      run = function(ctx) ctx:sleep(5) end }), nil, function(sup)
        return { tv.once("remover", function(ctx) ctx:sleep(0.02); assert(sup:remove("h")) end) }
      end)
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "hook:setup", "TaskStarting#1", "TaskRemoveRequested",
      "TaskStopped#1", "hook:cleanup", "TaskRemoved" }, log)
    assert.equal("cancelled", r[2].h.status)
  end)

  it("on_restart also runs before a restart after a success (always), and on_error does not", function()
    local log = run_hooks(with(ALL, { name = "h", restart = "always", interval = 0.005,
      run = function(ctx) if ctx.attempt == 2 then tv.fatal("done") end end }))
    assert.same({ "TaskAddRequested", "TaskAdded", "hook:setup", "TaskStarting#1", "TaskStopped#1",
      "BackoffScheduled#1", "hook:on_restart(1)", "TaskStarting#2", "TaskFailed#2", "ActorDead#2",
      "hook:cleanup", "TaskRemoved" }, log)
  end)

  it("cleanup runs after the last attempt of an exhausted task (after ActorExhausted)", function()
    local log = run_hooks({ name = "h", restart = "on_failure", max_retries = 1, backoff = { first = 0.001 },
      cleanup = "log", run = function() error("x", 0) end })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskFailed#2", "ActorExhausted#2", "hook:cleanup", "TaskRemoved" }, log)
  end)
end)

describe("hooks that yield", function()
  it("a setup that sleeps delays the first attempt; on_error and cleanup may sleep too", function()
    local t = {}
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    assert.is_true(sup:run({ tv.task{ name = "y", restart = "on_failure", backoff = { first = 0.001 },
      setup = function() t.setup0 = tv.monotime(); tv.sleep(0.05); t.setup1 = tv.monotime() end,
      on_error = function(_, attempt) assert(tv.sleep(0.02)); t.on_error = attempt end,
      cleanup = function() assert(tv.sleep(0.02)); t.cleanup = true end,
      run = function(ctx)
        t["start" .. ctx.attempt] = tv.monotime()
        if ctx.attempt == 1 then error("x", 0) end
      end } }))
    assert.is_true(t.setup1 - t.setup0 >= 0.045)
    assert.is_true(t.start1 >= t.setup1)
    assert.equal(1, t.on_error)
    assert.is_true(t.start2 - t.start1 >= 0.015, "on_error's sleep did not delay the restart")
    assert.is_true(t.cleanup)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskStopped#2", "ActorExhausted#2", "TaskRemoved" }, H.trace(events, "y"))
  end)

  it("other tasks run while a hook sleeps", function()
    local ticks_during = 0
    local in_setup = false
    local sup = tv.supervisor{}
    assert.is_true(sup:run({
      tv.once("slow", function() end, {
        setup = function() in_setup = true; tv.sleep(0.06); in_setup = false end }),
      tv.once("ticker", function(ctx)
        for _ = 1, 5 do ctx:sleep(0.005); if in_setup then ticks_during = ticks_during + 1 end end
      end),
    }))
    assert.is_true(ticks_during >= 3, "ticker ran " .. ticks_during .. " times during the setup")
  end)
end)

describe("hook failures", function()
  it("a raising setup ends the task: ActorDead 'setup failed: ...', no attempt, no cleanup, outcome setup_failed", function()
    local log, events, r = run_hooks({ name = "s", setup = "raise", cleanup = "log", on_shutdown = "log",
      run = function() error("never runs") end })
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "hook:setup", "ActorDead#0", "TaskRemoved" }, log)
    assert.equal("setup failed: bad setup", H.first(events, "ActorDead", "s").reason)
    assert.equal(0, H.count(events, "TaskStarting"))
    assert.same({ status = "setup_failed", attempts = 0, reason = "setup failed: bad setup" }, r[2].s)
  end)

  it("a setup failure with a table error is shown as such", function()
    local _, events = run_hooks({ name = "s", setup = function() error({}) end, run = function() end })
    assert.equal("setup failed: (error object is a table value)", H.first(events, "ActorDead", "s").reason)
  end)

  it("a raising on_error / on_restart / cleanup publishes HookFailed '<hook> hook failed: ...' and the task goes on", function()
    local log, events, r = run_hooks({ name = "h", restart = "on_failure", backoff = { first = 0.001 },
      on_error = "raise", on_restart = "raise", cleanup = "raise",
      run = function(ctx) if ctx.attempt < 2 then error("x", 0) end end })
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "hook:on_error(execution failed: x,1)", "HookFailed#1", "hook:on_restart(1)", "HookFailed#1",
      "TaskStarting#2", "TaskStopped#2", "ActorExhausted#2", "hook:cleanup", "HookFailed#2", "TaskRemoved" }, log)
    local reasons = {}
    for i, ev in ipairs(H.only(events, "h", "HookFailed")) do reasons[i] = ev.reason end
    assert.same({ "on_error hook failed: bad on_error", "on_restart hook failed: bad on_restart",
      "cleanup hook failed: bad cleanup" }, reasons)
    assert.equal("completed", r[2].h.status)
  end)

  it("a raising on_shutdown publishes HookFailed and cleanup still runs", function()
    local log, events, r = run_hooks({ name = "h", restart = "always", on_shutdown = "raise", cleanup = "log",
      run = function(ctx) ctx:sleep(5) end }, nil, function(sup) return { H.stopper(sup, 0.02) } end)
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "hook:on_shutdown",
      "HookFailed#1", "hook:cleanup", "TaskRemoved" }, log)
    assert.equal("on_shutdown hook failed: bad on_shutdown", H.first(events, "HookFailed", "h").reason)
  end)

  it("an on_shutdown that never returns is killed at the grace deadline (HookFailed 'killed: ...') and the run reports GraceExceeded", function()
    local _, events, r = run_hooks({ name = "h", restart = "always", on_shutdown = "hang", cleanup = "log",
      run = function(ctx) ctx:sleep(5) end }, { grace = 0.1 }, function(sup) return { H.stopper(sup, 0.02) } end)
    assert.is_nil(r[1])
    assert.equal("GraceExceeded: shutdown timeout 100ms exceeded; stuck: h", r[2])
    assert.equal("on_shutdown hook failed: killed: did not finish within its grace period",
      H.first(events, "HookFailed", "h").reason)
    assert.equal(1, H.count(events, "TaskRemoved", "h"))
  end)

  it("a hook that is not callable is refused by tv.task", function()
    assert.has_error(function() tv.task{ name = "x", run = function() end, cleanup = 42 } end)
    assert.has_error(function() tv.task{ name = "x", run = function() end, setup = "nope" } end)
  end)
end)

describe("hooks on a process task", function()
  it("run around each run of the command, with the exit reason in on_error", function()
    local log, events, r = run_hooks(with(ALL, { name = "p", cmd = { "/bin/sh", "-c", "exit 3" },
      restart = "on_failure", max_retries = 1, backoff = { first = 0.001 } }))
    assert.is_true(r[1], r[2])
    assert.same({ "TaskAddRequested", "TaskAdded", "hook:setup",
      "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1", "hook:on_error(execution failed: exited with code 3,1)",
      "hook:on_restart(1)", "TaskStarting#2", "TaskFailed#2", "ActorExhausted#2", "hook:cleanup", "TaskRemoved" },
      log)
    assert.equal(3, H.first(events, "ActorExhausted", "p").exit_code)
  end)

  it("a process's setup may prepare a file the command reads; cleanup sees it after the last run", function()
    local path = os.tmpname()
    os.remove(path)
    local seen
    local _, events, r = run_hooks({ name = "p", cmd = { "/bin/sh", "-c", "test -f " .. path },
      restart = "never",
      setup = function() local f = assert(io.open(path, "w")); f:write("x"); f:close() end,
      cleanup = function() seen = io.open(path) ~= nil; os.remove(path) end })
    assert.is_true(r[1], r[2])
    assert.equal("completed", r[2].p.status)
    assert.equal(1, H.count(events, "TaskStopped", "p"))
    assert.is_true(seen)
  end)

  it("on_shutdown and cleanup run after the process stopped on a shutdown", function()
    local log = run_hooks({ name = "p", cmd = { "sleep", "5" }, restart = "always",
      on_shutdown = "log", cleanup = "log" }, nil, function(sup) return { H.stopper(sup, 0.05) } end)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "hook:on_shutdown",
      "hook:cleanup", "TaskRemoved" }, log)
  end)
end)
