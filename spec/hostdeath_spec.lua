-- hostdeath_spec: no way the host ends leaves a process of a task's tree
-- alive (a signal, os.exit in a task, a Lua error in the script), and the
-- signals that used to kill it (HUP, USR1, USR2, ALRM) do what the README
-- says instead. The tree: the task's child, its own child (`sleep 60 &`:
-- no parent-death signal reaches it) and, with a cgroup, a child that called
-- setsid. Each case runs in both containment modes, in a host of its own.
local P = require("proc_helpers")
local C = require("contain_helpers")

local dir = C.cgroup_dir()

teardown(function()
  if dir then C.remove(dir) end
end)

-- A host script running the tree as task "svc" (pids into `pidfile`, the
-- child's output into `log`), with `extra` (Lua) after the add.
local function tree_script(mode, pidfile, log, extra)
  local escape = mode == "cgroup"
      and string.format("setsid sh -c 'echo $$ >> %s; exec sleep 60' >/dev/null 2>&1 & ", pidfile) or ""
  return string.format([[
    local P = require("proc_helpers")
    local tv = require("taskvisor")
    local sup = tv.supervisor({ grace = 30 })
    sup:add(tv.process({ name = "svc", stop_timeout = 20, stdout = %q, cmd = { "/bin/sh", "-c",
      %q .. "sleep 60 & echo $! >> %s; echo $$ >> %s; while :; do echo tick; sleep 0.05; done" } }))
    %s
    print("run=" .. tostring(sup:run()))
  ]], log, escape, pidfile, pidfile, extra or "")
end

local function want(mode) return mode == "cgroup" and 3 or 2 end

local function gone(pids)
  return P.wait_until(function()
    for _, pid in ipairs(pids) do if P.alive(pid) then return false end end
    return true
  end, 10)
end

for _, mode in ipairs({ "cgroup", "pgroup" }) do
  describe("host death (" .. mode .. ")", function()
    local pidfile, log, out
    before_each(function() pidfile, log, out = P.tmpname(), P.tmpname() .. ".log", P.tmpname() end)
    after_each(function()
      C.kill_alive(P.pids(pidfile))
      for _, f in ipairs({ pidfile, log, log .. ".1", out }) do os.remove(f) end
      if dir then assert.same({}, C.subdirs(dir), "a host left cgroups behind") end
    end)

    local function skip()
      if mode == "cgroup" and not dir then
        pending("no writable cgroup2 here")
        return true
      end
    end

    -- Starts the tree in a background host; returns its pid once the tree is up.
    local function start(extra)
      local host, script = C.spawn_host(mode, dir, tree_script(mode, pidfile, log, extra), out)
      assert.is_true(P.wait_until(function() return #P.pids(pidfile) == want(mode) end, 10), "no tree")
      return host, script
    end

    local function host_status(host)
      assert.is_true(P.wait_until(function() return not P.alive(host) end, 30), "the host did not end")
    end

    for _, sig in ipairs({ "TERM", "INT", "QUIT" }) do
      it("SIG" .. sig .. " stops the whole tree", function()
        if skip() then return end
        local host, script = start()
        os.execute("kill -" .. sig .. " " .. host)
        host_status(host)
        os.remove(script)
        assert.is_true(gone(P.pids(pidfile)), "a process of the tree outlived the host")
        assert.truthy((P.read(out) or ""):find("run=true", 1, true), P.read(out))
      end)
    end

    it("HUP, USR1, USR2 and ALRM leave it running: HUP and USR1 reopen log files, USR2 prints the status",
      function()
        if skip() then return end
        local host, script = start()
        local pids = P.pids(pidfile)
        for _, sig in ipairs({ "HUP", "USR1" }) do
          assert.is_true(P.wait_until(function() return P.read(log) ~= nil end, 10))
          assert(os.rename(log, log .. ".1"))
          os.execute("kill -" .. sig .. " " .. host)
          -- the child's next lines go to a fresh file at the old path
          assert.is_true(P.wait_until(function() return (P.read(log) or ""):find("tick") ~= nil end, 10),
            sig .. " did not reopen the log file")
          os.remove(log .. ".1")
        end
        os.execute("kill -USR2 " .. host)
        assert.is_true(P.wait_until(function()
          return (P.read(out) or ""):find("taskvisor: status: task=svc state=running", 1, true) ~= nil
        end, 10))
        local status = (P.read(out) or ""):match("taskvisor: status: task=svc [^\n]*")
        local pid, containment = status:match("pid=(%d+) containment=(%a+)")
        assert.is_true(require("helpers").contains(pids, tonumber(pid)), status)
        assert.equal(mode, containment)
        os.execute("kill -ALRM " .. host)
        os.execute("kill -TERM " .. host)
        host_status(host)
        os.remove(script)
        for _, pid in ipairs(pids) do assert.is_false(P.alive(pid)) end
        assert.truthy((P.read(out) or ""):find("run=true", 1, true), P.read(out))
      end)

    it("os.exit in a task takes the tree with it", function()
      if skip() then return end
      local host, script = start(string.format([[
        sup:add(tv.task({ name = "exiter", run = function(ctx)
          while #P.pids(%q) < %d do ctx:sleep(0.02) end
          os.exit(3)
        end }))
      ]], pidfile, want(mode)))
      host_status(host)
      os.remove(script)
      assert.is_true(gone(P.pids(pidfile)), "a process of the tree outlived os.exit")
    end)

    it("a Lua error ending the script (a failed run asserted) leaves nothing", function()
      if skip() then return end
      -- the child ignores TERM and the grace is short: the run returns nil, GraceExceeded
      local script = string.format([[
        local P = require("proc_helpers")
        local tv = require("taskvisor")
        local sup = tv.supervisor({ grace = 0.2 })
        sup:add(tv.process({ name = "svc", stop_timeout = 20, cmd = { "/bin/sh", "-c",
          %q .. "trap '' TERM; sleep 60 & echo $! >> %s; echo $$ >> %s; while :; do sleep 0.05; done" } }))
        sup:add(tv.task({ name = "ctl", run = function(ctx)
          while #P.pids(%q) < %d do ctx:sleep(0.02) end
          sup:shutdown()
        end }))
        assert(sup:run())
      ]], mode == "cgroup" and string.format("setsid sh -c 'echo $$ >> %s; exec sleep 60' >/dev/null 2>&1 & ",
        pidfile) or "", pidfile, pidfile, pidfile, want(mode))
      local host, path = C.spawn_host(mode, dir, script, out)
      host_status(host)
      os.remove(path)
      assert.truthy((P.read(out) or ""):find("GraceExceeded", 1, true), P.read(out))
      assert.equal(want(mode), #P.pids(pidfile))
      assert.is_true(gone(P.pids(pidfile)), "a process of the tree outlived the script's error")
    end)

    for _, sig in ipairs({ "SEGV", "ABRT" }) do
      it("a signal that crashes the host (SIG" .. sig .. ") still takes the tree with it", function()
        if skip() then return end
        if sig == "SEGV" and os.getenv("TASKVISOR_SANITIZED") then
          pending("the sanitizer's own SIGSEGV handler ends the host")
          return
        end
        local host, script = start()
        os.execute("kill -" .. sig .. " " .. host)
        host_status(host)
        os.remove(script)
        assert.is_true(gone(P.pids(pidfile)), "a process of the tree outlived the crash")
      end)
    end
  end)
end

describe("host death by SIGKILL (cgroup)", function()
  it("the task's child dies with the host; the rest of its cgroup goes at the next host's start", function()
    if not dir then
      pending("no writable cgroup2 here")
      return
    end
    local pidfile, log = P.tmpname(), P.tmpname() .. ".log"
    local host, script = C.spawn_host("cgroup", dir, tree_script("cgroup", pidfile, log))
    assert.is_true(P.wait_until(function() return #P.pids(pidfile) == 3 end, 10), "no tree")
    local pids = P.pids(pidfile)
    local child -- the task's child: its parent is the host
    for _, pid in ipairs(pids) do
      if tonumber(P.read("/proc/" .. pid .. "/stat"):match(".*%) %a (%d+)")) == host then child = pid end
    end
    assert.truthy(child)
    os.execute("kill -KILL " .. host)
    assert.is_true(P.wait_until(function() return not P.alive(child) end, 10)) -- parent-death signal
    local left = 0
    for _, pid in ipairs(pids) do if P.alive(pid) then left = left + 1 end end
    assert.equal(2, left) -- what nothing can reach while no host runs
    assert.is_true(#C.subdirs(dir) > 0) -- the dead host's cgroups
    local _, status = C.host("cgroup", dir, [[
      local tv = require("taskvisor")
      assert(tv.supervisor():run({ tv.process({ name = "one", restart = "never", cmd = { "true" } }) }))
    ]])
    assert.equal(0, status)
    assert.is_true(gone(pids), "the dead host's cgroup was not emptied")
    assert.same({}, C.subdirs(dir))
    C.kill_alive(pids)
    for _, f in ipairs({ pidfile, log, script }) do os.remove(f) end
  end)
end)
