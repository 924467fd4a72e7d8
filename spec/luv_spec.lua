-- spec/luv_spec.lua: taskvisor inside a luv app. luv is loaded first, so
-- taskvisor runs on luv's loop and one uv.run() drives both: a TCP echo on
-- 127.0.0.1 keeps answering while a task crashes and restarts; luv timers
-- and taskvisor sleeps fire in deadline order; sup:start / shutdown / wait /
-- on_done; signals only when asked; the app exits with tasks registered.
local uv = require("luv") -- before taskvisor: that is what puts it on luv's loop
local H = require("helpers")
local tv = H.tv

local SANITIZED = os.getenv("TASKVISOR_SANITIZED") ~= nil
local MEMCHECK = os.getenv("TASKVISOR_MEMCHECK") ~= nil

-- Runs the loop until done() or `secs` (a safety net only: every test ends on
-- its own events long before).
local function run_until(done, secs)
  local guard = uv.new_timer()
  local expired = false
  guard:start(math.floor(secs * 1000), 0, function() expired = true; uv.stop() end)
  local check = uv.new_check()
  check:start(function() if done() then uv.stop() end end)
  while not done() and not expired do uv.run("once") end
  check:stop(); check:close()
  guard:stop(); guard:close()
  uv.run("nowait") -- their close callbacks
  assert(not expired, "the safety timer expired before the test's events")
end

