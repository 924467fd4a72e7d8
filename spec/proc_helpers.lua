-- spec/proc_helpers.lua: helpers for the specs that run real child processes:
-- pids alive or gone, zombies of this process, open fds, temp files.
local P = {}

function P.read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- This process's pid (the Lua interpreter or the host running the spec).
function P.self_pid()
  return tonumber(P.read("/proc/self/stat"):match("^(%d+)"))
end

--- State letter of a pid ("S", "R", "Z", ...), or nil when there is no such process.
function P.state(pid)
  local stat = P.read("/proc/" .. pid .. "/stat")
  return stat and stat:match(".*%) (%a) ")
end

function P.alive(pid)
  local s = P.state(pid)
  return s ~= nil and s ~= "Z"
end

--- Pids of zombies whose parent is this process.
function P.zombies()
  local me, out = P.self_pid(), {}
  local ls = io.popen("ls /proc")
  for name in ls:lines() do
    if name:match("^%d+$") then
      local stat = P.read("/proc/" .. name .. "/stat")
      local state, ppid = stat and stat:match(".*%) (%a) (%d+)")
      if state == "Z" and tonumber(ppid) == me then out[#out + 1] = tonumber(name) end
    end
  end
  ls:close()
  return out
end

function P.fd_count()
  local n, ls = 0, io.popen("ls /proc/" .. P.self_pid() .. "/fd")
  for _ in ls:lines() do n = n + 1 end
  ls:close()
  return n - 1 -- the pipe ls itself writes to
end

--- Waits (busy, up to `secs`) until fn() is true; returns its last value.
function P.wait_until(fn, secs)
  local deadline = os.time() + (secs or 3) + 1
  local v = fn()
  while not v and os.time() < deadline do
    os.execute("sleep 0.05")
    v = fn()
  end
  return v
end

function P.tmpname()
  local path = os.tmpname()
  os.remove(path)
  return path
end

--- Pids written one per line by a child into `path`.
function P.pids(path)
  local out = {}
  for n in (P.read(path) or ""):gmatch("%d+") do out[#out + 1] = tonumber(n) end
  return out
end

return P
