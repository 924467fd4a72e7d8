-- taskvisor.supervisor: the supervisor object: tv.supervisor{...} (options
-- checked, errors name the field), adding, removing and signalling tasks,
-- subscribers, and sup:run. Requires validate, process, lifecycle, group,
-- spec; waits.lua and controller.lua add their methods to M.Supervisor.
local core = require("taskvisor.core")
local V = require("taskvisor.validate")
local P = require("taskvisor.process")
local L = require("taskvisor.lifecycle")
local G = require("taskvisor.group")
local S = require("taskvisor.spec")

local M = {}

local SUPERVISOR_KEYS = { "grace", "max_concurrent", "bus_capacity", "defaults", "seed",
  "controller", "intensity", "on_exhausted", "max_instructions", "keep_outcomes", "auto_shutdown" }
local KEEP_OUTCOMES = { 10000, 1 << 24 } -- default, max (outcomes.h)
local MAX_INSTRUCTIONS = S.MAX_INSTRUCTIONS
local POLICY_KEYS = S.POLICY_KEYS
local CONTROLLER_KEYS = { "max_slot_queue" }
local SUBSCRIBER_KEYS = { "name", "on_event", "queue" }
local MAX_QUEUE = 1 << 24
M.MAX_QUEUE = MAX_QUEUE
local check = V.check
local policy_fields, any_spec, resolve, core_task = S.policy_fields, S.any_spec, S.resolve, S.core_task

-- ---- supervisors given tasks that never ran (the host warns on exit) -------
-- A script that builds a supervisor and forgets sup:run() exits having run
-- nothing. Each such supervisor has a record here until it runs; a record
-- holds no reference to its supervisor (it may be collected: still unrun).
local unran, nunran = {}, 0 -- record -> true; records made so far (their order)
local live, MAX_LIVE = 0, 100 -- records kept; past MAX_LIVE only counted (a program
local untold = 0             -- making supervisors it never runs, over and over)
local MAX_NAMES = 3          -- names shown in the warning

