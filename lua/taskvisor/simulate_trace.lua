-- taskvisor.simulate_trace: what a simulation's process tasks do instead of
-- running: the trace (per task name, a list of attempt outcomes or a
-- function(attempt) returning one) checked against the config, and the plan
-- each task's stand-in (core.sim_process, src/lua/lsimproc.c) plays in
-- virtual time, in the words the real process task uses ("exited with code
-- 3", "killed by signal SIGKILL", "not ready within 5s (ready = "notify")").
-- Errors name the trace's file and line (found in its text) and the field.
local M = {}

local ENTRY_KEYS = { run = true, exit = true, signal = true, never_ready = true, ready_after = true,
  ignore_term = true }
local ENTRY_HELP = "{ run = s, exit = code } | { run = s, signal = \"KILL\" } | { never_ready = true }"
  .. " | { ignore_term = s } (run absent: runs until stopped)"

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return type(v) == "table" and "a table" or type(v) == "function" and "a function" or tostring(v)
end

-- The trace file's line where task `name` is given (`name = ...` or
-- `["name"] = ...`), or nil.
local function line_of(src, name)
  if not src then return nil end
  local n = 0
  for l in (src .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local plain = l:find("%f[%w_]" .. name:gsub("%W", "%%%0") .. "%s*=") 
    local quoted = l:find('%[%s*["\']' .. name:gsub("%W", "%%%0") .. '["\']%s*%]%s*=')
    if plain or quoted then return n end
  end
  return nil
end

-- where: { file = "trace.lua" or nil, src = its text or nil }.
local function at(where, name, line)
  local file = where.file or "trace"
  line = line or line_of(where.src, name)
  return line and string.format("%s:%d: ", file, line) or file .. ": "
end

local function seconds(v) return math.type(v) ~= nil and v == v and v >= 0 and v < 1e9 end

--- One attempt outcome, checked: the entry, or nil and the problem (naming
--- `field`, e.g. "web[2]").
function M.entry(e, field, signum)
  if type(e) ~= "table" then
    return nil, string.format("%s must be an attempt outcome %s (got %s)", field, ENTRY_HELP, show(e))
  end
  local keys = {}
  for k in pairs(e) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not ENTRY_KEYS[k] then
      return nil, string.format("%s: unknown field '%s' (known: exit, ignore_term, never_ready, ready_after, run, signal)",
        field, k)
    end
  end
  for _, k in ipairs({ "run", "ready_after", "ignore_term" }) do
    if e[k] ~= nil and not seconds(e[k]) then
      return nil, string.format("%s.%s must be a number of seconds >= 0 (got %s)", field, k, show(e[k]))
    end
  end
  if e.exit ~= nil and (math.type(e.exit) ~= "integer" or e.exit < 0 or e.exit > 255) then
    return nil, string.format("%s.exit must be an exit code, an integer 0..255 (got %s)", field, show(e.exit))
  end
  if e.never_ready ~= nil and type(e.never_ready) ~= "boolean" then
    return nil, string.format("%s.never_ready must be a boolean (got %s)", field, show(e.never_ready))
  end
  local out = { run = e.run, exit = e.exit, never_ready = e.never_ready or nil, ready_after = e.ready_after,
    ignore_term = e.ignore_term }
  if e.signal ~= nil then
    local name = type(e.signal) == "string" and e.signal:upper():gsub("^SIG", "") or nil
    local ok, num = pcall(signum, name)
    if not name or not ok or not num then
      return nil, string.format("%s.signal must be a signal name such as \"KILL\" or \"SEGV\" (got %s)", field,
        show(e.signal))
    end
    out.signal = "SIG" .. name
  end
  if out.exit and out.signal then
    return nil, string.format("%s: give exit or signal, not both", field)
  end
  if (out.exit or out.signal) and not out.run then
    return nil, string.format("%s: exit and signal need run = seconds (how long the attempt runs first)", field)
  end
  return out
end

--- check(trace, tasks, where, signum): the trace as { name = list | fn },
--- each list entry checked; tasks maps every task name of the config to
--- "process" or another kind. Raises naming the line and field.
function M.check(trace, tasks, where, signum)
  if trace == nil then return {} end
  if type(trace) ~= "table" then
    error(string.format("%sthe trace must be a table { task_name = { outcomes... } | function(attempt) } (got %s)",
      at(where, ""), show(trace)), 0)
  end
  local names = {}
  for k in pairs(trace) do
    if type(k) ~= "string" then
      error(string.format("%strace keys must be task names (strings) (got %s)", at(where, ""), show(k)), 0)
    end
    names[#names + 1] = k
  end
  table.sort(names)
  local out = {}
  for _, name in ipairs(names) do
    local v = trace[name]
    local kind = tasks[name]
    if not kind then
      local known = {}
      for n, k in pairs(tasks) do if k == "process" then known[#known + 1] = n end end
      table.sort(known)
      error(string.format("%strace names task '%s', which is not a task of the config (process tasks: %s)",
        at(where, name), name, #known > 0 and table.concat(known, ", ") or "none"), 0)
    end
    if kind ~= "process" then
      error(string.format("%strace names task '%s', a %s: only process tasks are traced (a Lua task's run function runs for real)",
        at(where, name), name, kind), 0)
    end
    if type(v) == "function" then
      local info = debug.getinfo(v, "S")
      out[name] = { fn = v, line = info and info.linedefined }
    elseif type(v) == "table" then
      local list = v
      if v[1] == nil and next(v) ~= nil then list = { v } end -- one outcome: every attempt
      if #list == 0 then
        error(string.format("%s%s must list at least one attempt outcome %s", at(where, name), name, ENTRY_HELP), 0)
      end
      local entries = {}
      for i, e in ipairs(list) do
        local ok, err = M.entry(e, list == v and string.format("%s[%d]", name, i) or name, signum)
        if not ok then error(at(where, name) .. err, 0) end
        entries[i] = ok
      end
      out[name] = { list = entries }
    else
      error(string.format("%s%s must be a list of attempt outcomes or a function(attempt) (got %s)",
        at(where, name), name, show(v)), 0)
    end
  end
  out[1] = where
  return out
end

--- The outcome of attempt n of task name (lists repeat their last entry;
--- untraced tasks run until stopped). Raises for a bad function result.
function M.outcome(trace, name, n, signum)
  local t = trace[name]
  if not t then return {} end
  if t.list then return t.list[math.min(n, #t.list)] end
  local ok, res = pcall(t.fn, n)
  local where = trace[1] or {}
  if not ok then
    error(string.format("%s%s: the trace function raised for attempt %d: %s", at(where, name, t.line), name, n,
      tostring(res)), 0)
  end
  if res == nil then return {} end
  local e, err = M.entry(res, string.format("%s(%d)", name, n), signum)
  if not e then error(at(where, name, t.line) .. "the trace function returned: " .. err, 0) end
  return e
end

--- plan(trace, name, signum): what core.sim_process (src/lua/lsimproc.c)
--- plays for task `name`: its list of outcomes, a function(attempt) giving
--- each (raising for a bad result), or nil (untraced: runs until stopped).
function M.plan(trace, name, signum)
  local t = trace[name]
  if not t then return nil end
  if t.list then return t.list end
  return function(n) return M.outcome(trace, name, n, signum) end
end

return M
