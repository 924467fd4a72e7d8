-- spec/newuser_spec.lua: the silent failures a newcomer hit (issue 14): every
-- refused add publishes TaskAddFailed (and tv.log_writer prints it), the host
-- warns on exit about a supervisor that was given tasks and never ran, and
-- the small things: -h names every exit status, the host needs no libuv.so,
-- a scheduled run's backoff line has no reason="none".
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv

local function sq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function has(s, sub) return s:find(sub, 1, true) ~= nil end

-- The TaskAddFailed events of `events`, as { task = reason }.
local function add_failed(events)
  local out = {}
  for _, e in ipairs(H.only(events, nil, "TaskAddFailed")) do out[e.task] = e.reason end
  return out
end

describe("a refused add publishes TaskAddFailed", function()
  it("for a process whose output directory is missing, with the error sup:add returned", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    local ok, err = sup:add(tv.process{ name = "w", cmd = { "true" }, stdout = "/no/such/dir/w.log" })
    assert.is_nil(ok)
    assert.equal("ENOENT: stdout: cannot open log file '/no/such/dir/w.log': no such file or directory", err)
    assert.is_true(sup:run())
    assert.same({ w = err }, add_failed(events))
    assert.same({ "TaskAddFailed" }, H.trace(events, "w"))
    assert.same({}, sup:list())
  end)

  it("for a program not in PATH, looked up in the PATH the child gets", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    local ok, err = sup:add(tv.process{ name = "p", cmd = { "pyhton3", "-c", "1" }, env = { PATH = "/usr/bin:/bin" } })
    assert.is_nil(ok)
    assert.equal("ENOENT: program 'pyhton3' not found in PATH (env.PATH: /usr/bin:/bin)", err)
    -- the child's PATH, not the host's: sh is in /bin, not in an empty directory
    local empty = P.tmpname()
    assert(os.execute("mkdir " .. empty))
    local ok2, err2 = sup:add(tv.process{ name = "q", cmd = { "sh", "-c", "true" }, env = { PATH = empty } })
    os.remove(empty)
    assert.is_nil(ok2)
    assert.equal("ENOENT: program 'sh' not found in PATH (env.PATH: " .. empty .. ")", err2)
    assert.is_true(sup:run())
    assert.same({ p = err, q = err2 }, add_failed(events))
  end)

  it("for the inherited PATH, a path that is not there, and a file that is not executable", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    local _, err = sup:add(tv.process{ name = "a", cmd = { "no-such-prog-xyz" } })
    assert.equal("ENOENT: program 'no-such-prog-xyz' not found in PATH (PATH: " .. os.getenv("PATH") .. ")", err)
    local _, err2 = sup:add(tv.process{ name = "b", cmd = { "/no/such/prog" } })
    assert.equal("ENOENT: program '/no/such/prog' not found (no such executable file)", err2)
    local plain = P.tmpname()
    assert(io.open(plain, "w")):close() -- 0644
    local _, err3 = sup:add(tv.process{ name = "c", cmd = { plain } })
    os.remove(plain)
    assert.equal("EACCES: program '" .. plain .. "' is not executable", err3)
    local _, err4 = sup:add(tv.process{ name = "d", cmd = { "./run" }, cwd = "/" })
    assert.equal("ENOENT: program './run' not found (no such executable file, relative to cwd '/')", err4)
    -- with inherit_env = false and no env.PATH, the spawn's default PATH
    assert(sup:add(tv.process{ name = "e", cmd = { "true" }, inherit_env = false, restart = "never" }))
    assert.is_true(sup:run())
    assert.same({ a = err, b = err2, c = err3, d = err4 }, add_failed(events))
    assert.equal("completed", sup:outcomes().e.status)
  end)

  it("for an add while shutting down (the core refuses it before its registry)", function()
    local sup = tv.supervisor{ grace = 2 }
    local events = H.collect(sup)
    local got
    assert(sup:add(tv.once("closer", function()
      sup:shutdown()
      got = { sup:add(tv.once("late", function() end)) }
    end)))
    assert.is_true(sup:run())
    assert.is_nil(got[1])
    assert.matches("^ESHUTDOWN: ", got[2])
    assert.same({ late = got[2] }, add_failed(events))
  end)

  it("for each task of a sup:run batch it refuses, and for a refused submission", function()
    local sup = tv.supervisor{ controller = true }
    local events = H.collect(sup)
    local ok, err = sup:run({ tv.once("a", function() end),
      tv.process{ name = "b", cmd = { "no-such-prog-xyz" } } })
    assert.is_nil(ok)
    assert.matches("^ENOENT: program 'no%-such%-prog%-xyz' not found in PATH .*; no task of this batch was added$", err)
    local sok, serr = sup:submit{ task = tv.process{ name = "s", cmd = { "no-such-prog-xyz" } } }
    assert.is_nil(sok)
    assert.matches("^ENOENT: program 'no%-such%-prog%-xyz'", serr)
    assert.is_true(sup:run())
    assert.same({ a = err, b = err, s = serr }, add_failed(events))
  end)

  it("is printed by tv.log_writer", function()
    local line = require("taskvisor.log_writer").format({ seq = 7, kind = "TaskAddFailed", task = "p",
      reason = "ENOENT: program 'pyhton3' not found in PATH (PATH: /bin)" })
    assert.equal("[007] [task-add-failed] task=p reason=\"ENOENT: program 'pyhton3' not found in PATH (PATH: /bin)\"", line)
  end)
end)

