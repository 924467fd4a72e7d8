-- process_ready_spec: process readiness (ready = "notify" through
-- $NOTIFY_SOCKET, ready = { check = ... } polled), with real children: when
-- TaskReady comes, what is ignored, the readiness timeout, no zombies, no
-- leaked fds; and the validation of `ready`.
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv

local SH = "/bin/sh"

-- A sd_notify sender (python3): `send MSG...` one datagram per argument
-- ("\n" in an argument is a newline); `garbage`: datagrams that must not
-- count; `flood N`: N STATUS= datagrams; `escaped FILE`: from a new session
-- (outside the task's group), sends READY=1, lives 1 s more, then writes FILE.
local SENDER = [[
import array, os, socket, sys, time
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
mode, args = sys.argv[1], sys.argv[2:]
if mode == "send":
    for a in args:
        s.sendto(a.replace("\\n", "\n").encode(), addr)
elif mode == "garbage":
    for m in [b"", b"READY=0", b"READY=1x", b"READY", b" READY=1", b"READY=1 ",
              b"READY=1\0", b"\xff\xfe\0junk\n\n=", b"=1\nREADY\n=READY=1"]:
        s.sendto(m, addr)
    s.sendto(b"READY=1\n" * 1000, addr)  # 8000 bytes: over the limit, dropped whole
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
    s.sendmsg([b"FDSTORE=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))], 0, addr)
elif mode == "flood":
    for i in range(int(args[0])):
        s.sendto(b"STATUS=flood %d\nWATCHDOG=1" % i, addr)
elif mode == "escaped":
    os.setsid()
    s.sendto(b"READY=1", addr)
    time.sleep(1)
    open(args[0], "w").close()
]]

local sender_path
local function notify(args)
  return "python3 " .. sender_path .. " " .. args
end
-- A shell script that stops at the first failing command (a sender's, say).
local function script(s) return { SH, "-c", "set -e; " .. s } end

local run = P.run

-- Index of the TaskOutput event whose line is `line`.
local function output_index(events, task, line)
  for i, ev in ipairs(events) do
    if ev.kind == "TaskOutput" and ev.task == task and ev.line == line then return i end
  end
  return nil
end

-- Run options whose setup subscribes a gate: the file `path` is created at the
-- first event for which pred(ev) holds. A child waits for it (`gated(path)`)
-- before its next step, so that step follows the event whatever the load.
local function gate(path, pred, opts)
  opts = opts or {}
  local setup = opts.setup
  opts.setup = function(sup)
    assert(sup:subscribe({ name = "gate", on_event = function(ev)
      if pred(ev) then assert(io.open(path, "w")):close() end
    end }))
    if setup then setup(sup) end
  end
  return opts
end
local function gated(path) return "until [ -e " .. path .. " ]; do sleep 0.01; done" end
local function is(kind, task, line)
  return function(ev) return ev.kind == kind and ev.task == task and (line == nil or ev.line == line) end
end

local function lines(path)
  local n = 0
  for _ in (P.read(path) or ""):gmatch("[^\n]+") do n = n + 1 end
  return n
end

describe("process readiness", function()
  setup(function()
    sender_path = P.tmpname() .. ".py"
    local f = assert(io.open(sender_path, "w"))
    f:write(SENDER)
    f:close()
  end)
  teardown(function() os.remove(sender_path) end)

  it("notify: TaskReady once READY=1 arrives, not before", function()
    local g = P.tmpname()
    local events = run({ tv.process({ name = "n", restart = "never", ready = "notify", stdout = "events",
      cmd = script("sleep 0.3; echo \"sending $NOTIFY_SOCKET\"; sleep 0.2; "
        .. notify("send 'STATUS=almost' 'STATUS=up\\nMAINPID=1\\nREADY=1\\n'") .. "; " .. gated(g) .. "; echo done") }) },
      gate(g, is("TaskReady", "n")))
    os.remove(g)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskOutput#1", "TaskReady#1",
      "TaskOutput#1", "TaskStopped#1", "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "n"))
    local line = H.first(events, "TaskOutput", "n").line
    assert.truthy(line:match("^sending @taskvisor/%d+/%d+$"), line)
    assert.equal(1, H.first(events, "TaskReady", "n").attempt)
  end)

  it("notify: each attempt gets its own socket and its own TaskReady", function()
    local events = run({ tv.process({ name = "again", ready = { notify = true, timeout = 5 },
      stdout = "events", max_retries = 2, backoff = { first = 0.01 },
      cmd = script("echo $NOTIFY_SOCKET; " .. notify("send READY=1") .. "; sleep 0.1; exit 1") }) })
    local sockets = {}
    for _, ev in ipairs(H.only(events, "again", "TaskOutput")) do sockets[ev.line] = true end
    local n = 0
    for _ in pairs(sockets) do n = n + 1 end
    assert.equal(3, n)
    assert.equal(3, H.count(events, "TaskReady", "again"))
    for i, ev in ipairs(H.only(events, "again", "TaskReady")) do assert.equal(i, ev.attempt) end
  end)

  it("notify: ignores garbage, oversized and flooding datagrams", function()
    local fds = P.fds()
    local g = P.tmpname()
    local events = run({ tv.process({ name = "g", restart = "never", ready = "notify", stdout = "events",
      cmd = script(notify("garbage") .. "; " .. notify("flood 2000") .. "; echo sent; sleep 0.3; echo ready; "
        .. gated(g) .. "; " .. notify("send READY=1 READY=1") .. "; " .. notify("send STOPPING=1") .. "; sleep 0.2") }) },
      gate(g, is("TaskOutput", "g", "ready")))
    os.remove(g)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskOutput#1", "TaskOutput#1",
      "TaskReady#1", "TaskStopped#1", "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "g"))
    assert.is_true(H.index(events, "TaskReady", "g") > output_index(events, "g", "ready"))
    assert.same({}, P.new_fds(fds)) -- the passed fds were closed
  end)

  it("notify: does not hear a process outside the task's group", function()
    local done, g = P.tmpname(), P.tmpname()
    local events = run({ tv.process({ name = "guarded", restart = "never", ready = "notify", stdout = "events",
      cmd = script(notify("escaped " .. done) .. " & while [ ! -e " .. done .. " ]; do sleep 0.05; done; "
        .. "echo legit; " .. gated(g) .. "; " .. notify("send READY=1") .. "; sleep 0.2") }) },
      gate(g, is("TaskOutput", "guarded", "legit")))
    os.remove(done)
    os.remove(g)
    assert.truthy(output_index(events, "guarded", "legit"))
    assert.is_true(H.index(events, "TaskReady", "guarded") > output_index(events, "guarded", "legit"))
    P.wait_until(function() return #P.zombies() == 0 end, 2)
    assert.same({}, P.zombies())
  end)

  it("notify: an attempt not ready in time is stopped (SIGKILL after stop_timeout) and retried", function()
    local pidfile = P.tmpname()
    local events = run({ tv.process({ name = "mute", ready = { notify = true, timeout = 1 }, stop_timeout = 0.2,
      max_retries = 1, backoff = { first = 0.01 },
      cmd = { SH, "-c", "trap '' TERM; echo $$ >> " .. pidfile .. "; while :; do sleep 0.05; done" } }) })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskFailed#2", "ActorExhausted#2", "TaskRemoved" }, H.trace(events, "mute"))
    local failed = H.first(events, "TaskFailed", "mute")
    assert.equal('execution failed: not ready within 1s (ready = "notify")', failed.reason)
    assert.is_nil(failed.exit_code)
    assert.is_nil(failed.signal)
    assert.equal('max_retries_exceeded(1/1): execution failed: not ready within 1s (ready = "notify")',
      H.first(events, "ActorExhausted", "mute").reason)
    local pids = P.pids(pidfile)
    os.remove(pidfile)
    assert.equal(2, #pids)
    for _, pid in ipairs(pids) do assert.is_false(P.alive(pid)) end
    assert.same({}, P.zombies())
  end)

  it("notify: timeout = 0 waits without limit; a process that never says READY just runs", function()
    local events = run({ tv.process({ name = "patient", restart = "never",
      ready = { notify = true, timeout = 0 }, cmd = { "sleep", "0.3" } }) })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "patient"))
  end)

  it("notify: a command that cannot start fails as usual and leaves no socket open", function()
    local fds = P.fds()
    local gone = P.executable() -- there for sup:add's check, gone by the spawn
    local events = run({}, { setup = function(sup)
      assert(sup:add(tv.process({ name = "missing", restart = "never", ready = "notify", cmd = { gone } })))
      os.remove(gone)
    end })
    assert.equal("execution failed: ENOENT: no such file: " .. gone,
      H.first(events, "TaskFailed", "missing").reason)
    assert.same({}, P.new_fds(fds))
  end)

  it("sets NOTIFY_SOCKET only for ready = \"notify\" (not for other processes, nor checks)", function()
    local log, checklog = P.tmpname(), P.tmpname()
    local events = run({
      tv.process({ name = "n", restart = "never", ready = "notify",
        cmd = script(notify("send READY=1") .. "; sleep 0.1") }),
      tv.process({ name = "plain", restart = "never", stdout = { file = log },
        cmd = { SH, "-c", "sleep 0.2; echo plain=${NOTIFY_SOCKET-unset}" } }),
      tv.process({ name = "checked", restart = "never", stdout = { file = log },
        ready = { check = "echo check=${NOTIFY_SOCKET-unset} >> " .. checklog, every = 0.05 },
        cmd = { SH, "-c", gated(checklog) .. "; echo checked=${NOTIFY_SOCKET-unset}" } }),
    })
    assert.equal(1, H.count(events, "TaskReady", "n"))
    -- (a host run under systemd passes its own variable on like any other)
    local inherited = os.getenv("NOTIFY_SOCKET") or "unset"
    local out = P.read(log)
    assert.truthy(out:find("plain=" .. inherited .. "\n", 1, true), out)
    assert.truthy(out:find("checked=" .. inherited .. "\n", 1, true), out)
    assert.equal("check=" .. inherited .. "\n", P.read(checklog))
    os.remove(log)
    os.remove(checklog)
  end)

  it("check: TaskReady after the first check that exits 0; no check after that", function()
    local count, g = P.tmpname(), P.tmpname()
    -- (the process runs until TaskReady, then 0.3 s more: time for a check too many to show)
    local events = run({ tv.process({ name = "polled", restart = "never",
      ready = { check = { SH, "-c", "echo x >> " .. count .. "; [ $(wc -l < " .. count .. ") -ge 3 ]" }, every = 0.05 },
      cmd = { SH, "-c", gated(g) .. "; sleep 0.3" } }) }, gate(g, is("TaskReady", "polled")))
    os.remove(g)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskReady#1", "TaskStopped#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "polled"))
    assert.equal(3, lines(count))
    os.remove(count)
    assert.same({}, P.zombies())
  end)

  it("check: a check slower than `every` is not killed (its own check_timeout, 5 s by default)", function()
    -- each check takes 0.3 s with every = 0.05: before check_timeout, each was
    -- killed at `every` and the healthy process failed at its readiness timeout
    local count = P.tmpname()
    local events = run({ tv.process({ name = "slow", restart = "never",
      ready = { check = "echo x >> " .. count .. "; sleep 0.3", every = 0.05, timeout = 60 },
      cmd = { "sleep", "0.8" } }) })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskReady#1", "TaskStopped#1",
      "ActorExhausted#1", "TaskRemoved" }, H.trace(events, "slow"))
    assert.equal(1, lines(count))
    os.remove(count)
  end)

  it("check: kills a hanging check after check_timeout, fails the attempt at its timeout", function()
    local pids = P.tmpname()
    local events = run({ tv.process({ name = "hung", restart = "never", stop_timeout = 0.2,
      ready = { check = "echo $$ >> " .. pids .. "; exec sleep 10", every = 0.05, check_timeout = 0.3, timeout = 1 },
      cmd = { "sleep", "10" } }) })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "hung"))
    local reason = H.first(events, "TaskFailed", "hung").reason
    local n = reason:match("^execution failed: not ready within 1s %(ready%.check: (%d+) checks?, "
      .. "the last ran over 300ms and was killed%)$")
    assert.truthy(n, reason)
    assert.is_true(tonumber(n) >= 2, reason) -- the first was killed and another started
    -- (a check killed before its shell wrote its pid leaves none: not every check is listed)
    local checks = P.pids(pids)
    os.remove(pids)
    assert.is_true(#checks >= 1 and #checks <= tonumber(n), #checks .. " checks")
    for _, pid in ipairs(checks) do assert.is_false(P.alive(pid)) end
    assert.same({}, P.zombies())
  end)

  it("check: says how the last check went, and that a check could not start", function()
    local events = run({
      tv.process({ name = "failing", restart = "never", ready = { check = "exit 3", every = 0.25, timeout = 1 },
        cmd = { "sleep", "10" } }),
      tv.process({ name = "nocheck", restart = "never", ready = { check = { "/no/such/check" }, every = 0.25, timeout = 1 },
        cmd = { "sleep", "10" } }),
    })
    local failing = H.first(events, "TaskFailed", "failing").reason
    -- (generous periods: a check of `sh -c` must finish within `every` on a loaded machine)
    assert.truthy(failing:match("^execution failed: not ready within 1s %(ready%.check: %d+ checks, "
      .. "the last exited with code 3%)$"), failing)
    local nocheck = H.first(events, "TaskFailed", "nocheck").reason
    assert.truthy(nocheck:match("^execution failed: not ready within 1s %(ready%.check: %d+ checks, "
      .. "the last could not start: ENOENT: no such file: /no/such/check%)$"), nocheck)
  end)

  it("check: checks stop when the attempt ends and when the task is removed", function()
    local ended, removed = P.tmpname(), P.tmpname()
    local events = run({
      tv.process({ name = "short", restart = "never", ready = { check = "echo x >> " .. ended .. "; exit 1", every = 0.05 },
        cmd = { SH, "-c", "until [ -e " .. ended .. " ] && [ $(wc -l < " .. ended .. ") -ge 2 ]; do sleep 0.01; done" } }),
      tv.process({ name = "removed", ready = { check = "echo x >> " .. removed .. "; exit 1", every = 0.05 },
        cmd = { "sleep", "10" } }),
    }, { setup = function(sup) assert(sup:add(tv.once("remover", function(ctx)
      while lines(removed) < 3 do ctx:sleep(0.02) end
      assert(sup:remove("removed"))
    end))) end })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskRemoveRequested", "TaskStopped#1",
      "TaskRemoved" }, H.trace(events, "removed"))
    assert.equal(1, H.count(events, "TaskStopped", "short"))
    local n1, n2 = lines(ended), lines(removed)
    assert.is_true(n1 >= 2 and n2 >= 3)
    os.execute("sleep 0.3")
    assert.equal(n1, lines(ended))
    assert.equal(n2, lines(removed))
    os.remove(ended)
    os.remove(removed)
    assert.same({}, P.zombies())
  end)

  it("leaks no fd and leaves no zombie over 20 attempts of each kind", function()
    local fds = P.fds()
    local c20 = P.tmpname()
    local events = run({
      tv.process({ name = "n20", ready = "notify", max_retries = 19, backoff = { first = 0 },
        cmd = script(notify("send READY=1") .. "; exit 1") }),
      tv.process({ name = "c20", ready = { check = "true", every = 0.01 }, max_retries = 19, backoff = { first = 0 },
        cmd = { SH, "-c", gated(c20) .. "; exit 1" } }), -- each attempt after the first TaskReady exits at once
      tv.process({ name = "t20", ready = { notify = true, timeout = 0.01 }, max_retries = 19, backoff = { first = 0 },
        cmd = { "sleep", "10" } }),
    }, gate(c20, is("TaskReady", "c20")))
    os.remove(c20)
    for _, name in ipairs({ "n20", "c20", "t20" }) do
      assert.equal(20, H.count(events, "TaskStarting", name), name)
    end
    -- a READY=1 sent just before the exit is heard before the exit is reported
    assert.equal(20, H.count(events, "TaskReady", "n20"))
    local trace = H.trace(events, "n20")
    for k = 1, 20 do
      local ready, failed
      for i, t in ipairs(trace) do
        if t == "TaskReady#" .. k then ready = i elseif t == "TaskFailed#" .. k then failed = i end
      end
      assert.is_true(ready ~= nil and ready < failed, "attempt " .. k)
    end
    assert.is_true(H.count(events, "TaskReady", "c20") >= 1) -- a check may lose the race to the exit
    assert.equal(0, H.count(events, "TaskReady", "t20"))
    assert.same({}, P.new_fds(fds))
    assert.same({}, P.zombies())
  end)

  it("a shutdown while waiting for readiness stops the process, not as a failure", function()
    local events = run({ tv.process({ name = "waiting", ready = "notify", cmd = { "sleep", "10" } }) },
      { setup = function(sup)
        local events = H.collect(sup, { name = "stopper's" })
        assert(sup:add(tv.once("stopper", function(ctx)
          assert(H.wait_for(H.has(events, "TaskStarting", "waiting")))
          ctx:sleep(0.2) -- (it is waiting for its READY=1 now)
          sup:shutdown()
        end)))
      end })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "TaskRemoved" },
      H.trace(events, "waiting"))
    assert.same({}, P.zombies())
  end)
