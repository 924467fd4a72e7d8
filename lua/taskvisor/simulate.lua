-- taskvisor.simulate: runs a declarative config in virtual time
-- (`taskvisor simulate`, tv.testing). Lua tasks run for real, but every wait
-- (ctx:sleep, timeouts, backoff, intervals, budget windows, readiness
-- timeouts, grace) is on the virtual clock, which jumps to the next deadline
-- whenever nothing is runnable. Process tasks are not spawned: a trace says
-- how each attempt goes (simulate_trace.lua).
local core = require("taskvisor.core")
local tv = require("taskvisor")
local C = require("taskvisor.config")
local Pre = require("taskvisor.preflight")
local T = require("taskvisor.simulate_trace")
local R = require("taskvisor.simulate_report")

local M = {}

local DEFAULT_FOR = 86400
local EXEC_ERROR = "ctx:exec: not available in a simulation (taskvisor simulate and tv.testing spawn no "
  .. "processes; make it a process task and describe its attempts in the trace)"

-- Every task name of the config (group children too) -> its kind.
local function task_kinds(specs, out)
  for _, s in ipairs(specs) do
    if type(s) == "table" and type(s.name) == "string" then
      local kind = s.children and "group" or s.cmd and "process" or "Lua task"
      out[s.name] = kind
      if s.children then task_kinds(s.children, out) end
    end
  end
  return out
end
M.task_kinds = task_kinds

-- `for` in seconds: a number, or "90s" / "30m" / "24h" / "2d".
local UNITS = { s = 1, m = 60, h = 3600, d = 86400 }
function M.duration(v, field)
  local n, u
  if type(v) == "number" then
    n, u = v, "s"
  elseif type(v) == "string" then
    local num, unit = v:match("^(%d+%.?%d*)([smhd]?)$")
    n, u = tonumber(num), unit ~= "" and unit or "s"
  end
  if not n or n ~= n or n <= 0 or n * UNITS[u] > 1e8 then
    return nil, string.format("%s must be a positive duration such as 3600, \"90s\", \"30m\", \"24h\" or \"7d\" (got %s)",
      field, type(v) == "string" and string.format("%q", v) or tostring(v))
  end
  return n * UNITS[u]
end

