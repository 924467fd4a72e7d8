-- process_host_spec: a host killed with SIGKILL leaves no child behind (the
-- children's parent-death signal). Its own file: the busted process here
-- never runs a process task, so it does not adopt the killed host.
local H = require("helpers")
local P = require("proc_helpers")
local C = require("contain_helpers")

describe("a host killed by SIGKILL", function()
  it("takes its process tasks' children with it", function()
    local pidfile, hostfile = P.tmpname(), P.tmpname()
    local script = H.script(string.format([[
      local tv = require("taskvisor")
      local sup = tv.supervisor()
      sup:add(tv.process({ name = "sleeper", cmd = { "/bin/sh", "-c", "echo $$ > %s; exec sleep 60" } }))
      sup:run()
    ]], pidfile))
    local dir = C.cgroup_dir() -- its cgroups go there, not beside ours (nobody removes them)
    os.execute(string.format("%s %q %q >/dev/null 2>&1 & echo $! > %s", dir and C.env("cgroup", dir) or "",
      H.host(), script, hostfile))
    assert.is_true(P.wait_until(function() return #P.pids(pidfile) == 1 end, 5))
    local child, host = P.pids(pidfile)[1], P.pids(hostfile)[1]
    assert.is_true(P.alive(child))
    os.execute("kill -KILL " .. host)
    assert.is_true(P.wait_until(function() return not P.alive(child) end, 5))
    os.remove(pidfile)
    os.remove(hostfile)
    os.remove(script)
    if dir then C.remove(dir) end
  end)
end)