end)

describe("tv.process 'ready' validation", function()
  local function raises(over, pattern)
    local o = { name = "p", cmd = { "true" } }
    for k, v in pairs(over) do o[k] = v end
    local ok, err = pcall(tv.process, o)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(pattern, 1, true), "got: " .. tostring(err))
  end

  it("normalizes the accepted forms", function()
    assert.is_nil(tv.process({ name = "p", cmd = { "true" } }).process.ready)
    assert.is_nil(tv.process({ name = "p", cmd = { "true" }, ready = "started" }).process.ready)
    assert.same({ mode = "notify", timeout = 90 }, tv.process({ name = "p", cmd = { "true" }, ready = "notify" }).process.ready)
    assert.same({ mode = "notify", timeout = 5 },
      tv.process({ name = "p", cmd = { "true" }, ready = { notify = true, timeout = 5 } }).process.ready)
    assert.same({ mode = "check", check = { "/bin/sh", "-c", "test -e /x" }, every = 1, check_timeout = 5, timeout = 90 },
      tv.process({ name = "p", cmd = { "true" }, ready = { check = "test -e /x" } }).process.ready)
    assert.same({ mode = "check", check = { "test", "-e", "/x" }, every = 0.5, check_timeout = 5, timeout = 0 },
      tv.process({ name = "p", cmd = { "true" }, ready = { check = { "test", "-e", "/x" }, every = 0.5, timeout = 0 } }).process.ready)
    assert.same({ mode = "check", check = { "true" }, every = 0.5, check_timeout = 2, timeout = 90 },
      tv.process({ name = "p", cmd = { "true" }, ready = { check = { "true" }, every = 0.5, check_timeout = 2 } }).process.ready)
  end)

  it("rejects bad values, naming the field", function()
    raises({ ready = "ready" }, "tv.process: 'ready' must be \"started\", \"notify\", or a table")
    raises({ ready = true }, "tv.process: 'ready' must be \"started\", \"notify\", or a table { notify = true | check = cmd, every =, check_timeout =, timeout = } (got true)")
    raises({ ready = 5 }, "'ready' must be")
    raises({ ready = {} }, "tv.process: 'ready' needs notify = true or check = {cmd...}")
    raises({ ready = { timeout = 5 } }, "tv.process: 'ready' needs notify = true or check = {cmd...}")
    raises({ ready = { notify = false } }, "tv.process: 'ready' needs notify = true or check")
    raises({ ready = { notify = "yes" } }, "tv.process: 'ready.notify' must be a boolean (got \"yes\")")
    raises({ ready = { notify = true, check = "true" } }, "tv.process: 'ready' takes notify = true or a check, not both")
    raises({ ready = { notfy = true } }, "tv.process: unknown option 'ready.notfy'; did you mean 'ready.notify'?")
    raises({ ready = { check = "" } }, "tv.process: 'ready.check' must be a non-empty list of strings or a shell command")
    raises({ ready = { check = {} } }, "tv.process: 'ready.check' must be a non-empty list of strings")
    raises({ ready = { check = { "ls", true } } }, "tv.process: 'ready.check[2]' must be a string or a number, without NUL bytes (got true)")
    raises({ ready = { check = 3 } }, "tv.process: 'ready.check' must be a non-empty list of strings")
    raises({ ready = { check = "true", every = 0 } }, "tv.process: 'ready.every' must be a number of seconds > 0")
    raises({ ready = { check = "true", every = -1 } }, "'ready.every' must be a number of seconds > 0")
    raises({ ready = { check = "true", every = 0 / 0 } }, "'ready.every' must be a number of seconds > 0 and at most 1e+09 (got nan)")
    raises({ ready = { check = "true", every = "1" } }, "'ready.every' must be a number of seconds")
    raises({ ready = { notify = true, every = 1 } }, "tv.process: 'ready.every' only applies to 'ready.check'")
    raises({ ready = { notify = true, check_timeout = 1 } }, "tv.process: 'ready.check_timeout' only applies to 'ready.check'")
    raises({ ready = { check = "true", check_timeout = 0 } }, "tv.process: 'ready.check_timeout' must be a number of seconds > 0")
    raises({ ready = { check = "true", check_timeout = "1" } }, "tv.process: 'ready.check_timeout' must be a number of seconds > 0 and at most 1e+09 (got \"1\")")
    raises({ ready = { check = "true", check_timout = 1 } }, "tv.process: unknown option 'ready.check_timout'; did you mean 'ready.check_timeout'?")
    raises({ ready = { notify = true, timeout = -1 } }, "tv.process: 'ready.timeout' must be a number of seconds >= 0")
    raises({ ready = { check = "true", timeout = 0 / 0 } }, "'ready.timeout' must be a number of seconds >= 0 and at most 1e+09 (got nan)")
    raises({ ready = { notify = true, timeout = math.huge } }, "'ready.timeout' must be a number of seconds >= 0")
    raises({ ready = "notify", env = { NOTIFY_SOCKET = "/x" } },
      "tv.process: 'env.NOTIFY_SOCKET' cannot be set with ready = \"notify\"")
  end)
end)
