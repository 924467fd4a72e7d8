-- spec/proc_helpers.lua: helpers for the specs that run real child processes:
-- a supervisor run, pids alive or gone, zombies of this process, open fds,
-- temp files.
local H = require("helpers")

local P = {}

--- Runs `specs` on a fresh supervisor (grace opts.grace or 5; opts.setup(sup)
--- first) until done; returns every event and the supervisor.
function P.run(specs, opts)
  local sup = H.tv.supervisor({ grace = (opts and opts.grace) or 5 })
  local events = H.collect(sup)
  if opts and opts.setup then opts.setup(sup) end
  assert(sup:run(specs))
  return events, sup
end

function P.read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- An executable script at a fresh temp path (sup:add checks that a
--- process's program is there: specs of what happens when it has gone by the
--- spawn remove it after the add).
function P.executable(name)
  local path = P.tmpname()
  if name then
    os.remove(path)
    assert(os.execute("mkdir " .. path))
    path = path .. "/" .. name
  end
  local f = assert(io.open(path, "w"))
  f:write("#!/bin/sh\nexit 0\n")
  f:close()
  assert(os.execute("chmod 755 " .. path))
  return path
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

--- Pids of zombies whose parent is this process, outside its own process
--- group: supervised processes always run in groups of their own, while the
--- specs' own io.popen / os.execute children stay in ours (an unclosed popen
--- handle is a zombie until the collector closes it: not taskvisor's).
function P.zombies()
  local me, out = P.self_pid(), {}
  local own = tonumber(P.read("/proc/self/stat"):match(".*%) %a %d+ (%d+)"))
  local ls = io.popen("ls /proc")
  for name in ls:lines() do
    if name:match("^%d+$") then
      local stat = P.read("/proc/" .. name .. "/stat")
      local state, ppid, pgrp -- (not `stat and stat:match(...)`: that keeps one value)
      if stat then state, ppid, pgrp = stat:match(".*%) (%a) (%d+) (%d+)") end
      if state == "Z" and tonumber(ppid) == me and tonumber(pgrp) ~= own then
        out[#out + 1] = tonumber(name)
      end
    end
  end
  ls:close()
  return out
end

--- The open fds of this process, as a set of numbers. Listed by a child into
--- a file (os.execute), so the listing holds no fd of ours while it runs.
function P.fds()
  local tmp = os.tmpname()
  assert(os.execute("ls /proc/" .. P.self_pid() .. "/fd > " .. tmp))
  local set = {}
  for line in io.lines(tmp) do set[tonumber(line)] = true end
  os.remove(tmp)
  return set
end

--- Fds open now that were not in `before` (a P.fds() set), sorted. Fds closed
--- meanwhile (an earlier spec's leftovers finishing) do not count: the
--- question is whether anything leaked.
function P.new_fds(before)
  local out = {}
  for fd in pairs(P.fds()) do
    if not before[fd] then out[#out + 1] = fd end
  end
  table.sort(out)
  return out
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
