-- taskvisor.lifecycle: validation of what a spec says about its life beyond
-- one attempt: restart budgets (intensity, on_exhausted, reset_after),
-- schedules (every), policy functions (restart, backoff), lifecycle hooks,
-- start order (after) and readiness (ready). Errors name the field.
local V = require("taskvisor.validate")
local Cal = require("taskvisor.calendar")

local M = {}

M.HOOKS = { "setup", "on_restart", "on_error", "cleanup", "on_shutdown" }
M.KEYS = { "intensity", "on_exhausted", "reset_after", "every", "calendar", "after", "ready", "concurrency",
  "setup", "on_restart", "on_error", "cleanup", "on_shutdown", "shutdown", "significant", "watchdog" }
M.MAX_AFTER = 64 -- the binding's bound
local MAX_RESTARTS = 100000 -- the core's ring bound (TV_BUDGET_MAX)
local INTENSITY_KEYS = { "max_restarts", "within" }
local EXHAUST = { "give_up", "escalate" }

--- intensity = { max_restarts = n, within = seconds } -> fields into out.
--- max_restarts = 0 allows no restart (OTP's intensity 0: the first one
--- exhausts the budget); math.huge is the explicit "no limit" (out.max_restarts
--- = false: it overrides a supervisor's defaults, and the core gets no budget).
function M.intensity(where, v, out)
  if type(v) ~= "table" then
    return V.bad(where, "intensity", "a table { max_restarts = n, within = seconds }", v)
  end
  local ok, err = V.known_keys(where, "intensity.", v, INTENSITY_KEYS)
  if not ok then return nil, err end
  local unlimited = v.max_restarts == math.huge
  if v.max_restarts ~= nil and not unlimited then
    out.max_restarts, err = M.max_restarts(where, v.max_restarts)
    if not out.max_restarts then return nil, err end
  end
  if v.within ~= nil then
    out.within, err = V.seconds(where, "intensity.within", v.within, false)
    if not out.within then return nil, err end
  end
  if unlimited then
    out.max_restarts, out.within = false, nil
    return out
  end
  if v.max_restarts == nil or v.within == nil then
    return nil, string.format("%s: 'intensity' needs both max_restarts and within (got %s)",
      where, v.max_restarts == nil and "no max_restarts" or "no within")
  end
  return out
end

--- intensity.max_restarts: an integer 0..100000 (0 = no restart allowed).
function M.max_restarts(where, v)
  if v ~= math.huge and (math.type(v) == "float" or math.type(v) == "integer") then
    local n = math.tointeger(v)
    if n and n >= 0 and n <= MAX_RESTARTS then return n end
  end
  return V.bad(where, "intensity.max_restarts", string.format("an integer 0..%d (0: no restart "
    .. "allowed, as in OTP) or math.huge (no limit)", MAX_RESTARTS), v)
end

--- on_exhausted = "give_up" | "escalate" | { cooldown = seconds } -> fields into out.
function M.on_exhausted(where, v, out)
  if type(v) == "table" then
    local ok, err = V.known_keys(where, "on_exhausted.", v, { "cooldown" })
    if not ok then return nil, err end
    out.cooldown, err = V.seconds(where, "on_exhausted.cooldown", v.cooldown, false)
    if not out.cooldown then return nil, err end
    out.on_exhausted = "cooldown"
    return out
  end
  if v ~= "give_up" and v ~= "escalate" then
    return V.bad(where, "on_exhausted", "\"give_up\", \"escalate\" or { cooldown = seconds }", v)
  end
  out.on_exhausted = v
  return out
end

--- The budget fields (intensity, on_exhausted) of src into out.
function M.budget(where, src, out)
  local ok, err
  if src.intensity ~= nil then
    ok, err = M.intensity(where, src.intensity, out)
    if not ok then return nil, err end
  end
  if src.on_exhausted ~= nil then
    if src.intensity == nil then
      return nil, string.format("%s: 'on_exhausted' needs an 'intensity' budget to exhaust", where)
    end
    ok, err = M.on_exhausted(where, src.on_exhausted, out)
    if not ok then return nil, err end
  end
  return out
end

local function names_list(where, field, v, max)
  if type(v) ~= "table" then return V.bad(where, field, "a list of task names", v) end
  local out, seen = {}, {}
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then
      return nil, string.format("%s: '%s' must be a list of task names (it has key %s)", where,
        field, V.show(k))
    end
  end
  if #v > max then
    return nil, string.format("%s: '%s' may name at most %d tasks (got %d)", where, field, max, #v)
  end
  for i = 1, #v do -- a hole would end ipairs early and drop the names after it
    if v[i] == nil then
      return nil, string.format("%s: '%s' must be a list of task names (nothing at [%d])", where, field, i)
    end
  end
  for i, n in ipairs(v) do
    local name, err = V.name(where, string.format("%s[%d]", field, i), n)
    if not name then return nil, err end
    if seen[name] then
      return nil, string.format("%s: '%s' names '%s' twice", where, field, name)
    end
    seen[name] = true
    out[i] = name
  end
  return out
end

--- The lifecycle fields of a task or process spec (src) into spec.
--- `lua_task`: ready may be "started" or "notify" (process specs validate
--- their own `ready` forms). `group`: its intensity is its children's budget,
--- which group.lua reads (with defaults).
function M.fields(where, src, spec, lua_task, group)
  local ok, err
  if not group then
    ok, err = M.budget(where, src, spec)
    if not ok then return nil, err end
  end
  if src.reset_after ~= nil then
    spec.reset_after, err = V.seconds(where, "reset_after", src.reset_after, false)
    if not spec.reset_after then return nil, err end
  end
  if src.every ~= nil then
    spec.every, err = V.seconds(where, "every", src.every, false)
    if not spec.every then return nil, err end
    if src.interval ~= nil then
      return nil, string.format("%s: 'every' and 'interval' cannot both be set ('every' runs on "
        .. "a fixed schedule; 'interval' pauses after each success)", where)
    end
    if src.restart ~= nil and src.restart ~= "always" then
      return nil, string.format("%s: 'every' needs restart = \"always\" (the default with "
        .. "'every'; got %s)", where, V.show(src.restart))
    end
  end
  if src.calendar ~= nil then
    -- cron's "*/5 * * * *" or systemd's OnCalendar "Mon..Fri 09:00" (local
    -- time, or UTC with a trailing " UTC"): the first run at the first match
    local cal
    cal, err = Cal.parse(src.calendar)
    if not cal then return nil, string.format("%s: 'calendar': %s", where, err) end
    for _, other in ipairs({ "every", "interval" }) do
      if src[other] ~= nil then
        return nil, string.format("%s: 'calendar' and '%s' cannot both be set (the calendar "
          .. "says when each run starts)", where, other)
      end
    end
    if src.restart ~= nil and src.restart ~= "always" then
      return nil, string.format("%s: 'calendar' needs restart = \"always\" (the default with "
        .. "'calendar'; got %s)", where, V.show(src.restart))
    end
    spec.calendar = src.calendar
    spec.calendar_next = function(now) -- seconds from `now` (the clock's wall time) to the next run
      local t = cal:next_after(now)
      if not t then error(string.format("calendar '%s' has no run time in the next 10 years", src.calendar), 0) end
      return t - now
    end
  end
  if src.after ~= nil then
    spec.after, err = names_list(where, "after", src.after, M.MAX_AFTER)
    if not spec.after then return nil, err end
    for _, n in ipairs(spec.after) do
      if n == spec.name then
        return nil, string.format("%s: 'after' names the task itself ('%s')", where, n)
      end
    end
  end
  ok, err = M.otp_fields(where, src, spec)
  if not ok then return nil, err end
  if lua_task and src.ready ~= nil then
    spec.ready, err = V.one_of(where, "ready", src.ready, { "started", "notify", "completed" })
    if not spec.ready then return nil, err end
  end
  if src.watchdog ~= nil then
    -- systemd's WatchdogSec: a sign of life (ctx:alive(), sd_notify
    -- WATCHDOG=1) at least this often, or the attempt fails
    spec.watchdog, err = V.seconds(where, "watchdog", src.watchdog, false)
    if not spec.watchdog then return nil, err end
    if spec.watchdog < 0.01 or spec.watchdog > 86400 then
      return V.bad(where, "watchdog", "seconds from 0.01 to 86400", src.watchdog)
    end
  end
  if src.concurrency ~= nil then
    -- "exempt": never waits for one of the supervisor's max_concurrent permits
    -- (a submitter or a watchdog must not take a worker's place)
    spec.concurrency, err = V.one_of(where, "concurrency", src.concurrency, { "limited", "exempt" })
    if not spec.concurrency then return nil, err end
  end
  for _, h in ipairs(M.HOOKS) do
    if src[h] ~= nil then
      if not V.callable(src[h]) then return V.bad(where, h, "a function or a callable", src[h]) end
      spec[h] = src[h]
      spec.has_hooks = true
    end
  end
  return spec
end

local SHUTDOWN_EXPECTED = '"brutal_kill", "infinity" or a number of seconds > 0'

--- OTP's child spec fields: shutdown = "brutal_kill" | seconds | "infinity"
--- (how long a stop may take before the task is force-stopped, within the
--- supervisor's grace), significant = true (its own end may end its group or
--- the supervisor: their auto_shutdown). OTP refuses a significant permanent
--- child; so do we (restart "always", a schedule or a restart function).
function M.otp_fields(where, src, spec)
  local v = src.shutdown
  if v ~= nil then
    if v ~= "brutal_kill" and v ~= "infinity" then
      if type(v) ~= "number" then return V.bad(where, "shutdown", SHUTDOWN_EXPECTED, v) end
      local secs = V.seconds(where, "shutdown", v, false)
      if not secs then return V.bad(where, "shutdown", SHUTDOWN_EXPECTED, v) end
    end
    spec.shutdown = v
  end
  v = src.significant
  if v ~= nil then
    if type(v) ~= "boolean" then return V.bad(where, "significant", "a boolean", v) end
    if v and (spec.restart == "always" or spec.every or spec.restart_fn) then
      return nil, string.format("%s: 'significant' needs restart = \"never\" or \"on_failure\" "
        .. "(OTP's temporary or transient; a permanent child never ends by itself; got %s)", where,
        spec.restart_fn and "a restart function" or spec.every and "'every'" or '"always"')
    end
    spec.significant = v or nil
  end
  return spec
end

local AUTO_SHUTDOWN = { "never", "any_significant", "all_significant" }

--- auto_shutdown = "never" | "any_significant" | "all_significant" (OTP's,
--- on a group or the supervisor): the name, or nil + error.
function M.auto_shutdown(where, v)
  if v == nil then return "never" end
  return V.one_of(where, "auto_shutdown", v, AUTO_SHUTDOWN)
end

--- The seconds the core's policy takes for `shutdown` (0: brutal_kill), or
--- nil (infinity: only the grace bounds it).
function M.shutdown_secs(v)
  if v == "brutal_kill" then return 0 end
  if type(v) == "number" then return v end
  return nil
end

--- What the binding keeps next to the task object: hooks and policy
--- functions, or nil when the spec has none.
function M.extras(spec)
  local x
  for _, h in ipairs(M.HOOKS) do
    if spec[h] then x = x or {}; x[h] = spec[h] end
  end
  if spec.restart_fn then x = x or {}; x.restart = spec.restart_fn end
  if spec.backoff_fn then x = x or {}; x.backoff = spec.backoff_fn end
  if spec.calendar_next then x = x or {}; x.schedule = spec.calendar_next end
  return x
end

--- The options core add takes besides the policy.
function M.add_opts(spec)
  local fns = spec.restart_fn ~= nil or spec.backoff_fn ~= nil or spec.calendar_next ~= nil
  local exempt = spec.concurrency == "exempt" or nil
  if not (spec.after or spec.has_hooks or spec.explicit_ready or fns or exempt or spec.watchdog) then return nil end
  return { after = spec.after, hooks = spec.has_hooks, explicit_ready = spec.explicit_ready,
    completed_ready = spec.ready == "completed" or nil, decide = fns or nil, exempt = exempt,
    calendar = spec.calendar_next ~= nil or nil, watchdog = spec.watchdog }
end

--- A cycle's names joined by " -> ": a long one shows its first and last ten.
function M.show_cycle(names)
  if #names <= 21 then return table.concat(names, " -> ") end
  return string.format("%s -> ... (%d more) -> %s", table.concat(names, " -> ", 1, 10), #names - 20,
    table.concat(names, " -> ", #names - 9))
end

--- Cycles among `after` in one batch: nil, or an error naming the cycle.
function M.cycle(where, specs)
  local after_of = {}
  for _, s in ipairs(specs) do after_of[s.name] = s.after end
  -- depth-first, iterative (a batch may be one chain of any length): `path`
  -- holds the open names, `next_dep[i]` the next dependency of path[i] to try
  local state, path, next_dep = {}, {}, {}
  for _, s in ipairs(specs) do
    if not state[s.name] then
      state[s.name] = "open"
      path[1], next_dep[1] = s.name, 1
      while #path > 0 do
        local top = #path
        local deps = after_of[path[top]]
        local d = deps and deps[next_dep[top]]
        if d == nil then -- every dependency of path[top] is done
          state[path[top]] = "done"
          path[top], next_dep[top] = nil, nil
        else
          next_dep[top] = next_dep[top] + 1
          if state[d] == "open" then
            local from
            for i = top, 1, -1 do if path[i] == d then from = i; break end end
            local cyc = table.move(path, from, top, 1, {})
            cyc[#cyc + 1] = d
            return string.format("%s: 'after' makes a cycle: %s (none of them could start)", where,
              M.show_cycle(cyc))
          elseif state[d] == nil and after_of[d] ~= nil then -- a batch member not visited yet
            state[d] = "open"
            path[top + 1], next_dep[top + 1] = d, 1
          end
        end
      end
    end
  end
  return nil
end

--- A cycle the batch `specs` (as M.cycle takes them, with no cycle among themselves) would
--- close through the tasks already registered: `waits(name, as_child)` says what a registered
--- task waits for (the core's sup:waits). nil, or the cycle "a -> x -> b -> a". The core
--- refuses such an add too, but only at the add that closes the cycle: checking first keeps
--- sup:run all or none. Iterative (a registered chain may be as long as the registry).
function M.cross_cycle(specs, waits)
  local after_of, outside = {}, false
  for _, s in ipairs(specs) do after_of[s.name] = s.after or {} end
  for _, s in ipairs(specs) do
    for _, d in ipairs(s.after or {}) do
      if after_of[d] == nil then outside = true end
    end
  end
  if not outside then return nil end -- every path stays in the batch, which has no cycle
  local edges, state = {}, {} -- state: 1 on the current path, 2 done
  local function edges_of(n, as_child)
    if after_of[n] then
      local out = edges[n]
      if not out then
        out = {}
        for i, d in ipairs(after_of[n]) do out[i] = { d } end
        edges[n] = out
      end
      return out
    end
    if edges[n] == nil then edges[n] = waits(n, as_child) or false end
    return edges[n] or nil
  end
  for _, root in ipairs(specs) do
    if not state[root.name] then
      state[root.name] = 1
      local stack = { { name = root.name, edges = edges_of(root.name), i = 0 } }
      while #stack > 0 do
        local top = stack[#stack]
        top.i = top.i + 1
        local e = top.edges[top.i]
        if not e then
          state[top.name] = 2
          stack[#stack] = nil
        elseif state[e[1]] == 1 then
          local k = #stack
          while stack[k].name ~= e[1] do k = k - 1 end
          local parts = { stack[k].name }
          local function step(via, name)
            if via then parts[#parts + 1] = via end
            parts[#parts + 1] = name
          end
          for j = k + 1, #stack do step(stack[j].via, stack[j].name) end
          step(e[2], e[1])
          return M.show_cycle(parts)
        elseif state[e[1]] == nil then
          local out = edges_of(e[1], e[3])
          if out then
            state[e[1]] = 1
            stack[#stack + 1] = { name = e[1], edges = out, i = 0, via = e[2] }
          end
        end
      end
    end
  end
  return nil
end

return M