describe("the host warns on exit about a supervisor that never ran", function()
  it("names its task count and says to call sup:run(); the exit status stays 0", function()
    local out, status, err = H.host_run([[
      local tv = require("taskvisor")
      local sup = tv.supervisor{}
      assert(sup:add(tv.once("web", function() end)))
      assert(sup:add(tv.once("worker", function() end)))
      print("built")
    ]], "", true)
    assert.equal(0, status, err)
    assert.equal("built\n", out)
    assert.equal("taskvisor: warning: a supervisor with 2 tasks (web, worker) never ran: nothing was started; "
      .. "call sup:run() at the end of the script\n", err)
  end)

  it("says why when sup:run() refused to start, and stays quiet for one that ran or had no tasks", function()
    local _, status, err = H.host_run([[
      local tv = require("taskvisor")
      local ran = tv.supervisor{}
      assert(ran:add(tv.once("a", function() end)))
      assert(ran:run())
      local empty = tv.supervisor{}
      empty:add(tv.process{ name = "p", cmd = { "no-such-prog-xyz" } }) -- refused: no task
      local refused = tv.supervisor{}
      assert(refused:add(tv.once("x", function() end)))
      refused:run{ tv.once("x", function() end) }
    ]], "", true)
    assert.equal(0, status, err)
    assert.equal("taskvisor: warning: a supervisor with 2 tasks (x, ...) never ran: sup:run() returned nil, "
      .. "\"EEXIST: task 'x' already exists; no task of this batch was added\" before starting anything; "
      .. "check its result: assert(sup:run(...))\n", err)
  end)

  it("counts a supervisor collected before the end, and not one of a script that failed", function()
    local _, status, err = H.host_run([[
      local tv = require("taskvisor")
      do
        local sup = tv.supervisor{}
        assert(sup:add(tv.once("a", function() end)))
      end
      collectgarbage(); collectgarbage()
    ]], "", true)
    assert.equal(0, status, err)
    assert.truthy(has(err, "taskvisor: warning: a supervisor with 1 task (a) never ran"), err)
    local _, status2, err2 = H.host_run([[
      local tv = require("taskvisor")
      local sup = tv.supervisor{}
      assert(sup:add(tv.once("a", function() end)))
      error("boom")
    ]], "", true)
    assert.equal(1, status2)
    assert.falsy(has(err2, "warning"), err2)
  end)
end)

describe("the never-ran warnings", function()
  it("list at most 100 supervisors, then count the rest (their records are bounded)", function()
    local _, status, err = H.host_run([[
      local tv = require("taskvisor")
      for i = 1, 103 do
        assert(tv.supervisor{}:add(tv.once("t" .. i, function() end)))
      end
    ]], "", true)
    assert.equal(0, status, err)
    local lines = {}
    for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(101, #lines, err)
    assert.equal("taskvisor: warning: a supervisor with 1 task (t1) never ran: nothing was started; call "
      .. "sup:run() at the end of the script", lines[1])
    assert.truthy(has(lines[100], "(t100) never ran"), lines[100])
    assert.equal("taskvisor: warning: and 3 more supervisors with tasks never ran", lines[101])
  end)
end)

describe("small things", function()
  it("-h lists every exit status, 3 (escalation) included", function()
    local out, status = H.sh(sq(H.host()) .. " -h", true)
    assert.equal(0, status)
    assert.truthy(has(out, "Exit status: 0 clean; 1 script or config error; 2 the last sup:run() ended in\n"
      .. "GraceExceeded; 3 it ended because a restart budget escalated to the supervisor."), out)
  end)

  it("the host executable links libuv statically (needs no libuv.so beside it)", function()
    local out, status = H.sh("ldd " .. sq(H.host()), true)
    assert.equal(0, status)
    assert.truthy(has(out, "libc.so"), out) -- (ldd did list the libraries)
    assert.falsy(has(out, "libuv"), out)
  end)

  it("tv.log_writer prints a backoff's reason only when it has one", function()
    local fmt = require("taskvisor.log_writer").format
    assert.equal("[001] [backoff] task=t source=success delay=1s after_attempt=2",
      fmt({ seq = 1, kind = "BackoffScheduled", task = "t", backoff_source = "success", delay_ms = 1000, attempt = 2 }))
    assert.equal("[002] [backoff] task=t source=failure delay=1s after_attempt=2 reason=\"x\"",
      fmt({ seq = 2, kind = "BackoffScheduled", task = "t", backoff_source = "failure", delay_ms = 1000,
        attempt = 2, reason = "x" }))
  end)
end)
