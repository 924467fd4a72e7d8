-- taskvisor.waits: reliable outcomes and the waits on them: sup:outcomes,
-- sup:wait, sup:wait_any, sup:wait_all (methods added to the supervisor).
-- Recorded by the core as each task ends, before its TaskRemoved, whatever
-- the subscribers do: { status, attempts, reason?, exit_code? }.
-- Requires validate and supervisor.
local core = require("taskvisor.core")
local V = require("taskvisor.validate")
local Sup = require("taskvisor.supervisor")

local Supervisor, self_check, name_arg = Sup.Supervisor, Sup.self_check, Sup.name_arg
local check = V.check

local function copy_outcome(o)
  if not o then return nil end
  return { status = o.status, attempts = o.attempts, reason = o.reason, exit_code = o.exit_code }
end

--- sup:outcomes(): name -> the outcome of the last task of that name that ended
--- (for the last `keep_outcomes` names to end).
function Supervisor:outcomes()
  local out = self_check(self, "outcomes"):outcomes() -- fresh tables, without seq
  return out
end

-- The error of a wait called where it cannot wait.
local function outside(method)
  return string.format("sup:%s: call it from a task or a subscriber (it waits by yielding that "
    .. "coroutine); outside, sup:run() returns the outcomes", method)
end

--- sup:wait(name [, timeout]): from a task or subscriber, waits until the task
--- `name` has ended and returns its outcome { status = "completed" |
--- "exhausted" | "dead" | "cancelled" | "setup_failed", attempts, reason,
--- exit_code }; at once if it already ended. nil, "ENOENT: ..." for a name
--- never seen; nil, "ETIMEDOUT: ..." after `timeout` seconds.
function Supervisor:wait(name, timeout)
  local c = self_check(self, "wait")
  name = name_arg("wait", name)
  if timeout ~= nil then timeout = check(V.seconds("sup:wait", "timeout", timeout, true)) end
  if name == core.current_task() and c:contains(name) then
    return nil, string.format("EINVAL: task '%s' cannot wait for its own end", name)
  end
  local waited = c:contains(name)
  if waited and not core.supervised() then error(outside("wait"), 2) end
  if waited then
    local ok, err = c:await(name, timeout)
    if not ok then return nil, (err:gsub("^ETIMEDOUT: .*", "ETIMEDOUT: task '" .. name
      .. "' still running after " .. tostring(timeout) .. "s")) end
  end
  local o = copy_outcome((c:outcome(name)))
  if o then return o end
  local _, _, dropped = c:outcome(name)
  if waited then
    return nil, string.format("ENOENT: no outcome kept for task '%s' (it has ended; only the "
      .. "last keep_outcomes = %d are kept, %d dropped so far)", name, self.keep, dropped)
  elseif dropped > 0 then -- it may have ended long ago, or never run
    return nil, string.format("ENOENT: no task named '%s' is running, and no outcome is kept "
      .. "for it (only the last keep_outcomes = %d are kept, %d dropped so far)", name, self.keep,
      dropped)
  end
  return nil, string.format("ENOENT: no task named '%s' is running or has ended", name)
end

-- The deadline of a wait, or nil + error (the caller raises it, so that the
-- error points at its own caller).
local function wait_timeout(where, timeout)
  if timeout == nil then return math.huge end
  local secs, err = V.seconds(where, "timeout", timeout, true)
  if not secs then return nil, err end
  return core.monotime() + secs
end

--- sup:wait_any([timeout]): from a task or subscriber, waits until one of the
--- tasks registered now ends: its name and outcome. nil, "ENOENT: ..." when
--- none is registered; nil, "ETIMEDOUT: ..." after `timeout` seconds.
function Supervisor:wait_any(timeout)
  local c = self_check(self, "wait_any")
  local deadline = check(wait_timeout("sup:wait_any", timeout))
  local names, me = {}, core.current_task()
  for _, n in ipairs(c:list()) do if n ~= me then names[#names + 1] = n end end
  if #names == 0 then return nil, "ENOENT: no task is registered" end
  local _, since = c:outcome(names[1])
  if not core.supervised() then error(outside("wait_any"), 2) end
  while true do
    local _, n = c:outcome(names[1])
    if n > since then
      local best, bo
      for _, name in ipairs(names) do
        local o = c:outcome(name)
        if o and o.seq > since and (not bo or o.seq < bo.seq) then best, bo = name, o end
        -- ended, but its outcome was dropped already: it may have been the first
        if not o and not c:contains(name) then
          return nil, string.format("ENOENT: task '%s' ended but its outcome was not kept "
            .. "(keep_outcomes = %d)", name, self.keep)
        end
      end
      if best then return best, copy_outcome(bo) end
      since = n
    end
    if core.monotime() >= deadline then return nil, "ETIMEDOUT: no task ended in time" end
    if core.sleep(0.005) == false then return nil, "ECANCELED: the waiting task was cancelled" end
  end
end

--- sup:wait_all([timeout]): from a task or subscriber, waits until every task
--- registered now has ended: name -> outcome. nil, "ETIMEDOUT: ..." after
--- `timeout` seconds (the outcomes so far as the third value).
function Supervisor:wait_all(timeout)
  local c = self_check(self, "wait_all")
  local deadline = check(wait_timeout("sup:wait_all", timeout))
  local out, me = {}, core.current_task()
  for _, name in ipairs(c:list()) do
    if name == me then goto continue end
    if not core.supervised() then error(outside("wait_all"), 2) end -- (not as sup:wait)
    local left = deadline - core.monotime()
    if left < 0 then left = 0 end
    local o, err = self:wait(name, left ~= math.huge and left or nil)
    if not o and err:find("^ETIMEDOUT") then return nil, "ETIMEDOUT: not every task ended in time", out end
    if not o then return nil, err, out end -- a dropped outcome (ENOENT), a cancelled wait
    out[name] = o
    ::continue::
  end
  return out
end

return true -- (its methods are on the supervisor; a table here would name them in tracebacks)
