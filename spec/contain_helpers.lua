-- spec/contain_helpers.lua: for the specs on containment and host death: a
-- cgroup directory of the spec's own (the hosts it starts put theirs below
-- it, through TASKVISOR_CGROUP, and must leave it empty), hosts run in either
-- containment mode, pids killed at cleanup.
local H = require("helpers")
local P = require("proc_helpers")

local C = {}

local function cgroup2_mount()
  for line in io.lines("/proc/mounts") do
    local dir, kind = line:match("^%S+ (%S+) (%S+)")
    if kind == "cgroup2" then return dir end
  end
end

--- A fresh directory below this process's cgroup v2 cgroup, or nil when
--- none can be made here (no cgroup2, not writable): then cgroup cases are
--- pending.
function C.cgroup_dir()
  local mnt = cgroup2_mount()
  if not mnt then return nil end
  local own = (P.read("/proc/self/cgroup") or ""):match("0::(%S*)")
  if not own then return nil end
  local dir = string.format("%s%s/tvspec-%d-%d", mnt, own == "/" and "" or own, P.self_pid(), math.random(1e6))
  if not os.execute("mkdir " .. dir .. " 2>/dev/null") then return nil end
  return dir
end

--- Subdirectories of dir (what hosts left behind).
function C.subdirs(dir)
  local out = {}
  local ls = io.popen("find " .. dir .. " -mindepth 1 -type d")
  for line in ls:lines() do out[#out + 1] = line end
  ls:close()
  return out
end

--- Removes what is left below dir (killing its processes) and dir itself.
function C.remove(dir)
  local subs = C.subdirs(dir)
  table.sort(subs, function(a, b) return #a > #b end) -- deepest first
  for _, d in ipairs(subs) do
    local f = io.open(d .. "/cgroup.kill", "w")
    if f then f:write("1"); f:close() end
    P.wait_until(function() return not (P.read(d .. "/cgroup.events") or ""):match("populated 1") end, 5)
    os.execute("rmdir " .. d)
  end
  os.execute("rmdir " .. dir)
end

--- The environment prefix for a host in `mode` ("cgroup" below dir, or "pgroup").
function C.env(mode, dir)
  return mode == "cgroup" and ("TASKVISOR_CGROUP=" .. dir) or "TASKVISOR_CGROUP=off"
end

--- Runs `code` through the host in `mode`: stdout, exit status, stderr.
function C.host(mode, dir, code)
  local path = H.script(code)
  local out, status, err = H.sh(string.format("%s %q %q", C.env(mode, dir), H.host(), path), true)
  os.remove(path)
  return out, status, err
end

--- Starts `code` through the host in `mode`, in the background: its pid.
function C.spawn_host(mode, dir, code, outfile)
  local path, pidfile = H.script(code), P.tmpname()
  os.execute(string.format("ulimit -c 0; %s %q %q >%s 2>&1 & echo $! > %s", C.env(mode, dir), H.host(), path,
    outfile or "/dev/null", pidfile))
  local pid = P.pids(pidfile)[1]
  os.remove(pidfile)
  return pid, path
end

--- "key=value" lines of out, as a table.
function C.fields(out)
  local t = {}
  for k, v in out:gmatch("(%w+)=([^\n]*)") do t[k] = v end
  return t
end

--- SIGKILLs whichever of pids is still alive (a failed case's leftovers);
--- returns those that were.
function C.kill_alive(pids)
  local alive = {}
  for _, pid in ipairs(pids) do
    if P.alive(pid) then
      alive[#alive + 1] = pid
      os.execute("kill -KILL " .. pid .. " 2>/dev/null")
    end
  end
  return alive
end

--- How many zombie children this process has in its own process group (its
--- io.popen / os.execute children: never taskvisor's to reap).
function C.own_zombies()
  local me = P.self_pid()
  local own = tonumber(P.read("/proc/self/stat"):match(".*%) %a %d+ (%d+)"))
  local n = 0
  local ls = io.popen("ls /proc")
  for name in ls:lines() do
    local stat = name:match("^%d+$") and P.read("/proc/" .. name .. "/stat")
    local state, ppid, pgrp
    if stat then state, ppid, pgrp = stat:match(".*%) (%a) (%d+) (%d+)") end
    if state == "Z" and tonumber(ppid) == me and tonumber(pgrp) == own then n = n + 1 end
  end
  ls:close()
  return n
end

--- A shell file with `body`, for cmd = { "/bin/sh", path, ... }.
function C.sh_file(body)
  local path = P.tmpname() .. ".sh"
  local f = assert(io.open(path, "w"))
  f:write(body)
  f:close()
  return path
end

return C
