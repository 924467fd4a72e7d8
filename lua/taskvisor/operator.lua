-- taskvisor.operator: an operator's verbs on one task (methods added to the
-- supervisor): sup:stop_task / start_task / restart_task (supervisord's
-- stop / start / restart, OTP's terminate_child / restart_child), sup:delete
-- (OTP's delete_child) and
-- sup:update (a policy swapped in place). The stopped state is the core's
-- (core/supervision/operator.h), never bookkeeping here.
-- Requires validate, spec, supervisor.
local core = require("taskvisor.core")
local V = require("taskvisor.validate")
local S = require("taskvisor.spec")
local Sup = require("taskvisor.supervisor")

local Supervisor, self_check, name_arg = Sup.Supervisor, Sup.self_check, Sup.name_arg
local check = V.check

local M = {}

-- The fields sup:update takes: the policy of tv.task (restart, interval,
-- backoff, timeout, max_retries, reset_after, intensity, on_exhausted, every).
local UPDATE_KEYS = { "name", "restart", "interval", "backoff", "timeout", "max_retries",
  "reset_after", "intensity", "on_exhausted", "every" }
M.POLICY_FIELDS = { "restart", "interval", "backoff", "timeout", "max_retries", "reset_after",
  "intensity", "on_exhausted", "every" }

--- sup:stop_task(name [, wait]): stops a task and keeps it registered, stopped:
--- no restart, no budget charged, sup:list() still lists it, until
--- sup:start_task(name). TaskStopped with reason "operator" is published.
--- From a task or subscriber, `wait` seconds waits (yielding that coroutine)
--- until it has stopped. true, or nil + "ENOENT: ..." / "EEXIST: ... already
--- stopped" / "EBUSY: ... being removed" / "ETIMEDOUT: ..." / "ESHUTDOWN: ...".
function Supervisor:stop_task(name, wait)
  local c = self_check(self, "stop_task")
  name = name_arg("stop_task", name)
  if wait ~= nil then wait = check(V.seconds("sup:stop_task", "wait", wait, true)) end
  if wait and wait > 0 and not core.supervised() then
    error("sup:stop_task: a wait needs a task or a subscriber (it yields that coroutine); "
      .. "call it without 'wait' outside", 2)
  end
  local ok, err = c:_op_stop(name)
  if not ok then return nil, err end
  if wait then
    local deadline = core.monotime() + wait
    while c:_op_state(name) == 2 do
      if core.monotime() >= deadline then
        return nil, string.format("ETIMEDOUT: task '%s' still stopping after %gs", name, wait)
      end
      if core.sleep(0.01) == false then return nil, "ECANCELED: the waiting task was cancelled" end
    end
  end
  return true
end

--- sup:start_task(name): starts an operator-stopped task again; its failure
--- streak starts afresh (supervisord's start resets the retry count), its
--- attempt count goes on. true, or nil + "ENOENT: ..." / "EINVAL: ... not
--- stopped by an operator" / "EBUSY: ... still stopping" / "ESHUTDOWN: ...".
function Supervisor:start_task(name)
  local c = self_check(self, "start_task")
  return c:_op_start(name_arg("start_task", name))
end

--- sup:restart_task(name): stops the task as sup:stop_task does and starts it
--- again once it has stopped (supervisorctl restart): a fresh failure streak,
--- no budget charged, a pending backoff cut short; a group's child restarts
--- alone. An operator-stopped task just starts. Returns at once: true, or
--- nil + "ENOENT: ..." / "EBUSY: ... being removed" / "ESHUTDOWN: ...".
function Supervisor:restart_task(name)
  local c = self_check(self, "restart_task")
  return c:_op_restart(name_arg("restart_task", name))
end

--- sup:stopped(name): true when an operator stopped the task (and it has not
--- been started since), "stopping" while it is still stopping, false for any
--- other registered task; nil + "ENOENT: ..." for no such task.
function Supervisor:stopped(name)
  local c = self_check(self, "stopped")
  name = name_arg("stopped", name)
  local st = c:_op_state(name)
  if st == nil then return nil, string.format("ENOENT: no task named '%s'", name) end
  return st == 1 or (st == 2 and "stopping") or false
end

--- sup:delete(name): removes an operator-stopped task's spec (OTP's
--- delete_child): TaskRemoveRequested, TaskRemoved. true, or nil +
--- "ENOENT: ..." / "EBUSY: ... is running: stop it first" / "EINVAL: ... a
--- group's child".
function Supervisor:delete(name)
  local c = self_check(self, "delete")
  name = name_arg("delete", name)
  local st, child, state = c:_op_state(name)
  if st == nil then return nil, string.format("ENOENT: no task named '%s'", name) end
  if child then
    return nil, string.format("EINVAL: task '%s' is a child of a group: its spec is the group's "
      .. "(stop it, or change the group)", name)
  end
  if st == 0 then
    return nil, string.format("EBUSY: task '%s' is not stopped (it is %s): stop it first with "
      .. "sup:stop_task (or remove it with sup:remove)", name, state)
  end
  if st == 2 then
    return nil, string.format("EBUSY: task '%s' is still stopping; delete it once it has stopped", name)
  end
  return c:remove(name)
end

-- The policy fields of `t` as sup:update takes them, validated (a made spec
-- passes as it is).
local function update_fields(t)
  if type(t) ~= "table" then
    return nil, string.format("sup:update: expected a table of policy fields or a task spec (got %s)",
      V.show(t))
  end
  local made = S.spec_fields[t]
  if made then return made end
  local ok, err = V.known_keys("sup:update", "", t, UPDATE_KEYS)
  if not ok then return nil, err end
  local out = {}
  ok, err = S.policy_fields("sup:update", t, out, false)
  if not ok then return nil, err end
  ok, err = require("taskvisor.lifecycle").budget("sup:update", t, out)
  if not ok then return nil, err end
  if t.reset_after ~= nil then
    out.reset_after = check(V.seconds("sup:update", "reset_after", t.reset_after, false))
  end
  if t.every ~= nil then out.every = check(V.seconds("sup:update", "every", t.every, false)) end
  return out
end

--- sup:update(name, policy): swaps the task's policy without restarting it:
--- `policy` is a table of tv.task's policy fields (restart, interval, backoff,
--- timeout, max_retries, reset_after, intensity, on_exhausted, every) or a
--- task spec (its policy is taken); fields it leaves out take the
--- supervisor's defaults, as at sup:add. The next decision (restart, backoff,
--- budget) uses it; a timeout or schedule applies from the next attempt.
--- true, or nil + "ENOENT: ...".
function Supervisor:update(name, policy)
  local c = self_check(self, "update")
  name = name_arg("update", name)
  local fields = check(update_fields(policy))
  if fields.restart_fn or fields.backoff_fn then
    error("sup:update: a restart or backoff function is part of the task (its hooks): "
      .. "replace the task to change it", 2)
  end
  local p = check(S.resolve("sup:update", fields, self.defaults))
  return c:_op_update(name, p)
end

return M
