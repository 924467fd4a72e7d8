-- exec_spec: ctx:exec runs a command to completion from a Lua task without
-- blocking the loop: results, stdin, env, timeouts, bounded output, spawn
-- failures, and cancellation (the command is stopped and reaped).
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv

-- Runs fn(ctx) as a one-shot task and returns what it returned (packed).
local function in_task(fn, opts)
  local sup = tv.supervisor({ grace = 5 })
  local result
  assert(sup:add(tv.task({ name = "t", restart = "never", run = function(ctx)
    result = table.pack(fn(ctx, sup))
  end })))
  if opts and opts.extra then assert(sup:add(opts.extra(sup))) end
  assert(sup:run())
  return result
end

describe("ctx:exec", function()
  it("returns the exit code, stdout and stderr", function()
    local r = in_task(function(ctx)
      return ctx:exec({ "/bin/sh", "-c", "echo out; echo err >&2; exit 4" })
    end)
    assert.same({ 4, "out\n", "err\n", false, n = 4 }, r)
  end)

  it("runs a string through /bin/sh -c and feeds stdin", function()
    local r = in_task(function(ctx) return ctx:exec("tr a-z A-Z", { stdin = "hello" }) end)
    assert.same({ 0, "HELLO", "", false, n = 4 }, r)
  end)

  it("passes env, inherit_env and cwd", function()
    local r = in_task(function(ctx)
      return ctx:exec({ "/bin/sh", "-c", "echo $A:${HOME:-none}; pwd" },
        { env = { A = "1" }, inherit_env = false, cwd = "/tmp" })
    end)
    assert.same({ 0, "1:none\n/tmp\n", "", false, n = 4 }, r)
  end)

  it("reports a command that cannot start", function()
    local r = in_task(function(ctx) return ctx:exec({ "/no/such/prog" }) end)
    assert.same({ nil, "ENOENT: no such file: /no/such/prog", n = 2 }, r)
    assert.same({}, P.zombies())
  end)

  it("reports death by a signal", function()
    local r = in_task(function(ctx) return ctx:exec({ "/bin/sh", "-c", "echo x; kill -KILL $$" }) end)
    assert.same({ nil, "killed by signal SIGKILL", "x\n", "", n = 4 }, r)
  end)

  it("stops the command at its timeout", function()
    local r = in_task(function(ctx) return ctx:exec({ "sleep", "30" }, { timeout = 0.1, stop_timeout = 0.2 }) end)
    assert.is_nil(r[1])
    assert.truthy(r[2]:find("^ETIMEDOUT: the command timed out after 0.1"))
    assert.same({}, P.zombies())
  end)

  it("bounds the captured output and says so", function()
    local r = in_task(function(ctx)
      return ctx:exec({ "/bin/sh", "-c", "head -c 100000 /dev/zero" }, { max_output = 1000 })
    end)
    assert.equal(0, r[1])
    assert.equal(1000, #r[2])
    assert.is_true(r[4])
  end)

  it("does not block the loop while it waits", function()
    local ticks = 0
    local r = in_task(function(ctx) return ctx:exec({ "sleep", "0.3" }) end, {
      extra = function()
        return tv.task({ name = "ticker", restart = "never", run = function(ctx)
          for _ = 1, 10 do ctx:sleep(0.01); ticks = ticks + 1 end
        end })
      end })
    assert.equal(0, r[1])
    assert.equal(10, ticks)
  end)

  it("stops and reaps the command when the task is cancelled", function()
    local pidfile = P.tmpname()
    local fds = P.fds()
    local r = in_task(function(ctx)
      return ctx:exec({ "/bin/sh", "-c", "echo $$ > " .. pidfile .. "; exec sleep 30" })
    end, { extra = function(sup)
      return tv.task({ name = "canceller", restart = "never", run = function(ctx)
        while #P.pids(pidfile) < 1 do ctx:sleep(0.02) end
        sup:remove("t")
      end })
    end })
    assert.is_nil(r[1])
    assert.equal("ECANCELED: the task was cancelled; the command was stopped", r[2])
    local pid = P.pids(pidfile)[1]
    os.remove(pidfile)
    assert.is_false(P.alive(pid))
    assert.same({}, P.zombies())
    assert.same({}, P.new_fds(fds))
  end)

  it("kills the command when the task is force-stopped", function()
    local pidfile = P.tmpname()
    local sup = tv.supervisor({ grace = 0.2 })
    local events = H.collect(sup)
    assert(sup:add(tv.task({ name = "t", restart = "never", run = function(ctx)
      ctx:exec({ "/bin/sh", "-c", "trap '' TERM; echo $$ > " .. pidfile .. "; while :; do sleep 0.05; done" },
        { stop_timeout = 30 })
    end })))
    assert(sup:add(tv.task({ name = "stopper", restart = "never", run = function(ctx)
      while #P.pids(pidfile) < 1 do ctx:sleep(0.02) end
      sup:shutdown()
    end })))
    local ok = sup:run()
    assert.is_nil(ok)
    assert.equal("force_stopped", H.first(events, "TaskRemoved", "t").reason)
    local pid = P.pids(pidfile)[1]
    os.remove(pidfile)
    assert.is_true(P.wait_until(function() return not P.alive(pid) end))
    assert.is_true(P.wait_until(function() return #P.zombies() == 0 end))
  end)

  it("must be called from the task's own coroutine", function()
    local r = in_task(function(ctx)
      local co = coroutine.create(function() return ctx:exec({ "true" }) end)
      return coroutine.resume(co)
    end)
    assert.is_false(r[1])
    assert.truthy(r[2]:find("ctx:exec: must be called from the task's own coroutine", 1, true))
  end)
end)
