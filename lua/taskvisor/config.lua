-- config: declarative configs, for `taskvisor run | check | simulate`.
-- A config file returns its specs instead of running them:
--   local tv = require("taskvisor")
--   return tv.config{ supervisor = { grace = 5 }, tasks = { tv.process{...}, tv.task{...} } }
-- so the host can check it without starting anything, build a supervisor
-- from it, diff it against a running one (reload) and run it in virtual time.
-- Requires only validate; the supervisor module is handed in by build().
local V = require("taskvisor.validate")

local M = {}

local CONFIG_KEYS = { "supervisor", "tasks", "control", "subscribers" }
local config_mt = { __name = "taskvisor.config" }

local function check(v, err)
  if v == nil and err then error(err, 3) end
  return v
end

--- tv.config{ supervisor =, tasks =, control =, subscribers = }: a validated
--- config. supervisor: the options of tv.supervisor; tasks: a list of specs
--- (tv.task / tv.process / tv.group results, or their plain tables);
--- control: the control API's options ({ group = "ops" }); subscribers: a list
--- of subscribers as sup:subscribe takes them. Spec fields are checked when
--- the supervisor is built (sup:add), with every error reported.
function M.config(t)
  if type(t) ~= "table" then
    error(string.format("tv.config: expected a table { supervisor = ..., tasks = ... } (got %s)", V.show(t)), 2)
  end
  check(V.known_keys("tv.config", "", t, CONFIG_KEYS))
  if t.supervisor ~= nil then check(V.table("tv.config", "supervisor", t.supervisor)) end
  if t.control ~= nil then check(V.table("tv.config", "control", t.control)) end
  local tasks = t.tasks == nil and {} or check(V.list("tv.config", "tasks", t.tasks, "task specs"))
  local n = #tasks
  local list, names = {}, {}
  for i = 1, n do
    local s = tasks[i]
    if type(s) ~= "table" then
      error(string.format("tv.config: tasks[%d] must be a spec (tv.task, tv.process, tv.group or a table) (got %s)",
        i, V.show(s)), 2)
    end
    local name = s.name
    if type(name) == "string" then
      if names[name] then
        error(string.format("tv.config: tasks[%d]: name '%s' is already used by tasks[%d]", i, name, names[name]), 2)
      end
      names[name] = i
    end
    list[i] = s
  end
  local subs = {}
  if t.subscribers ~= nil then
    for i, s in ipairs(check(V.table("tv.config", "subscribers", t.subscribers))) do subs[i] = s end
  end
  return setmetatable({ supervisor = t.supervisor or {}, tasks = list, control = t.control or {},
    subscribers = subs }, config_mt)
end

function M.is_config(v) return getmetatable(v) == config_mt end

--- load(path): runs the config file and returns its config, or nil and the
--- error (with file:line) when it raises or does not return tv.config{...}.
--- A script that runs its own supervisor (sup:run()) instead returns
--- nothing: then nil, "not a declarative config ...", "script".
function M.load(path, ...)
  local chunk, err = loadfile(path, "t")
  if not chunk then return nil, err end
  local ok, res = pcall(chunk, ...)
  if not ok then return nil, tostring(res) end
  if not M.is_config(res) then
    return nil, string.format("%s: does not return a declarative config: end it with 'return tv.config{ supervisor = {...}, tasks = {...} }' (it returned %s)",
      path, V.show(res)), "script"
  end
  return res
end

--- build(cfg, new_supervisor): a supervisor with every task of cfg added, or
--- nil and the list of errors ("tasks[2] (web): ENOENT: ..."). Nothing runs:
--- tasks start when the supervisor runs.
function M.build(cfg, new_supervisor)
  local ok, sup = pcall(new_supervisor, cfg.supervisor)
  if not ok then return nil, { "supervisor: " .. tostring(sup) } end
  local errs = {}
  for i, s in ipairs(cfg.subscribers) do
    local sok, r, e = pcall(sup.subscribe, sup, s)
    if not sok or not r then errs[#errs + 1] = string.format("subscribers[%d]: %s", i, tostring(sok and e or r)) end
  end
  for i, s in ipairs(cfg.tasks) do
    local aok, r, e = pcall(sup.add, sup, s)
    if not aok or not r then
      local name = type(s.name) == "string" and " (" .. s.name .. ")" or ""
      errs[#errs + 1] = string.format("tasks[%d]%s: %s", i, name, tostring(aok and e or r))
    end
  end
  if #errs > 0 then return nil, errs, sup end
  return sup
end

return M
