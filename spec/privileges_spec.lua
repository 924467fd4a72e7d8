-- privileges_spec: a process task's user, group, groups, umask, nice and
-- resource limits, as the child sees them (id, umask, ulimit, /proc/self/stat
-- printed by the child itself), and the add-time errors: an unknown user or
-- group names the field; a change the host may not make (not root) is
-- refused, never skipped. The cases that switch users need root and are
-- skipped (saying so) without it; the not-root errors run in a host started
-- as nobody through setpriv when the spec runs as root, and in this process
-- otherwise.
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv

local ROOT = H.sh("id -u"):match("%d+") == "0"
local MEMCHECK = os.getenv("TASKVISOR_MEMCHECK")

-- The TaskOutput lines of task `name`.
local function lines(events, name)
  local out = {}
  for _, ev in ipairs(events) do
    if ev.kind == "TaskOutput" and ev.task == name then out[#out + 1] = ev.line end
  end
  return out
end

-- Runs one process (stdout as events, restart never) and returns its lines
-- and every event.
local function output(opts)
  opts.name = opts.name or "p"
  opts.restart = "never"
  opts.stdout = "events"
  local events = P.run({ tv.process(opts) })
  return lines(events, opts.name), events
end

local function root_only(name, fn)
  if ROOT then
    it(name, fn)
  else
    pending(name .. " (skipped: switching users needs root; the spec runs as uid "
      .. H.sh("id -u"):match("%d+") .. ")")
  end
end

local function gid_of(group) return tonumber(H.sh("getent group " .. group):match("^[^:]*:[^:]*:(%d+)")) end

describe("process privileges", function()
  root_only("runs the child as the user, with the user's groups and HOME", function()
    local out = output({ cmd = { "sh", "-c", "id -u; id -g; id -G; echo $HOME $USER $LOGNAME" }, user = "nobody" })
    local expected_groups = H.sh("id -G nobody"):gsub("%s+$", "")
    assert.same({ "65534", tostring(gid_of("nogroup")), expected_groups, "/nonexistent nobody nobody" }, out)
  end)

  root_only("takes group and an explicit groups list over the user's", function()
    local out = output({ cmd = { "sh", "-c", "id -u; id -g; id -G" }, user = "nobody", group = "daemon",
      groups = { "users", 4 } })
    assert.equal("65534", out[1])
    assert.equal(tostring(gid_of("daemon")), out[2])
    local got = {}
    for g in out[3]:gmatch("%d+") do got[#got + 1] = tonumber(g) end
    table.sort(got)
    local want = { gid_of("daemon"), 4, gid_of("users") }
    table.sort(want)
    assert.same(want, got)
  end)

  root_only("a numeric uid without a passwd entry runs with the group given", function()
    local out = output({ cmd = { "sh", "-c", "id -u; id -g; id -G" }, user = 4000000000, group = 4000000001 })
    assert.same({ "4000000000", "4000000001", "4000000001" }, out)
  end)

  root_only("a child running as another user still dies with a SIGKILLed host (parent-death signal)", function()
    -- the signal is set after the uid change, which would clear it
    local path = H.script([[
local tv = require("taskvisor")
local sup = tv.supervisor({})
sup:subscribe(function(ev)
  if ev.kind == "TaskStarting" then
    print(io.open("/proc/self/stat"):read("n") .. " " .. ev.pid)
    io.stdout:flush()
  end
end)
sup:run({ tv.process({ name = "s", cmd = { "sleep", "60" }, user = "nobody" }) })
]])
    local p = io.popen(string.format("TASKVISOR_CGROUP=off %q %q", H.host(), path))
    local host, child = p:read("n", "n")
    assert.is_true(P.alive(child))
    assert.equal("65534", H.sh("stat -c %u /proc/" .. child):match("%d+"))
    os.execute("kill -9 " .. host)
    p:close()
    os.remove(path)
    assert.is_true(P.wait_until(function() return not P.alive(child) end, 10))
  end)

  it("sets the umask", function()
    assert.same({ "0027" }, output({ cmd = { "sh", "-c", "umask" }, umask = "027" }))
    assert.same({ "0077" }, output({ cmd = { "sh", "-c", "umask" }, umask = 63 }))
  end)

  it("sets resource limits, both sides or each on its own", function()
    -- (ulimit -c counts 512-byte blocks in dash)
    local out = output({ cmd = { "sh", "-c", "ulimit -Sc; ulimit -Hc" }, limits = { core = { soft = 0, hard = 4096 } } })
    assert.same({ "0", "8" }, out)
    if MEMCHECK then return end -- valgrind refuses to change the nofile limit of what it runs (the child, until its exec)
    out = output({ cmd = { "sh", "-c", "ulimit -Sn; ulimit -Hn" }, limits = { nofile = 123 } })
    assert.same({ "123", "123" }, out)
    out = output({ cmd = { "sh", "-c", "ulimit -Sn; ulimit -Hn" }, limits = { nofile = { soft = 100 } } })
    assert.equal("100", out[1])
    assert.equal(H.sh("sh -c 'ulimit -Hn'"):match("%S+"), out[2]) -- the host's hard limit kept
  end)

  it("sets the nice value (field 19 of /proc/self/stat)", function()
    local out = output({ cmd = { "cat", "/proc/self/stat" }, nice = 7 })
    local fields = {}
    for f in out[1]:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = f end
    assert.equal("7", fields[17]) -- (fields after the name start at 3)
  end)

  it("refuses an unknown user or group at sup:add, naming the field", function()
    local sup = tv.supervisor({})
    local ok, err = sup:add(tv.process({ name = "a", cmd = { "true" }, user = "no_such_user_tv" }))
    assert.is_nil(ok)
    assert.equal("ENOENT: user: no such user 'no_such_user_tv'", err)
    ok, err = sup:add(tv.process({ name = "b", cmd = { "true" }, group = "no_such_group_tv" }))
    assert.is_nil(ok)
    assert.equal("ENOENT: group: no such group 'no_such_group_tv'", err)
    ok, err = sup:add(tv.process({ name = "c", cmd = { "true" }, groups = { "users", "no_such_group_tv" } }))
    assert.is_nil(ok)
    assert.equal("ENOENT: groups[2]: no such group 'no_such_group_tv'", err)
    assert.same({}, sup:list())
  end)

  local SYS_RESOURCE = ROOT and H.sh("grep CapEff /proc/self/status"):match("(%x+)%s*$")
  SYS_RESOURCE = SYS_RESOURCE and (tonumber(SYS_RESOURCE, 16) >> 24) & 1 == 1
  if SYS_RESOURCE then
    it("reports a limit the kernel refuses in the child as the attempt's failure", function()
      -- above fs.nr_open: setrlimit fails even with CAP_SYS_RESOURCE
      local _, events = output({ cmd = { "true" }, limits = { nofile = 1 << 40 } })
      local failed = H.first(events, "TaskFailed", "p")
      assert.equal("execution failed: EPERM: cannot set limits.nofile: operation not permitted",
        failed.reason)
    end)
  else
    pending("a limit the kernel refuses in the child (skipped: needs CAP_SYS_RESOURCE, which this host lacks)")
  end

  root_only("applies limits to the user: nproc = 0 leaves the child's shell unable to fork", function()
    local sup = tv.supervisor({})
    local events = H.collect(sup)
    assert(sup:run({ tv.process({ name = "p", cmd = { "sh", "-c", "/bin/true & wait; echo forked" },
      user = "nobody", limits = { nproc = 0 }, restart = "never", stdout = "events", stderr = "events" }) }))
    local out = table.concat(lines(events, "p"), "\n")
    local failed = H.first(events, "TaskFailed", "p")
    assert.not_matches("forked", out)
    -- nobody already over the limit (another of its processes runs): the
    -- kernel refuses the exec itself (under valgrind: its own exec, which
    -- exits 101); else the shell's fork fails
    if MEMCHECK and failed.reason == "execution failed: exited with code 101" then return end
    if failed.reason:find("EAGAIN", 1, true) then
      assert.equal("execution failed: EAGAIN: resource temporarily unavailable: sh", failed.reason)
    else
      assert.matches("Cannot fork", out)
      assert.equal(2, failed.exit_code)
    end
  end)

  root_only("a root host without CAP_SYS_RESOURCE is told which capability it lacks", function()
    local out = H.sh(string.format("setpriv --inh-caps=-sys_resource --bounding-set=-sys_resource %q %q",
      H.host(), H.script([[
local tv = require("taskvisor")
print(select(2, tv.supervisor({}):add(tv.process({ name = "x", cmd = { "true" },
  limits = { nofile = { hard = "infinity" } } }))))
]])))
    assert.matches("^EPERM: limits%.nofile: raising the hard limit to infinity %(the host's is %d+%) needs "
      .. "CAP_SYS_RESOURCE %(the host runs as root without it%)\n$", out)
  end)

  -- What a host that is not root may not do: each refused at sup:add with
  -- EPERM, naming the field; what changes nothing (its own user) runs.
  local NOT_ROOT_CODE = [[
local tv = require("taskvisor")
local sup = tv.supervisor({})
local function try(name, opts)
  opts.name, opts.cmd, opts.restart, opts.stdout = name, { "sh", "-c", "id -u" }, "never", "events"
  local ok, err = sup:add(tv.process(opts))
  print(name .. " " .. tostring(ok) .. " " .. tostring(err))
end
local hard = tonumber(io.popen("sh -c 'ulimit -Hn'"):read("a"))
try("user", { user = "root" })
try("group", { group = "root" })
try("groups", { groups = { "root" } })
try("nice", { nice = -5 })
try("limit", { limits = { nofile = { hard = hard + 1 } } })
try("self", { user = tonumber(io.popen("id -u"):read("a")) and io.popen("id -un"):read("a"):match("%S+"),
  limits = { nofile = 64 }, nice = 3 })
sup:subscribe(function(ev) if ev.kind == "TaskOutput" then print("out " .. ev.line) end end)
sup:run()
]]

  it("refuses what a host that is not root may not do, at sup:add, never skipping it", function()
    local out
    if ROOT then
      local path = H.script(NOT_ROOT_CODE)
      out = H.sh(string.format("setpriv --reuid=nobody --regid=nogroup --clear-groups %q %q", H.host(), path))
      os.remove(path)
    else
      out = H.host_run(NOT_ROOT_CODE)
    end
    local uid = ROOT and "65534" or H.sh("id -u"):match("%d+")
    local gid = ROOT and tostring(gid_of("nogroup")) or H.sh("id -g"):match("%d+")
    local got = {}
    for l in out:gmatch("[^\n]+") do got[#got + 1] = l end
    assert.same({
      "user nil EPERM: user: switching to 'root' needs root (host runs as uid " .. uid .. ")",
      "group nil EPERM: group: switching to group 'root' (gid 0) needs root (host runs as gid " .. gid .. ")",
      "groups nil EPERM: groups: setting supplementary groups needs root (host runs as uid " .. uid .. ")",
      "nice nil EPERM: nice: -5 is below the host's nice (0) and needs root (host runs as uid " .. uid .. ")",
      got[5]:match("^limit nil EPERM: limits%.nofile: raising the hard limit to %d+ %(the host's is %d+%) needs root %(host runs as uid "
        .. uid .. "%)$") and got[5] or "limit: " .. tostring(got[5]),
      "self true nil",
      "out " .. uid,
    }, got)
  end)
end)
