-- taskvisor.spec: task and process specs: tv.task / tv.process / tv.once /
-- tv.restartable validate once and freeze; the policy a supervisor gives the
-- core (a spec under its defaults) and the core task object of one add.
-- Requires validate, process, lifecycle, group, preflight (none requires this;
-- group gets these helpers through G.bind, done by init.lua).
local core = require("taskvisor.core")
local V = require("taskvisor.validate")
local P = require("taskvisor.process")
local L = require("taskvisor.lifecycle")
local G = require("taskvisor.group")
local Pre = require("taskvisor.preflight")

local S = {}

local RESTARTS = { "never", "on_failure", "always" }
local JITTERS = { "none", "full", "equal", "decorrelated" }
local POLICY_KEYS = { "restart", "interval", "backoff", "timeout", "max_retries", "reset_after",
  "intensity", "on_exhausted" }
-- The lists joined, each name once (a process's 'ready' is in both of its
-- lists; an error's "known:" list named it twice).
local function keys(...)
  local out, seen = {}, {}
  for _, list in ipairs({ ... }) do
    for _, k in ipairs(list) do
      if not seen[k] then out[#out + 1], seen[k] = k, true end
    end
  end
  return out
end
local SPEC_KEYS = keys({ "name", "slot", "restart", "interval", "backoff", "timeout", "max_retries" },
  L.KEYS)
local TASK_KEYS = keys({ "run", "max_instructions" }, SPEC_KEYS)
local PROCESS_KEYS = keys(SPEC_KEYS, P.KEYS)
local BACKOFF_KEYS = { "first", "max", "factor", "jitter" }
-- VM instructions a task or an on_event may run without yielding to the loop:
-- the default (about 0.4 s of tight Lua), then the bounds; or false (none).
local MAX_INSTRUCTIONS = { 100000000, 1000, 0xffffffff }
S.POLICY_KEYS, S.MAX_INSTRUCTIONS = POLICY_KEYS, MAX_INSTRUCTIONS
local check = V.check

local POLICY_FIELDS = {
  { "interval", V.seconds, true },
  { "timeout", V.seconds, true },
  { "max_retries", V.integer, 0, 0xffffffff },
}
local BACKOFF_FIELDS = {
  { "first", V.seconds, true },
  { "max", V.seconds, true },
  { "factor", V.number, 0 },
  { "jitter", V.one_of, JITTERS },
}

-- Validated copies of the policy fields shared by tasks and `defaults`.
-- `fns`: restart and backoff may also be functions (restart(outcome) ->
-- boolean, backoff(streak, last_delay, outcome) -> seconds).
local function policy_fields(where, src, out, fns)
  local v, err = V.optional(where, "", src, out, POLICY_FIELDS)
  if not v then return nil, err end
  if fns and src.restart ~= nil and V.callable(src.restart) then
    out.restart_fn = src.restart
  elseif src.restart ~= nil then
    out.restart, err = V.one_of(where, "restart", src.restart, RESTARTS)
    if not out.restart then
      if fns then err = err:gsub("%(got", "or a function(outcome) (got", 1) end
      return nil, err
    end
  end
  if fns and src.backoff ~= nil and V.callable(src.backoff) then
    out.backoff_fn = src.backoff
  elseif src.backoff ~= nil then
    local b = src.backoff
    if type(b) ~= "table" then
      return V.bad(where, "backoff", fns and "a table { first, max, factor, jitter } or a "
        .. "function(streak, last_delay, outcome)" or "a table", b)
    end
    v, err = V.known_keys(where, "backoff.", b, BACKOFF_KEYS)
    if not v then return nil, err end
    out.backoff = {}
    v, err = V.optional(where, "backoff.", b, out.backoff, BACKOFF_FIELDS)
    if not v then return nil, err end
  end
  if out.interval and out.restart and out.restart ~= "always" then
    return nil, string.format("%s: 'interval' only applies to restart = \"always\" (restart is %q)",
      where, out.restart)
  end
  return out
end

--- A table that reads like `t` and raises on writes.
local function read_only(t, what, type_name)
  return setmetatable({}, {
    __name = type_name,
    __index = t,
    __newindex = function(_, k)
      error(string.format("%s is read-only (setting '%s')", what, tostring(k)), 2)
    end,
    __pairs = function() return function(_, k) return next(t, k) end, nil, nil end,
    __len = function() return #t end,
    __metatable = false, -- the fields stay out of reach
  })
end

-- Task specs are validated once, when made, and read-only after: sup:add and
-- sup:submit take them without checking again. Each spec object maps to its
-- validated fields here.
local spec_fields = setmetatable({}, { __mode = "k" })

local function deep_copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = type(v) == "table" and deep_copy(v) or v end
  return out
end

-- A process spec's validated process options (for core.process), out of reach
-- of the spec's users.
local process_opts = setmetatable({}, { __mode = "k" })

local resolve
local NONE = {}
local NONE_DEFAULTS = { none = true }
local scratch_policy = {}

local Cfg = require("taskvisor.config") -- (it requires only validate)

local function freeze(fields, type_name)
  if type(fields.backoff) == "table" then fields.backoff = read_only(fields.backoff, "a task spec's backoff") end
  if fields.run ~= nil or process_opts[fields] then
    -- what every add needs, worked out once (submissions stay cheap)
    fields.add_opts = L.add_opts(fields) or false
    -- (into a scratch table: a table per spec made was garbage that spread
    -- the live specs over twice the memory, and every collection paid for it)
    local policy = resolve("tv.task", fields, NONE_DEFAULTS, scratch_policy)
    if policy then fields.policy_ud = core.policy(policy) end
  end
  local spec = read_only(fields, "a task spec (make a new one with tv.task{...})",
    type_name or "taskvisor.task")
  spec_fields[spec] = fields
  -- while a config file loads, where each spec was made: its errors at
  -- `taskvisor check` and reload name that line (config.lua)
  if Cfg.recording then Cfg.note_line(spec, 4) end
  return spec
end

-- What task and process specs share: the table, known keys, name, slot and
-- policy. The fields so far, or nil + error.
local function spec_common(where, what, opts, known)
  if type(opts) ~= "table" then
    return nil, string.format("%s: expected a %s spec table (got %s)", where, what, V.show(opts))
  end
  local v, err = V.known_keys(where, "", opts, known)
  if not v then return nil, err end
  local spec = {}
  spec.name, err = V.name(where, "name", opts.name)
  if not spec.name then return nil, err end
  if opts.slot ~= nil then
    spec.slot, err = V.name(where, "slot", opts.slot)
    if not spec.slot then return nil, err end
  end
  v, err = policy_fields(where, opts, spec, true)
  if not v then return nil, err end
  return L.fields(where, opts, spec, what == "task", what == "group")
end

local function task_spec(where, opts)
  local spec, err = spec_common(where, "task", opts, TASK_KEYS)
  if not spec then return nil, err end
  if not V.callable(opts.run) then
    return V.bad(where, "run", "a function or a callable", opts.run)
  end
  spec.run = opts.run
  spec.explicit_ready = (spec.ready == "notify" or spec.ready == "completed") or nil
  if opts.max_instructions ~= nil then
    spec.max_instructions, err = V.limit(where, "max_instructions", opts.max_instructions,
      MAX_INSTRUCTIONS[2], MAX_INSTRUCTIONS[3])
    if spec.max_instructions == nil then return nil, err end
  end
  return spec
end

local function process_spec(where, opts)
  local spec, err = spec_common(where, "process", opts, PROCESS_KEYS)
  if not spec then return nil, err end
  local popts
  popts, err = P.options(where, opts, {}, core.signum)
  if not popts then return nil, err end
  -- what runs is `popts`; the spec shows copies (changing them changes nothing)
  if opts.shutdown ~= nil then -- OTP's name for stop_timeout: one of the two
    if opts.stop_timeout ~= nil then
      return nil, string.format("%s: give 'shutdown' or 'stop_timeout', not both ('shutdown' "
        .. "is OTP's name for the stop window stop_timeout sets)", where)
    end
    if type(opts.shutdown) == "number" then popts.stop_timeout = opts.shutdown end
    if opts.shutdown == "infinity" then popts.stop_timeout = 1e9 end -- bounded by the grace
  end
  popts.watchdog = spec.watchdog -- (the child is told: NOTIFY_SOCKET, WATCHDOG_USEC)
  process_opts[spec] = popts
  spec.explicit_ready = opts.ready ~= nil and opts.ready ~= "started" or nil
  spec.process = deep_copy(popts)
  spec.cmd = spec.process.cmd
  return spec
end

-- The validated fields of a task or process spec: made ones pass as they
-- are; a plain table with `cmd` (and no `run`) is a process.
local function any_spec(where, opts)
  local fields = spec_fields[opts]
  if fields then return fields end
  if G.plain(opts) then return G.spec(where, opts) end
  if type(opts) == "table" and getmetatable(opts) == nil and opts.cmd ~= nil and opts.run == nil then
    return process_spec(where, opts)
  end
  return task_spec(where, opts)
end

--- tv.process{ name=, cmd={prog, args...}, cwd=, env=, inherit_env=true,
--- stdin="null", stdout="inherit", stderr="inherit", stop_signal="TERM",
--- stop_timeout=10, success_codes={0}, fatal_codes={}, + the policy fields of
--- tv.task }: a validated spec supervising an OS process (one attempt = one run).
function S.process(opts)
  local made = spec_fields[opts]
  if made and process_opts[made] then return opts end -- already one
  if made then
    error("tv.process: expected a process spec, got " .. (G.is(made) and "a group spec (made by tv.group)"
      or "a task spec (made by tv.task)"), 2)
  end
  local spec = freeze(check(process_spec("tv.process", opts)), "taskvisor.process")
  return spec
end

--- tv.task{ name=, run=, restart=, interval=, backoff={first,max,factor,jitter},
--- timeout=, max_retries=, max_instructions= }: a validated task spec. Unset
--- fields take the supervisor's `defaults`, then the built-in ones.
-- (Public functions keep the result in a local before returning it: a tail
-- call would drop their frame and misplace the caller's line in errors.)
function S.task(opts)
  local made = spec_fields[opts]
  if made and not process_opts[made] then return opts end -- already one
  if made then error("tv.task: expected a task spec, got a process spec (made by tv.process)", 2) end
  local spec = freeze(check(task_spec("tv.task", opts)))
  return spec
end

local function shorthand(where, restart, name, fn, opts)
  if opts ~= nil and type(opts) ~= "table" then
    return nil, string.format("%s: options must be a table (got %s)", where, V.show(opts))
  end
  local spec = { name = name, run = fn, restart = restart }
  for k, v in pairs(opts or {}) do
    if k == "name" or k == "run" or k == "restart" then
      return nil, string.format("%s: '%s' is given positionally, not in the options", where, k)
    end
    spec[k] = v
  end
  return task_spec(where, spec)
end

--- tv.once(name, fn [, opts]): runs once (restart = "never").
function S.once(name, fn, opts)
  local spec = freeze(check(shorthand("tv.once", "never", name, fn, opts)))
  return spec
end

--- tv.restartable(name, fn [, opts]): retried on failure (restart = "on_failure").
function S.restartable(name, fn, opts)
  local spec = freeze(check(shorthand("tv.restartable", "on_failure", name, fn, opts)))
  return spec
end

-- The policy the core receives: the spec, then the supervisor's defaults;
-- into `out` when given (every key is set, so one table can be reused).
function resolve(where, spec, d, out)
  -- a made spec under a supervisor without policy defaults: converted once,
  -- when made (the hot path of sup:submit)
  local ud = spec.policy_ud
  if ud and d.none then return ud end
  if spec.run == nil and G.is(spec) then return G.resolve(where, spec, d) end
  local restart = spec.restart or (spec.restart_fn and "on_failure") or
    ((spec.every or spec.calendar) and "always") or d.restart or "on_failure"
  if spec.interval and restart ~= "always" then
    return nil, string.format("%s: task '%s' sets 'interval' but its restart is %q "
      .. "('interval' only applies to restart = \"always\")", where, spec.name, restart)
  end
  local b, db = spec.backoff or NONE, d.backoff or NONE
  local p = out or {}
  p.restart = restart
  p.interval = restart == "always" and (spec.interval or d.interval) or nil
  p.first = b.first or db.first
  p.max = b.max or db.max
  p.factor = b.factor or db.factor
  p.jitter = b.jitter or db.jitter
  p.timeout = spec.timeout or d.timeout
  p.max_retries = spec.max_retries or d.max_retries
  p.reset_after = spec.reset_after or d.reset_after
  p.every = spec.every
  p.shutdown = L.shutdown_secs(spec.shutdown)
  p.significant = spec.significant
  if spec.significant and restart == "always" then
    return nil, string.format("%s: task '%s' is significant but its restart is \"always\" (from the "
      .. "supervisor's defaults; a significant child needs \"never\" or \"on_failure\")", where, spec.name)
  end
  local own_budget = spec.max_restarts ~= nil -- the spec's budget, or all of the defaults'
  p.max_restarts = spec.max_restarts or (not own_budget and d.max_restarts) or nil
  p.within = spec.within or (not own_budget and d.within) or nil
  p.on_exhausted = spec.on_exhausted or (not own_budget and d.on_exhausted) or nil
  p.cooldown = spec.cooldown or (not own_budget and d.cooldown) or nil
  return p
end

-- The process options of one add: popts, or a view of it with the resolved
-- creds and a user's HOME, USER, LOGNAME and SHELL (the spec's env wins).
local function with_creds(popts, creds, env)
  if not creds and not env then return popts end
  local view = { creds = creds }
  if env then
    local merged = {}
    for k, v in pairs(env) do merged[k] = v end
    for k, v in pairs(popts.env or {}) do merged[k] = v end
    view.env = merged
  end
  return setmetatable(view, { __index = popts })
end

-- A fresh core task object for one add of a validated spec, or nil, err
-- (a process's program is not there, its log file cannot be opened). Its instruction budget (for a Lua
-- task's attempts, hooks and policy functions): the spec's, else the
-- supervisor's (`d`); false = 0, none.
local function core_task(spec, d)
  local popts = spec.run == nil and process_opts[spec]
  if spec.run == nil and not popts then return G.core_task(spec) end
  local budget = spec.max_instructions
  if budget == nil and d then budget = d.max_instructions end
  budget = budget or 0
  local task, err
  if popts then
    task, err = Pre.program(popts)
    if task then
      local creds, env
      if P.has_creds(popts) then creds, env, err = require("taskvisor.creds").resolve(popts) end
      if err then
        task = nil
      else
        task, err = core.process(with_creds(popts, creds, env))
      end
    end
  else
    task = core.task(spec.run, budget)
  end
  local x = task and spec.add_opts ~= false and L.extras(spec) -- made without options: none
  if x then
    x.max_instructions = budget -- its hooks' and policy functions' (lhooks.c)
    core.set_extras(task, x)
  end
  return task, err
end

--- S.made(opts): the spec tv.task / tv.process / tv.group makes of a plain
--- table (a made spec passes as it is), or nil, err. A config's plain tables
--- become made specs when it is built, so a reload finds the very fields the
--- running tasks were made from.
function S.made(opts)
  if spec_fields[opts] then return opts end
  local fields, err = any_spec("sup:add", opts)
  if not fields then return nil, err end
  local spec = freeze(fields, G.is(fields) and "taskvisor.group"
    or process_opts[fields] and "taskvisor.process" or nil)
  return spec
end

S.policy_fields, S.read_only, S.spec_fields, S.freeze = policy_fields, read_only, spec_fields, freeze
S.spec_common, S.any_spec, S.resolve, S.core_task = spec_common, any_spec, resolve, core_task

return S
