-- process_spec: process tasks with real child processes: exit codes and
-- signals map to events, stop escalation, process groups (grandchildren),
-- reaping (no zombies), spawn failures, output (events, rotation), signals.
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv

local run = P.run

local SH = "/bin/sh"

describe("process tasks", function()
  it("map exit codes to events: success, retryable failure, fatal", function()
    local events = run({
      tv.process({ name = "ok", cmd = { "true" }, restart = "never" }),
      tv.process({ name = "three", cmd = { SH, "-c", "exit 3" }, max_retries = 1, backoff = { first = 0.01 } }),
      tv.process({ name = "fatal", cmd = { SH, "-c", "exit 7" }, fatal_codes = { 7 } }),
      tv.process({ name = "two_ok", cmd = { SH, "-c", "exit 2" }, success_codes = { 0, 2 }, restart = "never" }),
    })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "ok"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1",
      "BackoffScheduled#1", "TaskStarting#2", "TaskFailed#2", "ActorExhausted#2", "TaskRemoved" },
      H.trace(events, "three"))
    local failed = H.first(events, "TaskFailed", "three")
    assert.equal("execution failed: exited with code 3", failed.reason)
    assert.equal(3, failed.exit_code)
    assert.is_nil(failed.signal)
    local ex = H.first(events, "ActorExhausted", "three")
    assert.equal("max_retries_exceeded(1/1): execution failed: exited with code 3", ex.reason)
    assert.equal(3, ex.exit_code)
    local dead = H.first(events, "ActorDead", "fatal")
    assert.equal("fatal error (no retry): exited with code 7", dead.reason)
    assert.equal(7, dead.exit_code)
    assert.equal(1, H.count(events, "TaskStarting", "fatal"))
    assert.equal(1, H.count(events, "TaskStopped", "two_ok"))
  end)

  it("reports death by a signal with the signal's name", function()
    local events = run({ tv.process({ name = "segv", cmd = { SH, "-c", "kill -SEGV $$" }, restart = "never" }) })
    local failed = H.first(events, "TaskFailed", "segv")
    assert.equal("execution failed: killed by signal SIGSEGV", failed.reason)
    assert.equal("SIGSEGV", failed.signal)
    assert.is_nil(failed.exit_code)
    assert.equal("SIGSEGV", H.first(events, "ActorExhausted", "segv").signal)
  end)

  it("a script whose #! interpreter is missing says so, naming the interpreter", function()
    local script = P.tmpname()
    local f = assert(io.open(script, "w"))
    f:write("#!/no/such/interpreter -x\necho hi\n")
    f:close()
    os.execute("chmod +x " .. script)
    local events = run({ tv.process({ name = "shebang", restart = "never", cmd = { script } }) })
    local reason = H.first(events, "TaskFailed", "shebang").reason
    if os.getenv("TASKVISOR_MEMCHECK") and reason == "execution failed: exited with code 101" then
      -- under valgrind the forked child's failed execve is valgrind's own: it
      -- exits 101 and our child never sees the error to report it
      os.remove(script)
      return
    end
    assert.equal("execution failed: ENOENT: interpreter not found: /no/such/interpreter (the #! line of "
      .. script .. ")", reason)
    os.remove(script)
  end)

  it("reports a command that cannot start, leaving no zombie and no fd behind", function()
    local fds = P.fds()
    -- sup:add checks the programs are there: they go (or lose their x bit) after it
    local gone, plain = P.executable(), P.executable()
    local inpath = P.executable("no-such-prog-xyz")
    local dir = inpath:match("^(.*)/")
    local events = run({}, { setup = function(sup)
      for _, s in ipairs({
        tv.process({ name = "missing", cmd = { gone }, restart = "never" }),
        tv.process({ name = "nopath", cmd = { "no-such-prog-xyz" }, env = { PATH = dir }, restart = "never" }),
        tv.process({ name = "noexec", cmd = { plain }, restart = "never" }),
        tv.process({ name = "badcwd", cmd = { "true" }, cwd = "/no/such/dir", restart = "never" }),
      }) do assert(sup:add(s)) end
      os.remove(gone)
      os.remove(inpath)
      os.remove(dir)
      assert(os.execute("chmod 644 " .. plain)) -- not executable, even by root
    end })
    assert.equal("execution failed: ENOENT: no such file: " .. gone,
      H.first(events, "TaskFailed", "missing").reason)
    assert.equal("execution failed: ENOENT: no such file (not found in PATH): no-such-prog-xyz",
      H.first(events, "TaskFailed", "nopath").reason)
    assert.equal("execution failed: EACCES: permission denied: " .. plain,
      H.first(events, "TaskFailed", "noexec").reason)
    os.remove(plain)
    assert.equal("execution failed: ENOENT: no such directory (cwd): /no/such/dir",
      H.first(events, "TaskFailed", "badcwd").reason)
    assert.same({}, P.zombies())
    assert.same({}, P.new_fds(fds))
  end)

  it("stops a child that ignores SIGTERM with SIGKILL after stop_timeout", function()
    local pidfile = P.tmpname()
    local events = run({ tv.process({ name = "stubborn", stop_timeout = 0.2,
      cmd = { SH, "-c", "trap '' TERM; echo $$ > " .. pidfile .. "; while :; do sleep 0.05; done" } }) },
      { setup = function(sup) assert(sup:add(tv.once("remover", function(ctx)
        while #P.pids(pidfile) < 1 do ctx:sleep(0.02) end
        assert(sup:remove("stubborn"))
      end))) end })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskRemoveRequested",
      "TaskStopped#1", "TaskRemoved" }, H.trace(events, "stubborn"))
    local pid = P.pids(pidfile)[1]
    os.remove(pidfile)
    assert.is_false(P.alive(pid))
    assert.same({}, P.zombies())
  end)

  it("kills a stopped child's grandchildren with its process group", function()
    local pidfile = P.tmpname()
    local events = run({ tv.process({ name = "parent", stop_timeout = 0.2,
      cmd = { SH, "-c", "sleep 60 & echo $! > " .. pidfile .. "; echo $$ >> " .. pidfile .. "; wait" } }) },
      { setup = function(sup) assert(sup:add(tv.once("stopper", function(ctx)
        while #P.pids(pidfile) < 2 do ctx:sleep(0.02) end
        sup:shutdown()
      end))) end })
    local pids = P.pids(pidfile)
    os.remove(pidfile)
    assert.equal(2, #pids)
    assert.is_false(P.alive(pids[1])) -- the grandchild
    assert.is_false(P.alive(pids[2]))
    assert.equal(1, H.count(events, "TaskStopped", "parent"))
    assert.same({}, P.zombies())
  end)

  it("kills what a child left running in its group when it exits", function()
    local pidfile = P.tmpname()
    local events = run({ tv.process({ name = "leaver", restart = "never",
      cmd = { SH, "-c", "sleep 60 & echo $! > " .. pidfile .. "; exit 0" } }) })
    assert.equal(1, H.count(events, "TaskStopped", "leaver"))
    local pid = P.pids(pidfile)[1]
    os.remove(pidfile)
    assert.is_true(P.wait_until(function() return not P.alive(pid) end))
    assert.is_true(P.wait_until(function() return #P.zombies() == 0 end))
  end)

  it("leaves no zombie after 100 restarts", function()
    local sup = tv.supervisor({ grace = 5 })
    local starts = 0
    assert(sup:subscribe(function(ev)
      if ev.kind == "TaskStarting" then
        starts = starts + 1
        if starts == 100 then sup:shutdown() end
      end
    end))
    assert(sup:add(tv.process({ name = "flapper", cmd = { SH, "-c", "exit 1" }, restart = "always",
      backoff = { first = 0 } })))
    assert(sup:run())
    assert.is_true(starts >= 100)
    assert.same({}, P.zombies())
  end)

  it("reaps processes that daemonized out of their group (no zombies pile up)", function()
    local during
    local events = run({ tv.process({ name = "daemonizer", restart = "always",
      backoff = { first = 0.01, max = 0.01 },
      cmd = { SH, "-c", "setsid sh -c 'sleep 0.05' & sleep 0.02" } }) }, { setup = function(sup)
        assert(sup:add(tv.once("stop-later", function(ctx)
          ctx:sleep(0.5)
          during = #P.zombies() -- counted while they keep coming
          sup:remove("daemonizer")
          ctx:sleep(0.3) -- the last daemons exit meanwhile, while the loop runs
        end)))
      end })
    assert.is_true(H.count(events, "TaskStarting", "daemonizer") >= 5)
    assert.is_true(during <= 3, during .. " zombies while running") -- at most a few not yet handled
    P.wait_until(function() return #P.zombies() == 0 end, 2)
    assert.same({}, P.zombies())
  end)

  it("publishes output lines as TaskOutput events", function()
    local long = string.rep("x", 5000)
    local events = run({ tv.process({ name = "talker", restart = "never", stdout = "events",
      stderr = { events = true },
      cmd = { SH, "-c", "echo one; echo two >&2; printf 'a\\r\\nb\\n'; printf '" .. long .. "\\n'; printf last" } }) })
    local out = H.only(events, "talker", "TaskOutput")
    local lines = {}
    for _, ev in ipairs(out) do lines[#lines + 1] = ev.stream .. ":" .. ev.line end
    table.sort(lines)
    assert.same({ "stderr:two", "stdout:a", "stdout:b", "stdout:last", "stdout:one",
      "stdout:" .. string.rep("x", 4096) .. " [truncated 904 bytes]" }, lines)
    assert.equal(1, out[1].attempt)
    -- all output is published before the attempt's outcome
    assert.is_true(H.index(events, "TaskStopped", "talker") > H.index(events, "TaskOutput", "talker") + #out - 1)
  end)

  it("writes output to a size-rotated log file", function()
    local log = P.tmpname()
    local events = run({ tv.process({ name = "writer", restart = "never",
      stdout = { file = log, max_bytes = 1000, backups = 2 },
      cmd = { SH, "-c", "i=0; while [ $i -lt 300 ]; do echo \"line $i of the log\"; i=$((i+1)); done" } }) })
    assert.equal(1, H.count(events, "TaskStopped", "writer"))
    for _, p in ipairs({ log, log .. ".1", log .. ".2" }) do
      local s = assert(P.read(p), p)
      assert.is_true(#s <= 1000 and #s > 0, p)
    end
    assert.is_nil(P.read(log .. ".3"))
    assert.truthy(P.read(log):find("line 299 of the log\n$"))
    for _, p in ipairs({ log, log .. ".1", log .. ".2" }) do os.remove(p) end
  end)

  it("TaskStarting carries each attempt's pid; TaskStopped says killed = true when SIGKILL was needed", function()
    local pids = P.tmpname()
    local events = run({
      tv.process({ name = "twice", restart = "on_failure", max_retries = 1, backoff = { first = 0.01 },
        cmd = { SH, "-c", "echo $$ >> " .. pids .. "; exit 1" } }),
      tv.process({ name = "stubborn", stop_timeout = 0.2,
        cmd = { SH, "-c", "trap '' TERM; echo $$ >> " .. pids .. ".s; while :; do sleep 0.05; done" } }),
      tv.process({ name = "polite", cmd = { "sleep", "10" } }),
      tv.once("lua", function() end),
    }, { setup = function(sup)
      -- sup:add checks the program is there: it goes after the add
      local gone = P.executable()
      assert(sup:add(tv.process({ name = "missing", restart = "never", cmd = { gone } })))
      os.remove(gone)
      assert(sup:add(tv.once("stopper", function(ctx)
      while not P.read(pids .. ".s") or P.read(pids .. ".s") == "" do ctx:sleep(0.02) end
      assert(sup:remove("stubborn"))
      assert(sup:remove("polite"))
    end))) end })
    local written = P.pids(pids)
    local started = {}
    for _, ev in ipairs(events) do
      if ev.kind == "TaskStarting" and ev.task == "twice" then started[#started + 1] = ev.pid end
    end
    assert.same(written, started) -- two attempts, two processes, in order
    assert.are_not.equal(started[1], started[2])
    assert.equal(P.pids(pids .. ".s")[1], H.first(events, "TaskStarting", "stubborn").pid)
    assert.is_true(H.first(events, "TaskStopped", "stubborn").killed)
    assert.is_nil(H.first(events, "TaskStopped", "polite").killed)
    assert.is_nil(H.first(events, "TaskFailed", "twice").killed)
    assert.is_nil(H.first(events, "TaskStarting", "lua").pid)
    -- a spawn that fails: TaskStarting without a pid, then its TaskFailed
    assert.is_nil(H.first(events, "TaskStarting", "missing").pid)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "missing"))
    os.remove(pids)
    os.remove(pids .. ".s")
  end)

  it("sup:process(name) shows the live pid and the bytes a log file lost", function()
    local pidfile = P.tmpname()
    local state, errs = nil, {}
    run({
      tv.process({ name = "full", stdout = "/dev/full",
        cmd = { SH, "-c", "echo $$ > " .. pidfile .. "; echo 12345; exec sleep 10" } }),
      tv.once("plain", function() end),
    }, { setup = function(sup) assert(sup:add(tv.once("watcher", function(ctx)
      repeat
        ctx:sleep(0.02)
        state = assert(sup:process("full"))
      until state.stdout.lost_bytes == 6 and P.read(pidfile) ~= ""
      errs = { select(2, sup:process("nope")), select(2, sup:process("watcher")) }
      assert(sup:remove("full"))
    end))) end })
    assert.equal(P.pids(pidfile)[1], state.pid)
    assert.equal(1, state.attempt)
    assert.same({ file = "/dev/full", lost_bytes = 6, error = "ENOSPC: no space left on device" }, state.stdout)
    assert.is_nil(state.stderr) -- inherited: no file
    assert.same({ "ENOENT: no task named 'nope'", "ENOTSUP: task 'watcher' is not a process" }, errs)
    os.remove(pidfile)
  end)

  it("rotates between lines: no line straddles two files, even one written in pieces", function()
    -- 130-byte lines written in three pieces each (printf, sleep-free), against
    -- max_bytes = 1000: before, a write crossing 1000 was split mid-line
    local log = P.tmpname()
    run({ tv.process({ name = "pieces", restart = "never",
      stdout = { file = log, max_bytes = 1000, backups = 3 },
      cmd = { SH, "-c", "i=100; while [ $i -lt 125 ]; do printf 'line %d ' $i; "
        .. "printf '%0100d' 0; printf ' end\\n'; i=$((i+1)); done" } }) })
    local seen = 0
    for _, p in ipairs({ log .. ".3", log .. ".2", log .. ".1", log }) do
      local s = P.read(p)
      if s then
        assert.is_true(#s <= 1000 and #s > 0, p)
        assert.truthy(s:match("^line %d+ "), p .. " starts mid-line: " .. s:sub(1, 20))
        assert.equal("\n", s:sub(-1), p .. " ends mid-line")
        for l in s:gmatch("[^\n]*\n") do
          assert.truthy(l:match("^line %d+ 0+ end\n$"), l)
          seen = seen + 1
        end
      end
    end
    assert.is_true(seen >= 21, seen .. " lines") -- 4 files of 7 lines each hold all 25 lines but the oldest
    for _, p in ipairs({ log, log .. ".1", log .. ".2", log .. ".3" }) do os.remove(p) end
  end)

  it("publishes OutputLost when a log file refuses output (task, stream, file, bytes, error)", function()
    -- /dev/full refuses every write with ENOSPC; before, the bytes vanished silently
    local events = run({ tv.process({ name = "full", restart = "never",
      stdout = "/dev/full", stderr = "events",
      cmd = { SH, "-c", "echo 12345; sleep 0.05; echo 6789; echo done >&2" } }) })
    local lost, bytes = {}, 0
    for _, ev in ipairs(events) do
      if ev.kind == "OutputLost" then
        lost[#lost + 1] = ev
        bytes = bytes + ev.bytes
      end
    end
    assert.is_true(#lost >= 1 and #lost <= 2, #lost .. " OutputLost") -- the first at once, the rest rate-limited
    for _, ev in ipairs(lost) do
      assert.equal("full", ev.task)
      assert.equal(1, ev.attempt)
      assert.equal("stdout", ev.stream)
      assert.equal("/dev/full", ev.file)
      assert.equal("ENOSPC: no space left on device", ev.reason)
    end
    assert.equal(11, bytes) -- every lost byte is told, the last ones when the stream ends
    -- told before the attempt's outcome, and the task itself goes on
    assert.is_true(H.index(events, "OutputLost", "full") < H.index(events, "TaskStopped", "full"))
    assert.equal("done", H.first(events, "TaskOutput", "full").line)
  end)

  it("shares one rotating file between stdout and stderr naming the same path", function()
    local log = P.tmpname()
    run({ tv.process({ name = "both-streams", restart = "never",
      stdout = { file = log, max_bytes = 10000, backups = 2 }, stderr = { file = log, max_bytes = 10000, backups = 2 },
      cmd = { SH, "-c", "i=0; while [ $i -lt 3000 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done" } }) })
    local kept = 0
    for _, p in ipairs({ log, log .. ".1", log .. ".2" }) do
      local s = assert(P.read(p), p)
      assert.is_true(#s <= 10000 and #s > 0, p .. " has " .. #s .. " bytes")
      kept = kept + #s
    end
    assert.is_true(kept > 20000, kept .. " bytes kept") -- the two older files are full
    assert.truthy(P.read(log):find("%a+2999\n")) -- the newest lines (the two pipes interleave)
    for _, p in ipairs({ log, log .. ".1", log .. ".2" }) do os.remove(p) end
  end)

  it("keeps NUL bytes in a truncated TaskOutput line", function()
    local events = run({ tv.process({ name = "nul", restart = "never", stdout = "events",
      cmd = { SH, "-c", "printf 'ab\\000cd'; head -c 5000 /dev/zero | tr '\\0' x; echo" } }) })
    local line = H.first(events, "TaskOutput", "nul").line
    assert.equal("ab\0cd", line:sub(1, 5))
    assert.truthy(line:find(" %[truncated %d+ bytes%]$"))
    assert.equal(4096, #line:match("^(.-) %[truncated"))
  end)

  it("appends to a plain log file and can also publish events", function()
    local log = P.tmpname()
    local events = run({ tv.process({ name = "both", restart = "never", stdout = { file = log, events = true },
      stderr = "null", cmd = { SH, "-c", "echo hello; echo hidden >&2" } }) })
    assert.equal("hello\n", P.read(log))
    assert.equal(1, H.count(events, "TaskOutput", "both"))
    os.remove(log)
  end)

  it("closes its log files when the task ends, not when its object is collected", function()
    local log = P.tmpname()
    collectgarbage("stop") -- nothing may close them behind the test's back
    local fds = P.fds()
    for i = 1, 3 do
      run({ tv.process({ name = "logged" .. i, restart = "never", cmd = { SH, "-c", "echo x" },
        stdout = { file = log, max_bytes = 1000 }, stderr = log }) })
    end
    local leaked = P.new_fds(fds)
    collectgarbage("restart")
    assert.same({}, leaked)
    assert.equal("x\nx\nx\n", P.read(log))
    os.remove(log)
  end)

  it("forwards signals with sup:signal and says why it cannot", function()
    local pidfile = P.tmpname()
    local results = {}
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert(sup:add(tv.process({ name = "hup", restart = "on_failure", backoff = { first = 5 },
      cmd = { SH, "-c", "echo $$ > " .. pidfile .. "; exec sleep 60" } })))
    assert(sup:add(tv.task({ name = "driver", restart = "never", run = function(ctx)
      while not P.read(pidfile) or P.read(pidfile) == "" do ctx:sleep(0.02) end
      results.hup = { sup:signal("hup", "HUP") }
      while sup:is_alive("hup") do ctx:sleep(0.02) end
      results.backoff = { sup:signal("hup", "SIGTERM") }
      results.missing = { sup:signal("nope", 1) }
      results.lua = { sup:signal("driver", "TERM") }
      sup:shutdown()
    end })))
    assert(sup:run())
    os.remove(pidfile)
    assert.same({ true }, results.hup)
    assert.same({ nil, "ESRCH: task 'hup' has no running process (backoff)" }, results.backoff)
    assert.same({ nil, "ENOENT: no task named 'nope'" }, results.missing)
    assert.same({ nil, "ENOTSUP: task 'driver' is not a process" }, results.lua)
    local failed = H.first(events, "TaskFailed", "hup")
    assert.equal("SIGHUP", failed.signal)
  end)

  it("stops a process at its timeout and retries it", function()
    local events = run({ tv.process({ name = "slow", cmd = { "sleep", "30" }, timeout = 0.1,
      stop_timeout = 0.2, max_retries = 1, backoff = { first = 0.01 } }) })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TimeoutHit#1", "TaskFailed#1",
      "BackoffScheduled#1", "TaskStarting#2", "TimeoutHit#2", "TaskFailed#2", "ActorExhausted#2",
      "TaskRemoved" }, H.trace(events, "slow"))
    assert.equal("timed out after 100ms", H.first(events, "TaskFailed", "slow").reason)
    assert.same({}, P.zombies())
  end)

  it("passes env, cwd and inherit_env to the child", function()
    local log = P.tmpname()
    local events = run({ tv.process({ name = "envy", restart = "never", cwd = "/tmp", inherit_env = false,
      env = { FOO = "bar", PATH = "/usr/bin:/bin" }, stdout = { file = log },
      cmd = { SH, "-c", "echo $FOO; pwd; echo ${HOME:-nohome}" } }) })
    assert.equal(1, H.count(events, "TaskStopped", "envy"))
    assert.equal("bar\n/tmp\nnohome\n", P.read(log))
    os.remove(log)
  end)

  it("returns an error for a log file that cannot be opened", function()
    local sup = tv.supervisor()
    local ok, err = sup:add(tv.process({ name = "x", cmd = { "true" }, stdout = "/no/such/dir/x.log" }))
    assert.is_nil(ok)
    assert.equal("ENOENT: stdout: cannot open log file '/no/such/dir/x.log': no such file or directory", err)
    assert.same({}, sup:list())
  end)
end)