describe("taskvisor on luv's loop", function()
  it("is on luv's loop when luv was loaded first", function()
    local fd, timeout, loop = tv.backend()
    assert.are.equal("luv", loop)
    assert.is_true(math.type(fd) == "integer" and fd >= 0)
    assert.is_true(timeout == nil or timeout >= 0)
  end)

  it("keeps a TCP echo on 127.0.0.1 answering while a task crashes and restarts", function()
    local sup = tv.supervisor{ grace = 5 }
    local log = {} -- "echo" and "TaskFailed" in the order they happened
    local failures, ticks = 0, 0
    sup:subscribe(function(ev)
      if ev.kind == "TaskFailed" and ev.task == "crash" then
        failures = failures + 1
        log[#log + 1] = "TaskFailed"
      end
    end)
    -- the server: echoes whatever it reads
    local server = uv.new_tcp()
    assert(server:bind("127.0.0.1", 0))
    local port = server:getsockname().port
    local conns = {}
    assert(server:listen(16, function(err)
      assert(not err, err)
      local c = uv.new_tcp()
      server:accept(c)
      conns[#conns + 1] = c
      c:read_start(function(rerr, data)
        assert(not rerr, rerr)
        if data then c:write(data) else c:close() end
      end)
    end))
    assert(sup:start{
      tv.task{ name = "ticker", run = function() while tv.sleep(0.01) ~= false do ticks = ticks + 1 end end },
      tv.task{ name = "crash", restart = "always", backoff = { first = 0.02 },
        run = function() tv.sleep(0.005); error("simulated crash") end },
    })
    -- the client: one ping at a time, each answered before the next
    local client = uv.new_tcp()
    local sent, echoes, bad, buf = 0, 0, 0, ""
    local function ping()
      sent = sent + 1
      client:write("ping " .. sent .. "\n")
    end
    client:connect("127.0.0.1", port, function(err)
      assert(not err, err)
      client:read_start(function(rerr, data)
        assert(not rerr, rerr)
        if not data then return end
        buf = buf .. data
        for line in buf:gmatch("([^\n]*)\n") do
          if line == "ping " .. sent then echoes = echoes + 1 else bad = bad + 1 end
          log[#log + 1] = "echo"
          ping()
        end
        buf = buf:gsub("^.*\n", "")
      end)
      ping()
    end)
    run_until(function() return failures >= 6 end, 60)
    client:close()
    for _, c in ipairs(conns) do if not c:is_closing() then c:close() end end
    server:close()
    assert(sup:shutdown())
    run_until(function() return sup:done() end, 30)
    assert.are.equal(0, bad)
    assert.is_true(ticks >= 1)
    -- echoes between the first and the last failure: the loop served the
    -- sockets while the task was restarting
    local first, last
    for i, what in ipairs(log) do
      if what == "TaskFailed" then first = first or i; last = i end
    end
    local between = 0
    for i = first, last do if log[i] == "echo" then between = between + 1 end end
    assert.is_true(between >= 1, "no echo between the crashes: " .. table.concat(log, " "))
    local ok, outcomes = sup:result()
    assert.is_true(ok)
    assert.are.equal("cancelled", outcomes.crash.status)
    assert.is_true(outcomes.crash.attempts >= 6)
  end)

  it("fires luv timers and taskvisor sleeps in the order of their deadlines", function()
    -- A deadline order only holds while the loop keeps up: a round where a
    -- callback ran after the next deadline (the machine held the process)
    -- proves nothing and is tried again.
    local GAP = 40
    local function round()
      local sup = tv.supervisor{ grace = 5 }
      local fired = {} -- { name, due, at } in firing order (hrtime ms)
      local function now() return uv.hrtime() / 1e6 end
      local function note(name, due) fired[#fired + 1] = { name, due, now() } end
      assert(sup:start{ tv.task{ name = "sleeper", restart = "never", run = function()
        -- from one instant of the shared loop: luv timers at GAP, 3*GAP,
        -- taskvisor sleeps ending at 2*GAP, 4*GAP
        local t0 = now()
        local timers = {}
        for _, k in ipairs({ 1, 3 }) do
          local t = uv.new_timer()
          t:start(k * GAP, 0, function() note("luv" .. k, t0 + k * GAP); t:close() end)
          timers[#timers + 1] = t
        end
        tv.sleep(2 * GAP / 1000)
        note("tv2", t0 + 2 * GAP)
        tv.sleep((t0 + 4 * GAP - now()) / 1000)
        note("tv4", t0 + 4 * GAP)
      end } })
      run_until(function() return sup:done() and #fired == 4 end, 30)
      local names, late = {}, false
      for i, f in ipairs(fired) do
        names[i] = f[1]
        local next_due = math.huge
        for _, g in ipairs(fired) do if g[2] > f[2] and g[2] < next_due then next_due = g[2] end end
        if f[3] >= next_due then late = true end
      end
      return table.concat(names, " "), late
    end
    local order, late
    for _ = 1, 10 do
      order, late = round()
      if not late then break end
    end
    assert.is_false(late, "every round was held past a deadline (machine too busy)")
    assert.are.equal("luv1 tv2 luv3 tv4", order)
  end)

  it("sup:start returns at once; wait, shutdown and on_done give what sup:run would", function()
    local sup = tv.supervisor{ grace = 5 }
    local events = H.collect(sup)
    local waited, done_args
    local ok = sup:start({
      tv.task{ name = "job", restart = "never", run = function() tv.sleep(0.01) end },
      tv.task{ name = "worker", run = function() while tv.sleep(1) ~= false do end end },
      tv.task{ name = "waiter", restart = "never", run = function()
        waited = sup:wait("job")
        sup:shutdown()
      end },
    }, { on_done = function(...) done_args = table.pack(...) end })
    assert.is_true(ok)
    -- returned before anything ran
    assert.is_nil(waited)
    assert.is_false(sup:done())
    local r, err = sup:result()
    assert.is_nil(r)
    assert.matches("^EBUSY: ", err)
    assert.are.same({ "job", "waiter", "worker" }, sup:list())
    run_until(function() return done_args ~= nil end, 30)
    assert.are.equal("completed", waited.status)
    assert.is_true(sup:done())
    assert.are.equal(2, done_args.n)
    assert.is_true(done_args[1])
    local outcomes = done_args[2]
    assert.are.equal("completed", outcomes.job.status)
    assert.are.equal("cancelled", outcomes.worker.status)
    local ok2, outcomes2 = sup:result()
    assert.is_true(ok2)
    assert.are.same(outcomes, outcomes2)
    local kinds = H.trace(events)
    assert.is_true(H.contains(kinds, "ShutdownRequested"))
    assert.are.equal("AllStoppedWithinGrace", kinds[#kinds])
    -- once stopped, it does not start again
    local again, aerr = sup:start()
    assert.is_nil(again)
    assert.matches("^EALREADY: ", aerr)
  end)

  it("tells a GraceExceeded to on_done as sup:run returns it", function()
    local sup = tv.supervisor{ grace = 0.05 }
    local done_args, started
    assert(sup:start({ tv.task{ name = "stubborn", run = function()
      started = true
      while true do
        if tv.sleep(10) == false then tv.sleep(10) end -- ignores its cancellation once
      end
    end } }, { on_done = function(...) done_args = table.pack(...) end }))
    run_until(function() return started end, 30)
    assert(sup:shutdown())
    run_until(function() return done_args ~= nil end, 30)
    assert.is_nil(done_args[1])
    assert.matches("^GraceExceeded: ", done_args[2])
    assert.are.same({ "stubborn" }, done_args[3])
    assert.are.equal("cancelled", done_args[4].stubborn.status)
  end)

  it("installs no OS signal handler unless asked; with signals = true a SIGTERM shuts it down", function()
    -- without: the app's own luv handler gets the SIGTERM, the supervisor runs on
    local sup = tv.supervisor{ grace = 5 }
    assert(sup:start{ tv.task{ name = "w", run = function() while tv.sleep(1) ~= false do end end } })
    local got = 0
    local sig = uv.new_signal()
    sig:start("sigterm", function() got = got + 1 end)
    uv.kill(uv.os_getpid(), "sigterm")
    run_until(function() return got == 1 end, 30)
    assert.are.equal("open", sup:state())
    -- with: the same signal shuts the started supervisor down
    local sup2 = tv.supervisor{ grace = 5 }
    local events = H.collect(sup2)
    local done = false
    assert(sup2:start({ tv.task{ name = "w2", run = function() while tv.sleep(1) ~= false do end end } },
      { signals = true, on_done = function() done = true end }))
    uv.run("nowait") -- let it start
    uv.kill(uv.os_getpid(), "sigterm")
    run_until(function() return done end, 30)
    assert.are.equal(2, got) -- (the app's handler too)
    local req = H.only(events, nil, "ShutdownRequested")
    assert.are.equal(1, #req)
    assert.matches("SIGTERM", req[1].reason)
    assert.are.equal("open", sup:state())
    sig:close()
    sup:shutdown()
    run_until(function() return sup:done() end, 30)
  end)

  it("refuses sup:run from inside uv.run(), and bad options name the field", function()
    local sup = tv.supervisor{}
    local err
    local t = uv.new_timer()
    t:start(0, 0, function()
      t:close()
      local ok, e = pcall(sup.run, sup)
      err = ok and "ran" or e
    end)
    run_until(function() return err ~= nil end, 30)
    assert.matches("luv's loop is already running", err)
    assert.has_error(function() sup:start{ signals = "yes" } end,
      "sup:start: 'signals' must be a boolean (got \"yes\")")
    assert.has_error(function() sup:start{ on_done = 1 } end)
    assert.has_error(function() sup:start{ nope = 1 } end)
  end)

  it("starts from inside a task; sup:run after sup:start drives it to its end; tv.step refuses inside", function()
    local inner = tv.supervisor{ grace = 5 }
    local outer = tv.supervisor{ grace = 5 }
    local step_err, started
    assert(outer:start{ tv.task{ name = "starter", restart = "never", run = function()
      step_err = select(2, pcall(tv.step))
      started = assert(inner:start{ tv.task{ name = "inner", restart = "never", run = function() tv.sleep(0.01) end } })
    end } })
    local ok, outcomes = outer:run() -- after start: runs the loop until it ended
    assert.is_true(ok)
    assert.are.equal("completed", outcomes.starter.status)
    assert.is_true(started)
    assert.matches("tv.step: cannot be called from inside a task", step_err, 1, true)
    run_until(function() return inner:done() end, 30)
    local iok, iout = inner:result()
    assert.is_true(iok)
    assert.are.equal("completed", iout.inner.status)
  end)

  it("refuses sup:start when luv was loaded after taskvisor, unless external_loop", function()
    local script = H.script([[
      local tv = require("taskvisor")
      local uv = require("luv")
      local sup = tv.supervisor{}
      local ok, err = pcall(sup.start, sup, { tv.task{ name = "t", restart = "never", run = function() end } })
      io.write(tostring(ok), " ", err, "\n")
      local _, _, loop = tv.backend()
      io.write("loop ", loop, "\n")
      assert(sup:start({ tv.task{ name = "t", restart = "never", run = function() io.write("ran\n") end } },
        { external_loop = true }))
      while not sup:done() do tv.step() end
      io.write("done ", tostring((sup:result())), "\n")
    ]])
    local runner = SANITIZED and string.format("%q", H.host()) or H.lua()
    local out, status = H.sh(runner .. " " .. script)
    os.remove(script)
    assert.are.equal(0, status, out)
    assert.matches("false [^\n]*sup:start: luv is loaded, but taskvisor is not on its loop", out)
    assert.matches("require%('luv'%) before require%('taskvisor'%)", out)
    assert.matches("loop default\nran\ndone true\n", out)
  end)

  it("lets the app exit with tasks still registered: no crash, leak or process left", function()
    local script = H.script([[
      local uv = require("luv")
      -- made before taskvisor: finalized after it, as the state closes
      local late = uv.new_timer()
      local tv = require("taskvisor")
      local sup = tv.supervisor{ grace = 2 }
      sup:subscribe(function() end)
      assert(sup:start{
        tv.task{ name = "sleeper", run = function() tv.sleep(100) end },
        tv.task{ name = "exec", run = function(ctx) ctx:exec({ "sleep", "100" }) end },
        tv.process{ name = "proc", cmd = { "sleep", "100" } },
        tv.task{ name = "crash", restart = "always", backoff = { first = 0.01 },
          run = function() error("boom") end },
      })
      local pid
      local t = uv.new_timer()
      t:start(10, 10, function()
        local info = sup:process_info("proc")
        if info and not pid then pid = info.pid end
        if pid and sup:outcomes() and #sup:snapshot() >= 2 then t:close(); uv.stop() end
      end)
      uv.run()
      io.write("pid ", pid, " tasks ", #sup:list(), "\n")
      -- due, but the loop never turns again: closing the state must not run it
      late:start(0, 0, function() io.write("an app callback ran while the state closed\n") end)
    ]])
    local runner
    if SANITIZED then runner = string.format("%q", H.host())
    elseif MEMCHECK then
      runner = "valgrind -q --error-exitcode=9 --leak-check=full --show-leak-kinds=definite "
        .. "--errors-for-leak-kinds=definite --trace-children=no --child-silent-after-fork=yes "
        .. "--suppressions=spec/valgrind.supp " .. H.lua()
    else runner = H.lua() end
    local out, status = H.sh(runner .. " " .. script)
    os.remove(script)
    assert.are.equal(0, status, out)
    local pid, n = out:match("pid (%d+) tasks (%d+)")
    assert.is_not_nil(pid, out)
    assert.are.equal("4", n)
    assert.is_nil(out:find("an app callback ran", 1, true), out)
    -- the process task's child was killed and reaped as the app closed
    local f = io.open("/proc/" .. pid .. "/stat")
    local stat = f and f:read("a") or ""
    if f then f:close() end
    assert.is_nil(stat:match("^%d+ %(sleep%)"), "left behind: " .. stat)
  end)
end)

describe("the app ends while started tasks run (on luv's loop, at lua_close)", function()
  it("leaves a started supervisor with tasks for the state's close to finish", function()
    -- busted_runner closes the state at the end: the memcheck and ASan runs
    -- of this spec check that this supervisor's handles close before luv's
    -- loop does (luv's close callback would take ours for its own)
    local sup = tv.supervisor{ grace = 2 }
    local started = false
    assert(sup:start{
      tv.task{ name = "left", run = function() started = true; tv.sleep(100) end },
      tv.process{ name = "left-proc", cmd = { "sleep", "100" } },
    })
    run_until(function() return started and sup:is_alive("left-proc") end, 30)
    _G.__kept_supervisor = sup
  end)
end)
