-- taskvisor: supervised Lua tasks with restart, backoff and timeout policies,
-- typed lifecycle events, subscribers and graceful shutdown, on libuv.
-- This file is the public face: it validates options (errors name the field
-- and what was expected), fills defaults, and wraps taskvisor.core (C).
local core = require("taskvisor.core")
local V = require("taskvisor.validate")
local P = require("taskvisor.process")
local L = require("taskvisor.lifecycle")
local G = require("taskvisor.group")

local tv = {
  version = core.version,
  EVENT_KINDS = core.event_kinds,
  sleep = core.sleep,
  monotime = core.monotime,
}

local RESTARTS = { "never", "on_failure", "always" }
local JITTERS = { "none", "full", "equal", "decorrelated" }
local POLICY_KEYS = { "restart", "interval", "backoff", "timeout", "max_retries", "reset_after",
  "intensity", "on_exhausted" }
local function keys(...)
  local out = {}
  for _, list in ipairs({ ... }) do table.move(list, 1, #list, #out + 1, out) end
  return out
end
local SPEC_KEYS = keys({ "name", "slot", "restart", "interval", "backoff", "timeout", "max_retries" },
  L.KEYS)
local TASK_KEYS = keys({ "run", "max_instructions" }, SPEC_KEYS)
local PROCESS_KEYS = keys(SPEC_KEYS, P.KEYS)
local BACKOFF_KEYS = { "first", "max", "factor", "jitter" }
local SUPERVISOR_KEYS = { "grace", "max_concurrent", "bus_capacity", "defaults", "seed",
  "controller", "intensity", "on_exhausted", "max_instructions", "keep_outcomes" }
local KEEP_OUTCOMES = { 10000, 1 << 24 } -- default, max (outcomes.h)
-- VM instructions a task or an on_event may run without yielding to the loop:
-- the default (about 0.4 s of tight Lua), then the bounds; or false (none).
local MAX_INSTRUCTIONS = { 100000000, 1000, 0xffffffff }
local CONTROLLER_KEYS = { "max_slot_queue" }
local SUBMIT_KEYS = { "slot", "admission", "task" }
local SUBMIT_SET = { slot = true, admission = true, task = true }
local ADMISSIONS = { "queue", "replace", "drop_if_running" }
local ADMISSION_SET = { queue = true, replace = true, drop_if_running = true }
local DECISIONS = { start = true, queue = true, replace = true, reject = true }
local SUBSCRIBER_KEYS = { "name", "on_event", "queue" }
local MAX_QUEUE = 1 << 24

-- Raises `err` at the caller of the public function that called us.
local function check(v, err)
  if v == nil then error(err, 3) end
  return v
end

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

-- A table that reads like `t` and raises on writes.
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
function tv.process(opts)
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
function tv.task(opts)
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
function tv.once(name, fn, opts)
  local spec = freeze(check(shorthand("tv.once", "never", name, fn, opts)))
  return spec
end

--- tv.restartable(name, fn [, opts]): retried on failure (restart = "on_failure").
function tv.restartable(name, fn, opts)
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
    (spec.every and "always") or d.restart or "on_failure"
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
  local own_budget = spec.max_restarts ~= nil -- the spec's budget, or all of the defaults'
  p.max_restarts = spec.max_restarts or (not own_budget and d.max_restarts) or nil
  p.within = spec.within or (not own_budget and d.within) or nil
  p.on_exhausted = spec.on_exhausted or (not own_budget and d.on_exhausted) or nil
  p.cooldown = spec.cooldown or (not own_budget and d.cooldown) or nil
  return p
end

-- A fresh core task object for one add of a validated spec, or nil, err
-- (a process's log file cannot be opened). Its instruction budget (for a Lua
-- task's attempts, hooks and policy functions): the spec's, else the
-- supervisor's (`d`); false = 0, none.
local function core_task(spec, d)
  local popts = spec.run == nil and process_opts[spec]
  if spec.run == nil and not popts then return G.core_task(spec) end
  local budget = spec.max_instructions
  if budget == nil and d then budget = d.max_instructions end
  budget = budget or 0
  local task, err
  if popts then task, err = core.process(popts) else task = core.task(spec.run, budget) end
  local x = task and spec.add_opts ~= false and L.extras(spec) -- made without options: none
  if x then
    x.max_instructions = budget -- its hooks' and policy functions' (lhooks.c)
    core.set_extras(task, x)
  end
  return task, err
end

-- ctx:exec(cmd [, opts]): runs a command to completion without blocking the
-- loop: code, stdout, stderr, truncated; or nil, err [, stdout, stderr].
core.ctx_methods.exec = function(ctx, cmd, opts)
  local c, o = P.exec_args("ctx:exec", cmd, opts)
  if not c then error(o, 2) end
  return ctx:_exec(c, o)
end

local function failure(fatal, where, msg, exit_code)
  if type(msg) ~= "string" and type(msg) ~= "number" then
    error(string.format("%s: 'message' must be a string (got %s)", where, V.show(msg)), 3)
  end
  if exit_code ~= nil then
    local code, err = V.integer(where, "exit_code", exit_code, -2147483648, 2147483647)
    if not code then error(err, 3) end
    exit_code = code
  end
  error(setmetatable({ message = tostring(msg), exit_code = exit_code, fatal = fatal }, core.failure_mt), 0)
end

--- tv.fail(msg [, exit_code]): a retryable failure carrying an exit code.
function tv.fail(msg, exit_code) failure(false, "tv.fail", msg, exit_code) end
--- tv.fatal(msg [, exit_code]): a failure that ends the task (ActorDead).
function tv.fatal(msg, exit_code) failure(true, "tv.fatal", msg, exit_code) end

-- ---- supervisor ------------------------------------------------------------

local Supervisor = { __name = "taskvisor.supervisor" }
Supervisor.__index = Supervisor

local function self_check(self, method)
  if getmetatable(self) ~= Supervisor then
    error(string.format("sup:%s: call it as a method, sup:%s(...)", method, method), 3)
  end
  return self.core
end

-- controller = true | { max_slot_queue = 100 } -> the queue bound, or nil.
local function controller_opts(v)
  if v == nil or v == false then return nil end
  if v == true then return 100 end
  if type(v) ~= "table" then
    return nil, string.format("tv.supervisor: 'controller' must be true or a table "
      .. "{ max_slot_queue = n } (got %s)", V.show(v))
  end
  local ok, err = V.known_keys("tv.supervisor", "controller.", v, CONTROLLER_KEYS)
  if not ok then return nil, err end
  if v.max_slot_queue == nil then return 100 end
  return V.integer("tv.supervisor", "controller.max_slot_queue", v.max_slot_queue, 0, MAX_QUEUE)
end

--- tv.supervisor{ grace = 60, max_concurrent = 0, bus_capacity = 1024,
--- defaults = { restart=, interval=, backoff=, timeout=, max_retries= }, seed = n,
--- controller = true | { max_slot_queue = 100 }, max_instructions = 1e8,
--- keep_outcomes = 10000 }
function tv.supervisor(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(string.format("tv.supervisor: expected an options table (got %s)", V.show(opts)), 2)
  end
  check(V.known_keys("tv.supervisor", "", opts, SUPERVISOR_KEYS))
  local grace = opts.grace == nil and 60 or check(V.seconds("tv.supervisor", "grace", opts.grace, true))
  local maxc = opts.max_concurrent == nil and 0 or
    check(V.integer("tv.supervisor", "max_concurrent", opts.max_concurrent, 0, 0xffffffff))
  local cap = opts.bus_capacity == nil and 1024 or
    check(V.integer("tv.supervisor", "bus_capacity", opts.bus_capacity, 1, MAX_QUEUE))
  local seed
  if opts.seed ~= nil then seed = check(V.integer("tv.supervisor", "seed", opts.seed, math.mininteger)) end
  local defaults = {}
  if opts.defaults ~= nil then
    check(V.table("tv.supervisor", "defaults", opts.defaults))
    check(V.known_keys("tv.supervisor", "defaults.", opts.defaults, POLICY_KEYS))
    check(policy_fields("tv.supervisor: defaults", opts.defaults, defaults))
    check(L.budget("tv.supervisor: defaults", opts.defaults, defaults))
    if opts.defaults.reset_after ~= nil then
      defaults.reset_after = check(V.seconds("tv.supervisor: defaults", "reset_after",
        opts.defaults.reset_after, false))
    end
  end
  local budget = check(L.budget("tv.supervisor", opts, {}))
  if budget.max_restarts and not budget.on_exhausted then budget.on_exhausted = "escalate" end
  local max_slot_queue, err = controller_opts(opts.controller)
  if err then error(err, 2) end
  defaults.none = next(defaults) == nil -- no policy defaults: made specs' policies serve as they are
  defaults.max_instructions = opts.max_instructions == nil and MAX_INSTRUCTIONS[1] or
    check(V.limit("tv.supervisor", "max_instructions", opts.max_instructions,
      MAX_INSTRUCTIONS[2], MAX_INSTRUCTIONS[3]))
  local keep = opts.keep_outcomes == nil and KEEP_OUTCOMES[1] or
    check(V.integer("tv.supervisor", "keep_outcomes", opts.keep_outcomes, 0, KEEP_OUTCOMES[2]))
  local sup = core.supervisor(grace, maxc, cap, seed, max_slot_queue, budget, keep)
  return setmetatable({ core = sup, defaults = defaults, grace = grace, nsubs = 0, keep = keep,
    controller = max_slot_queue ~= nil }, Supervisor)
end

--- sup:add(spec): registers and starts a task. true, or nil + "EEXIST: ..." /
--- "ESHUTDOWN: ...". A raw table is validated like tv.task.
function Supervisor:add(spec)
  local c = self_check(self, "add")
  spec = check(any_spec("sup:add", spec))
  local policy = check(resolve("sup:add", spec, self.defaults))
  local task, err = core_task(spec, self.defaults)
  if not task then return nil, err end
  return c:add(spec.name, task, policy, (spec.add_opts or (spec.add_opts == nil and L.add_opts(spec)) or nil))
end

local function name_arg(method, name)
  return check(V.name("sup:" .. method, "name", name))
end

--- sup:remove(name): cancels a task (force-stopped after `grace`); returns at once.
function Supervisor:remove(name)
  local c = self_check(self, "remove")
  return c:remove(name_arg("remove", name))
end

--- sup:cancel(name [, wait]): like remove; from a task or subscriber it also
--- waits (yielding that coroutine only) until the task is gone, up to `wait`
--- seconds (default: grace). true, or nil + "ETIMEDOUT: ..." / "ENOENT: ...".
function Supervisor:cancel(name, wait)
  local c = self_check(self, "cancel")
  name = name_arg("cancel", name)
  if wait ~= nil then wait = check(V.seconds("sup:cancel", "wait", wait, true)) end
  return c:cancel(name, wait)
end

--- sup:signal(name, sig): forwards a signal ("HUP", "SIGHUP" or a number) to
--- a running process task's process group. true, or nil + "ENOENT: ..." /
--- "ENOTSUP: ..." (not a process task) / "ESRCH: ..." (no process running now).
function Supervisor:signal(name, sig)
  local c = self_check(self, "signal")
  name = name_arg("signal", name)
  local n = check(P.signal("sup:signal", "signal", sig, core.signum))
  return c:signal(name, n)
end

--- sup:process(name): a process task's live state: { pid =, attempt =,
--- containment =, stdout = { file =, lost_bytes =, error = }, stderr = ... }, or nil +
--- "ENOENT: ..." / "ENOTSUP: ..." (not a process task).
function Supervisor:process(name)
  return self_check(self, "process"):process(name_arg("process", name))
end

--- sup:process_info(name): the running process of a process task:
--- { pid =, containment = "cgroup" | "pgroup", cgroup = directory }, or nil +
--- "ENOENT: ..." / "ENOTSUP: ..." (not a process task) / "ESRCH: ..." (none runs now).
function Supervisor:process_info(name)
  local c = self_check(self, "process_info")
  return c:process_info(name_arg("process_info", name))
end

--- sup:list(): registered task names, sorted.
function Supervisor:list() return self_check(self, "list"):list() end
--- sup:snapshot(): names of tasks with an attempt running now, sorted.
function Supervisor:snapshot() return self_check(self, "snapshot"):snapshot() end
--- sup:is_alive(name): whether that task has an attempt running now.
function Supervisor:is_alive(name)
  local c = self_check(self, "is_alive")
  return c:is_alive(name_arg("is_alive", name))
end
--- sup:contains(name): whether a task of that name is registered.
function Supervisor:contains(name)
  local c = self_check(self, "contains")
  return c:contains(name_arg("contains", name))
end
--- sup:state(): "open", "stopping", "draining" or "closed".
function Supervisor:state() return self_check(self, "state"):state() end

--- sup:shutdown(): requests a graceful shutdown and returns at once.
function Supervisor:shutdown() return self_check(self, "shutdown"):shutdown() end

--- sup:subscribe(fn | { name=, on_event=, queue= }): on_event(ev) runs in the
--- subscriber's own coroutine, one event at a time, in order.
function Supervisor:subscribe(sub)
  local c = self_check(self, "subscribe")
  local name, fn, queue
  -- an options table: a plain table, or any table with an on_event field
  if type(sub) == "table" and (getmetatable(sub) == nil or sub.on_event ~= nil) then
    check(V.known_keys("sup:subscribe", "", sub, SUBSCRIBER_KEYS))
    fn = sub.on_event
    if not V.callable(fn) then
      error(string.format("sup:subscribe: 'on_event' must be a function or a callable (got %s)",
        V.show(fn)), 2)
    end
    if sub.name ~= nil then name = check(V.name("sup:subscribe", "name", sub.name)) end
    if sub.queue ~= nil then queue = check(V.integer("sup:subscribe", "queue", sub.queue, 1, MAX_QUEUE)) end
  elseif V.callable(sub) then
    fn = sub
  else
    error(string.format("sup:subscribe: expected a function or a { name=, on_event=, queue= } "
      .. "table (got %s)", V.show(sub)), 2)
  end
  local budget = self.defaults.max_instructions or 0
  if name then return c:subscribe(name, fn, queue, budget) end
  for _ = 1, 1000 do -- the next "subscriber-N" not taken by an explicit name
    self.nsubs = self.nsubs + 1
    local ok, err = c:subscribe("subscriber-" .. self.nsubs, fn, queue, budget)
    if ok or not err:find("^EEXIST") then return ok, err end
  end
  return nil, "EEXIST: no free default subscriber name; give it a name"
end

--- sup:run([specs]): adds `specs` (all or none: a duplicate name adds nothing),
--- then runs the loop until every task has ended, or until SIGINT / SIGTERM /
--- SIGQUIT or sup:shutdown(). true, or nil, "GraceExceeded: ...", stuck_names.
function Supervisor:run(specs)
  local c = self_check(self, "run")
  local runnable, why, never = c:runnable() -- refuse before adding anything
  if never then error(why, 2) end -- (called where it never can run)
  if not runnable then return nil, why end
  if specs ~= nil then
    check(V.list("sup:run", "specs", specs, "task specs"))
    local batch, seen = {}, {}
    for i, s in ipairs(specs) do
      local spec = check(any_spec(string.format("sup:run: specs[%d]", i), s))
      local policy = check(resolve("sup:run", spec, self.defaults))
      if seen[spec.name] or c:contains(spec.name) then
        return nil, string.format("EEXIST: task '%s' already exists; no task of this batch was added",
          spec.name)
      end
      seen[spec.name] = true
      batch[i] = { spec, policy }
    end
    local specs_only = {}
    for i, item in ipairs(batch) do specs_only[i] = item[1] end
    local nodes = G.expand(specs_only)
    local cyc = L.cycle("sup:run", nodes) -- through group trees too
    if cyc then error(cyc, 2) end
    cyc = L.cross_cycle(nodes, function(n, as_child) return c:waits(n, as_child) end)
    if cyc then
      return nil, string.format("EINVAL: 'after' would make a cycle: %s (none of them could start); "
        .. "no task of this batch was added", cyc)
    end
    for _, item in ipairs(batch) do -- every task object first: all or none
      local task, err = core_task(item[1], self.defaults)
      if not task then return nil, err .. "; no task of this batch was added" end
      item[3] = task
    end
    for _, item in ipairs(batch) do
      local ok, err = c:add(item[1].name, item[3], item[2], (item[1].add_opts or (item[1].add_opts == nil and L.add_opts(item[1])) or nil))
      if not ok then return nil, err end
    end
  end
  local ok, msg, stuck = c:run()
  local outcomes = self:outcomes()
  if ok then return true, outcomes end
  return nil, msg, stuck or {}, outcomes
end

-- ---- reliable outcomes ------------------------------------------------------
-- Recorded by the core as each task ends, before its TaskRemoved, whatever
-- the subscribers do: { status, attempts, reason?, exit_code? }.

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

-- ---- controller -------------------------------------------------------------

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
  if not task then return nil, err end
  return c:_submit(slot, decision, label, why, spec.name, task, policy)
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

Supervisor.__tostring = function(self) return tostring(self.core) end

--- tv.log_writer([opts]): a subscriber printing the reference LogWriter lines.
function tv.log_writer(opts)
  local writer = require("taskvisor.log_writer").new(opts)
  return writer
end

G.bind(tv, { core = core, any_spec = any_spec, resolve = resolve, core_task = core_task,
  spec_common = spec_common, freeze = freeze, read_only = read_only, spec_fields = spec_fields,
  add_opts = L.add_opts })

return tv