--- Notes that `self` was given the task `name` before running (cheap once
--- it ran: sup:add and sup:submit call it every time).
local function note_task(self, name)
  local r = self.unran
  if r == false then return end -- it ran
  if not r then
    nunran = nunran + 1
    r = { n = 0, names = {}, order = nunran }
    self.unran = r
    if live < MAX_LIVE then
      unran[r], live = true, live + 1
    else
      r.untold, untold = true, untold + 1 -- (counted, not listed)
    end
  end
  r.n = r.n + 1
  if #r.names < MAX_NAMES then
    for _, n in ipairs(r.names) do if n == name then return end end
    r.names[#r.names + 1] = name
  end
end
M.note_task = note_task

-- It runs now: no warning about it.
local function note_ran(self)
  local r = self.unran
  if r and r.untold then
    untold = untold - 1
  elseif r then
    unran[r], live = nil, live - 1
  end
  self.unran, self.refused = false, {}
end

--- discard(sup): it will not run (taskvisor check built it to validate a
--- config): no "never ran" warning about it.
M.discard = function(self) note_ran(self) end

-- A refused add, remembered until the run starts (sup:run's check of
-- `after` leaves such names out: the refusal was reported already).
local function note_refused(self, name)
  if self.unran ~= false then self.refused[name] = true end
end

-- sup:run refused its batch before starting: the warning says why.
local function note_refused_run(self, names, err)
  for _, name in ipairs(names) do note_task(self, name) end
  if self.unran then self.unran.run_error = err end
end

--- The host's warnings on exit: one line per supervisor that was given tasks
--- and never ran, oldest first.
function M.unran()
  local list = {}
  for r in pairs(unran) do list[#list + 1] = r end
  table.sort(list, function(a, b) return a.order < b.order end)
  for i, r in ipairs(list) do
    local names = table.concat(r.names, ", ") .. (r.n > #r.names and ", ..." or "")
    local what = string.format("a supervisor with %d task%s (%s) never ran", r.n,
      r.n == 1 and "" or "s", names)
    if r.run_error then
      list[i] = string.format("%s: sup:run() returned nil, %q before starting anything; "
        .. "check its result: assert(sup:run(...))", what, r.run_error)
    else
      list[i] = what .. ": nothing was started; call sup:run() at the end of the script"
    end
  end
  if untold > 0 then
    list[#list + 1] = string.format("and %d more supervisors with tasks never ran", untold)
  end
  return list
end

-- Publishes TaskAddFailed for each spec of a refused sup:run batch (none of
-- them was added) and returns the refusal.
local function refuse_batch(self, c, batch, err)
  local names = {}
  for i, item in ipairs(batch) do
    names[i] = item[1].name
    note_refused(self, names[i])
    c:_add_failed(names[i], err)
  end
  note_refused_run(self, names, err)
  return nil, err
end

-- An `after` that names no task can only be told once the whole set is
-- known: at sup:run, for the top-level tasks registered and those of its
-- batch, which start at once. Names whose add was refused are left out (that
-- was reported: TaskAddFailed). A group's children are added as it brings
-- them up, so tasks added while it runs may still come: theirs are checked
-- then (as a task added while running is): the dependent ends, ActorDead.
-- nil, or the error naming the first such dependency.
local function missing_after(self, c, tops, nodes, where)
  local known = {}
  for _, n in ipairs(nodes) do known[n.name] = true end
  local refused = self.refused
  local function absent(d) return not known[d] and not refused[d] and not c:contains(d) end
  for _, n in ipairs(tops) do
    for _, d in ipairs(n.after or {}) do
      if absent(d) then
        return string.format("%s: task '%s' starts after '%s', which is not a task of this "
          .. "supervisor ('after' names tasks added before sup:run or in its batch)", where, n.name, d)
      end
    end
  end
  -- (only when a task with `after` was added before: listing every task
  -- costs time and memory in a large config that has none)
  for _, name in ipairs(self.added_after and c:list() or {}) do
    for _, w in ipairs(c:waits(name) or {}) do
      if not w[3] and not w[2] and absent(w[1]) then
        return string.format("%s: task '%s' starts after '%s', which is not a task of this "
          .. "supervisor ('after' names tasks added before sup:run or in its batch)", where, name, w[1])
      end
    end
  end
  return nil
end

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
function M.new(opts)
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
  budget.auto_shutdown = check(L.auto_shutdown("tv.supervisor", opts.auto_shutdown)) -- OTP's (lsup.c)
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
    controller = max_slot_queue ~= nil, refused = {} }, Supervisor)
end

--- sup:add(spec): registers and starts a task. true, or nil + "EEXIST: ..." /
--- "ESHUTDOWN: ...". A raw table is validated like tv.task.
function Supervisor:add(spec)
  local c = self_check(self, "add")
  spec = check(any_spec("sup:add", spec))
  local policy = check(resolve("sup:add", spec, self.defaults))
  local task, err = core_task(spec, self.defaults)
  if not task then
    c:_add_failed(spec.name, err) -- (the core publishes its own refusals)
    note_refused(self, spec.name)
    return nil, err
  end
  local ok
  ok, err = c:add(spec.name, task, policy, (spec.add_opts or (spec.add_opts == nil and L.add_opts(spec)) or nil))
  if ok then note_task(self, spec.name) else note_refused(self, spec.name) end
  if ok and spec.after and #spec.after > 0 then self.added_after = true end
  return ok, err
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

--- sup:status(name): that task's state as supervisord names it, with the time
--- it entered it: { name =, kind =, group =, state = "STARTING" | "RUNNING" |
--- "BACKOFF" | "STOPPING" | "STOPPED" | "EXITED" | "FATAL", since = (seconds,
--- like an event's at), attempt =, restarts =, pid =, uptime =, ready =,
--- operator_stopped =, next_retry_at =, last_exit = { failed =, code =, signal =,
--- reason =, at = }, failures = { exit_code =, signal =, timeout =, error = },
--- registered = }; a task that has ended answers from its
--- outcome (registered = false). nil + "ENOENT: ..." for a name never seen.
--- sup:status(): every registered task's, sorted by name.
function Supervisor:status(name)
  local c = self_check(self, "status")
  if name == nil then return c:status() end
  return c:status(name_arg("status", name))
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

-- Adds a run's (or a start's) batch of specs: all or none (a duplicate name
-- adds nothing). true, or nil + err (reported as TaskAddFailed); raises at
-- the caller of sup:run / sup:start for bad specs. `where`: "sup:run", ...
local function add_batch(self, c, where, specs)
  -- levels: error's caller, add_batch, sup:run / sup:start, their caller
  local function need(v, err) if v == nil then error(err, 4) end return v end
  if specs ~= nil then
    need(V.list(where, "specs", specs, "task specs"))
    local batch, seen, taken = {}, {}, nil
    for i, s in ipairs(specs) do
      local spec = need(any_spec(string.format("%s: specs[%d]", where, i), s))
      local policy = need(resolve(where, spec, self.defaults))
      if not taken and (seen[spec.name] or c:contains(spec.name)) then taken = spec.name end
      seen[spec.name] = true
      batch[i] = { spec, policy }
    end
    if taken then -- (after checking them all: each refused one is told)
      return refuse_batch(self, c, batch, string.format("EEXIST: task '%s' already exists; no "
        .. "task of this batch was added", taken))
    end
    local specs_only = {}
    for i, item in ipairs(batch) do specs_only[i] = item[1] end
    local nodes = G.expand(specs_only)
    local cyc = L.cycle(where, nodes) -- through group trees too
    if cyc then error(cyc, 3) end
    cyc = L.cross_cycle(nodes, function(n, as_child) return c:waits(n, as_child) end)
    if cyc then
      return refuse_batch(self, c, batch, string.format("EINVAL: 'after' would make a cycle: %s "
        .. "(none of them could start); no task of this batch was added", cyc))
    end
    local missing = missing_after(self, c, specs_only, nodes, where)
    if missing then error(missing, 3) end
    for _, item in ipairs(batch) do -- every task object first: all or none
      local task, err = core_task(item[1], self.defaults)
      if not task then return refuse_batch(self, c, batch, err .. "; no task of this batch was added") end
      item[3] = task
    end
    for _, item in ipairs(batch) do
      local ok, err = c:add(item[1].name, item[3], item[2], (item[1].add_opts or (item[1].add_opts == nil and L.add_opts(item[1])) or nil))
      if not ok then return nil, err end
    end
  else
    local missing = missing_after(self, c, {}, {}, where)
    if missing then error(missing, 3) end
  end
  note_ran(self)
  return true
end
M.add_batch = add_batch

--- sup:run([specs]): adds `specs` (all or none: a duplicate name adds nothing),
--- then runs the loop until every task has ended, or until SIGINT / SIGTERM /
--- SIGQUIT or sup:shutdown(). true, or nil, "GraceExceeded: ...", stuck_names.
function Supervisor:run(specs)
  local c = self_check(self, "run")
  local runnable, why, never = c:runnable() -- refuse before adding anything
  if never then error(why, 2) end -- (called where it never can run)
  if not runnable then return nil, why end
  local added, err = add_batch(self, c, "sup:run", specs)
  if not added then return nil, err end
  -- The host's hook (taskvisor run SCRIPT: the control API for this run): a
  -- function called once the run ends, or nil.
  local finish = M.run_hook and M.run_hook(self)
  local ok, msg, stuck = c:run()
  if finish then finish() end
  -- (as sup:outcomes; a host short of memory still gets the run's verdict,
  -- with no outcomes, rather than an error after everything stopped)
  local got, outcomes = pcall(c.outcomes, c)
  if not got then outcomes = {} end
  if ok then return true, outcomes end
  return nil, msg, stuck or {}, outcomes
end

Supervisor.__tostring = function(self) return tostring(self.core) end

M.Supervisor, M.self_check, M.name_arg = Supervisor, self_check, name_arg

return M
