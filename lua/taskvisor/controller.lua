-- taskvisor.controller: admission through slots: sup:submit (with the
-- built-in admissions or a user's function deciding), sup:slot, sup:slots
-- (methods added to the supervisor). Requires validate, lifecycle, spec,
-- supervisor.
local V = require("taskvisor.validate")
local L = require("taskvisor.lifecycle")
local S = require("taskvisor.spec")
local Sup = require("taskvisor.supervisor")

local Supervisor, self_check = Sup.Supervisor, Sup.self_check
local check = V.check
local read_only, spec_fields, any_spec, resolve, core_task, freeze =
  S.read_only, S.spec_fields, S.any_spec, S.resolve, S.core_task, S.freeze

local SUBMIT_KEYS = { "slot", "admission", "task" }
local SUBMIT_SET = { slot = true, admission = true, task = true }
local ADMISSIONS = { "queue", "replace", "drop_if_running" }
local ADMISSION_SET = { queue = true, replace = true, drop_if_running = true }
local DECISIONS = { start = true, queue = true, replace = true, reject = true }

-- tostring that cannot raise (a user's __tostring may).
local function safe_tostring(v)
  local ok, str = pcall(tostring, v)
  if ok and type(str) == "string" then return str end
  return "(a " .. type(v) .. " value)"
end

-- Runs a user admission function: its decision and reason. Whatever goes wrong
-- in it rejects this submission only.
local function decide(c, fn, slot, spec, req_task)
  local view = read_only(c:slot(slot), "the slot view")
  local request = read_only({ task = spec.name, slot = slot, spec = req_task }, "the request")
  local ok, d, why = pcall(fn, view, request)
  if not ok then
    return "reject", "admission function raised: " .. safe_tostring(d)
  end
  if not DECISIONS[d] then
    return "reject", string.format("admission function returned %s; expected \"start\", "
      .. "\"queue\", \"replace\" or \"reject\"", V.show(d))
  end
  if d ~= "reject" then why = nil end
  if why ~= nil then why = safe_tostring(why) end
  return d, why
end

--- sup:submit{ slot =, admission = "queue" | "replace" | "drop_if_running" |
--- function(slot, request), task = spec }: admits work through a slot (one
--- admitted task registered per slot at a time). true when started or queued;
--- nil, "CODE: reason" when rejected (also published as ControllerRejected).
function Supervisor:submit(req)
  local c = self_check(self, "submit")
  if type(req) ~= "table" then
    error(string.format("sup:submit: expected a { slot=, admission=, task= } table (got %s)",
      V.show(req)), 2)
  end
  if getmetatable(req) ~= nil then -- (a proxy: its __pairs says what it holds)
    check(V.known_keys("sup:submit", "", req, SUBMIT_KEYS))
  else
    for k in next, req do -- (the hot path: V.known_keys only to word the error)
      if not SUBMIT_SET[k] then check(V.known_keys("sup:submit", "", req, SUBMIT_KEYS)) end
    end
  end
  if req.task == nil then
    error("sup:submit: 'task' is required (a task spec such as tv.task{...})", 2)
  end
  local spec = spec_fields[req.task] or check(any_spec("sup:submit: 'task'", req.task))
  local slot = spec.slot or spec.name
  if req.slot ~= nil then slot = check(V.name("sup:submit", "slot", req.slot)) end
  local adm = req.admission
  if adm == nil then adm = "queue" end
  local fn
  if ADMISSION_SET[adm] then
    fn = nil
  elseif type(adm) == "string" then
    check(V.one_of("sup:submit", "admission", adm, ADMISSIONS))
  elseif V.callable(adm) then
    fn = adm
  else
    error(string.format("sup:submit: 'admission' must be \"queue\", \"replace\", "
      .. "\"drop_if_running\" or a function(slot, request) (got %s)", V.show(adm)), 2)
  end
  local policy = spec.policy_ud -- made, and no defaults to apply: converted already
  if not (policy and self.defaults.none) then policy = check(resolve("sup:submit", spec, self.defaults)) end
  local add_opts = spec.add_opts -- false: made, and none; nil: not made
  if add_opts or (add_opts == nil and L.add_opts(spec)) then
    return nil, "ENOTSUP: tasks with 'after', 'ready', lifecycle hooks or restart/backoff "
      .. "functions cannot be submitted through the controller yet; add them with sup:add"
  end
  if not self.controller then
    return nil, "ENOTSUP: this supervisor has no controller; create it with "
      .. "tv.supervisor{ controller = { max_slot_queue = ... } }"
  end
  local decision, label, why = adm, adm, nil
  if fn then
    decision, why = decide(c, fn, slot, spec, spec_fields[req.task] and req.task or freeze(spec))
    label = "function(" .. decision .. ")"
  end
  local task, err = core_task(spec, self.defaults)
  if not task then
    c:_add_failed(spec.name, err)
    return nil, err
  end
  local ok
  ok, err = c:_submit(slot, decision, label, why, spec.name, task, policy)
  if ok then Sup.note_task(self, spec.name) end
  return ok, err
end

--- sup:slot(name): { name, status = "idle" | "running" | "terminating",
--- running = task name?, queue_depth, queued = {names}, running_for = seconds }.
function Supervisor:slot(name)
  local c = self_check(self, "slot")
  name = check(V.name("sup:slot", "name", name))
  if not c:has_controller() then return nil, "ENOTSUP: this supervisor has no controller" end
  return c:slot(name)
end

--- sup:slots(): every slot that is not idle (as sup:slot describes them), by name.
function Supervisor:slots()
  local c = self_check(self, "slots")
  if not c:has_controller() then return nil, "ENOTSUP: this supervisor has no controller" end
  return c:slots()
end

return true -- (its methods are on the supervisor; a table here would name them in tracebacks)