-- The process kind, preflight and ctx:exec swapped for the simulation's
-- (restored by the returned function): each process task is a simulated
-- process playing its trace (no coroutine, no Lua per attempt: a Lua task
-- standing in for it was most of a simulation's time after event delivery).
local function patch(trace, abort)
  local saved = { process = core.process, program = Pre.program, exec = core.ctx_methods.exec }
  core.process = function(popts)
    return core.sim_process(popts, function(name) return T.plan(trace, name, core.signum) end, abort)
  end
  Pre.program = function() return true end
  core.ctx_methods.exec = function() error(EXEC_ERROR, 2) end
  return function()
    core.process, Pre.program, core.ctx_methods.exec = saved.process, saved.program, saved.exec
  end
end

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

--- run(cfg, opts): simulates cfg (a tv.config). opts: for_ (seconds or
--- "24h", default 24 h), seed (integer, default 1), trace (a table; see
--- simulate_trace), trace_file / trace_src (to name lines in errors),
--- on_event(ev, ms) (each event as it happens: a table reused for later
--- events unless keep_events; copy what you keep), keep_events (collect them),
--- setup(sup) (called with the built supervisor before it runs: to submit to
--- its controller, or add tasks that need the supervisor),
--- columns (timeline resolution, 0 for none). Returns { seed, duration_ms,
--- events, summary, acc }; raises on bad input.
function M.run(cfg, opts)
  opts = opts or {}
  if not C.is_config(cfg) then
    error("simulate: expected a config made by tv.config{...} (got " .. type(cfg) .. ")", 2)
  end
  local secs, err = M.duration(opts.for_ == nil and DEFAULT_FOR or opts.for_, "simulate: 'for'")
  if not secs then error(err, 2) end
  local seed = opts.seed == nil and 1 or opts.seed
  if math.type(seed) ~= "integer" then error("simulate: 'seed' must be an integer (got " .. tostring(seed) .. ")", 2) end
  local trace = T.check(opts.trace, task_kinds(cfg.tasks, {}), { file = opts.trace_file, src = opts.trace_src },
    core.signum)
  if core.clock_kind() == "virtual" then error("simulate: a simulation is already running", 2) end
  local duration = math.floor(secs * 1000 + 0.5)
  local acc = core.sim_acc(duration, opts.columns or 0) -- (src/lua/lsimacc.c)
  local events = opts.keep_events and {} or nil
  local on_event = opts.on_event
  local sup_opts = copy(cfg.supervisor)
  sup_opts.seed = seed
  -- The config's own log writers would print the same events a second
  -- time, without the virtual time: they are left out; other subscribers stay.
  -- (seq is process-wide: renumbered from 1, a simulation reads the same
  -- wherever it runs, after other supervisors or other simulations)
  -- (our subscriber's events are accounted in C as it takes them, then
  -- handed over as plain tables made in C: a copy of each read-only event
  -- made here, field by field, was half of a simulation's time, and the
  -- accounting in Lua most of the rest; unless they are kept, one table per
  -- set of fields, reused: a table per event to make and collect was next)
  local base
  local floor = math.floor
  local function observe(ev)
    base = base or ev.seq - 1
    ev.seq = ev.seq - base
    if events then events[#events + 1] = ev end
    if on_event then on_event(ev, floor(ev.at * 1000 + 0.5)) end
  end
  if not (events or on_event) then observe = function() end end -- (nothing to hand: no tables made)
  -- Ours subscribes first (it sees the tasks' add events, as a config's
  -- subscribers do), through the core: without an instruction budget, whose
  -- count hook was most of a simulation's cost (ours cannot run away).
  local function new_supervisor(o)
    local sup = tv.supervisor(o)
    assert(sup.core:_sim_subscribe("simulate", observe, 1 << 16, events and "tables" or "scratch", acc))
    return sup
  end
  local subs = {}
  for _, s in ipairs(cfg.subscribers) do
    if not (type(s) == "table" and s.name == "log_writer") then subs[#subs + 1] = s end
  end
  local sim_cfg = setmetatable({ supervisor = sup_opts, tasks = cfg.tasks, control = cfg.control, subscribers = subs },
    getmetatable(cfg))
  -- (the host's exit status follows the last real run, not a simulation's)
  local reg = debug.getregistry()
  local status = reg["taskvisor.grace_exceeded"]
  core.clock_virtual(0)
  math.randomseed(seed)
  local result, bad_trace, running
  -- A trace function's bad result ends the simulation with that error.
  local restore = patch(trace, function(msg)
    bad_trace = bad_trace or msg
    if running then running:shutdown() end
  end)
  local ok, e = pcall(function()
    local sup, errs, partial = C.build(sim_cfg, new_supervisor)
    if not sup then
      if partial then require("taskvisor.supervisor").discard(partial) end
      error("simulate: the config does not build:\n  " .. table.concat(errs, "\n  "), 0)
    end
    running = sup
    if opts.setup then opts.setup(sup) end
    local h = sup.core:_shutdown_at(secs)
    local rok, msg = sup:run()
    h:cancel()
    result = rok and "ok" or tostring(msg)
  end)
  restore()
  reg["taskvisor.grace_exceeded"] = status
  local _, now = core.clock_kind()
  core.clock_real()
  if not ok then error(e, 0) end
  if bad_trace then error(bad_trace, 0) end
  acc:finish()
  local rows = acc:result()
  local t_end = rows.now
  return { seed = seed, duration_ms = duration, events = events, acc = rows,
    summary = R.finish(rows, t_end, result), ended_ms = t_end, clock_end = now }
end

return M
