-- taskvisor.reload: live reload of a declarative config, task by task, the
-- way s6-rc-update diffs a service set (rather than supervisord's
-- reread + update per group): added tasks start, removed ones stop, a task
-- whose identity changed restarts, a task whose policy alone changed takes
-- the new policy where it runs, everything else is untouched (same PIDs).
-- An invalid new config changes nothing. Operator-stopped tasks stay stopped.
--
-- The seam the control server calls:
--   apply(host_state, { dry_run = bool }) -> plan
--                                          | nil, "ECONFIG: ...", errors
--                                          | nil, "ERELOAD: cannot be reloaded: ..."
--                                          | nil, "EBUSY: ..." (a reload still restarting)
--                                          | nil, "ESHUTDOWN: ..." (shutting down)
--   host_state = {
--     sup    = the running tv.supervisor, built from `config` (config.build),
--     path   = the config file, loaded again by each apply (config.load),
--     config = the tv.config{...} it runs now; apply replaces it,
--     args   = (optional) the config's own arguments, its `...`,
--     script = (optional) why it cannot be reloaded: the file is a script
--              that runs its own supervisor (config.load's "script" case;
--              M.script_reason(path) words it),
--   }
--   plan = { dry_run = bool, add, remove, restart, update, unchanged =
--   {names, in config order}, why = { name = "cmd changed", ... },
--   notes = {strings}, errors = {adds refused while applying} }
--   errors: "file:line: message" strings.
-- A task's operator_stopped (the API's task field) is sup:stopped(name) == true.
-- apply also keeps host_state.pending: restarted tasks not gone yet.
--
-- What is compared, field by field, on the validated specs:
-- - policy (-> update, live): restart, interval, backoff, timeout,
--   max_retries, reset_after, every, intensity / on_exhausted of a task (its
--   own budget). A group's intensity is its children's budget, made into the
--   group: identity.
-- - everything else is identity (-> restart): the kind; a process's cmd, env,
--   cwd, stdin/stdout/stderr, stop signal and timeout, exit codes, ready; a
--   Lua task's run function, hooks, restart/backoff functions; after; slot;
--   a group's strategy, budget and children (names, order, each child).
-- - functions: equal when string.dump(fn, true) with its line numbers cut
--   out (moving a function to other lines changes nothing) is equal and so are
--   their upvalues: plain values by value, functions by this same rule,
--   tables without a metatable by their contents (bounded), anything else
--   (userdata, tables with metatables) only when it is the very same value.
--   So a function that reads a table the config file builds afresh compares
--   by that table's contents; one that holds a coroutine or a file handle
--   made by the file restarts on every reload.
-- A group's child that changed in identity is made afresh by its running
-- group (group.h tv_group_remake_child), with what the group's strategy
-- restarts with it: one_for_one alone, one_for_all every sibling,
-- rest_for_one the later ones; the group itself runs on, no budget charged.
-- The whole group restarts when its own identity changed, when its children
-- were added, removed or reordered, when two of them changed, or when a
-- child's `after` changed (its start order). A child whose policy alone
-- changed is updated where it runs, and the group makes it with the new
-- policy from then on. plan.restart names the remade children.
-- Not reloaded: the supervisor's options, subscribers, control (notes say
-- so when they changed: restart the host for those).
-- Requires validate, spec, group, preflight, config.
local V = require("taskvisor.validate")
local S = require("taskvisor.spec")
local G = require("taskvisor.group")
local Pre = require("taskvisor.preflight")
local C = require("taskvisor.config")

local M = {}

local SKIP = { name = true, policy_ud = true, add_opts = true }
local POLICY = { restart = true, interval = true, backoff = true, timeout = true,
  max_retries = true, reset_after = true, every = true, max_restarts = true, within = true,
  on_exhausted = true, cooldown = true }
local GROUP_IDENTITY = { intensity = true, on_exhausted = true, cooldown = true,
  max_restarts = true, within = true }
local MAX_NODES = 100000 -- values compared per pair of specs, before "changed"

-- ---- equality ------------------------------------------------------------------

local equal

-- string.dump(fn, true) keeps each function's first and last line (in the
-- header of it and of every nested function): the dump without them, read
-- as Lua 5.4 writes it (ldump.c), so that a function moved to other lines
-- compares equal. On anything unexpected, the dump as it is.
local HEADER = 31 -- signature 4, version, format, LUAC_DATA 6, 3 sizes, LUAC_INT 8, LUAC_NUM 8
local function without_lines(d)
  local pos, cut = HEADER + 2, {} -- (+ the main function's upvalue count)
  local function varint()
    local x = 0
    repeat
      local b = d:byte(pos)
      if not b then error("short dump") end
      pos = pos + 1
      x = x * 128 + (b & 0x7f)
    until b & 0x80 ~= 0
    return x
  end
  local function str() local n = varint() pos = pos + (n > 0 and n - 1 or 0) end
  local function fn()
    str() -- source (none when stripped)
    local from = pos
    varint() varint() -- linedefined, lastlinedefined: cut out
    cut[#cut + 1] = { from, pos - 1 }
    pos = pos + 3 -- numparams, is_vararg, maxstacksize
    local n = varint() -- (read before pos is: varint moves it)
    pos = pos + 4 * n -- code
    for _ = 1, varint() do -- constants
      local t = d:byte(pos) & 0x0f
      pos = pos + 1
      if t == 3 then pos = pos + 8 elseif t == 4 then str() elseif t > 1 then error("constant") end
    end
    n = varint()
    pos = pos + 3 * n -- upvalues
    for _ = 1, varint() do fn() end -- nested functions
    n = varint()
    pos = pos + n -- line info
    for _ = 1, varint() do varint() varint() end -- absolute line info
    for _ = 1, varint() do str() varint() varint() end -- locals
    for _ = 1, varint() do str() end -- upvalue names
  end
  if not pcall(fn) or pos ~= #d + 1 then return d end
  local out, at = {}, 1
  for _, c in ipairs(cut) do
    out[#out + 1] = d:sub(at, c[1] - 1)
    at = c[2] + 1
  end
  out[#out + 1] = d:sub(at)
  return table.concat(out)
end

local function fn_equal(f, g, st)
  local okf, df = pcall(string.dump, f, true)
  local okg, dg = pcall(string.dump, g, true)
  if okf and okg and df ~= dg then df, dg = without_lines(df), without_lines(dg) end
  if not okf or not okg or df ~= dg then return false end -- (a C function: only itself)
  for i = 1, 255 do
    local nf, vf = debug.getupvalue(f, i)
    local ng, vg = debug.getupvalue(g, i)
    if nf == nil and ng == nil then return true end
    if nf ~= ng or not equal(vf, vg, st) then return false end
  end
  return true
end

local function table_equal(a, b, st)
  for k, v in pairs(a) do
    if b[k] == nil or not equal(v, b[k], st) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- st: { n = values compared, seen = {[a] = b} pairs assumed equal (cycles) }
function equal(a, b, st)
  if rawequal(a, b) then return true end
  local ta = type(a)
  if ta ~= type(b) then return false end
  st.n = st.n + 1
  if st.n > MAX_NODES then return false end
  if ta ~= "function" and ta ~= "table" then return false end
  if st.seen[a] == b then return true end
  st.seen[a] = b
  if ta == "function" then return fn_equal(a, b, st) end
  local ma, mb = getmetatable(a), getmetatable(b)
  -- specs' read-only tables (their metatables hide the fields) compare by
  -- their contents; other tables with a metatable only as the same value
  if (ma ~= nil and ma ~= false) or (mb ~= nil and mb ~= false) then return false end
  return table_equal(a, b, st)
end

local function new_state() return { n = 0, seen = {} } end

--- equal(a, b): the comparison above, for specs' field values (exported for specs).
function M.equal(a, b) return equal(a, b, new_state()) end

-- ---- comparing specs -------------------------------------------------------------

local function kind_of(f)
  if G.is(f) then return "group" end
  if f.run ~= nil then return "task" end
  return "process"
end

-- The fields of `o` and `n` (validated) that differ: identity ones, policy ones.
local function changed_fields(o, n, group)
  local ident, policy, keys = {}, {}, {}
  for k in pairs(o) do keys[k] = true end
  for k in pairs(n) do keys[k] = true end
  local list = {}
  for k in pairs(keys) do list[#list + 1] = k end
  table.sort(list)
  for _, k in ipairs(list) do
    if not SKIP[k] and not (group and k == "children") and not equal(o[k], n[k], new_state()) then
      if POLICY[k] and not (group and GROUP_IDENTITY[k]) then
        policy[#policy + 1] = k
      else
        ident[#ident + 1] = k
      end
    end
  end
  return ident, policy
end

-- Compares the validated fields of one task in the old and new config:
-- "same", "update" or "restart", why, and the identity fields that changed.
-- What it needs besides into `updates`: { name, fields, changed } policy
-- swaps, children's too; { remake = true, name, group, old, new, index, why }
-- a group's child made afresh (one per group at most; the group's strategy
-- restarts its siblings with it).
local function compare(o, n, updates)
  local ko, kn = kind_of(o), kind_of(n)
  if ko ~= kn then return "restart", string.format("kind changed (%s -> %s)", ko, kn), { "kind" } end
  local group = ko == "group"
  local ident, policy = changed_fields(o, n, group)
  if #ident > 0 then return "restart", table.concat(ident, ", ") .. " changed", ident end
  local mine = {}
  if #policy > 0 then mine[1] = { name = n.name, fields = n, changed = policy } end
  if group then
    local oc, nc = G.children(o), G.children(n)
    if #oc ~= #nc then return "restart", "children changed", { "children" } end
    local remade
    for i = 1, #nc do
      if oc[i].name ~= nc[i].name then return "restart", "children changed", { "children" } end
      local sub = {}
      local class, why, fields = compare(oc[i], nc[i], sub)
      local after = false
      for _, f in ipairs(fields or {}) do after = after or f == "after" end
      if class == "restart" and (remade or after) then -- (the group's start order changes)
        return "restart", string.format("child '%s': %s", nc[i].name, why), { "children" }
      elseif class == "restart" then
        remade = { remake = true, name = nc[i].name, group = n.name, old = o, new = n, index = i, why = why }
      else
        table.move(sub, 1, #sub, #mine + 1, mine)
      end
    end
    if remade then mine[#mine + 1] = remade end
  end
  if #mine == 0 then return "same" end
  table.move(mine, 1, #mine, #updates + 1, updates)
  return "update"
end

local function fields_of(spec) return S.spec_fields[spec] or select(1, S.any_spec("reload", spec)) end

--- plan(running, old_cfg, new_cfg): the difference, by name: { add, remove,
--- restart, update, unchanged, why, updates, notes }. running(name): whether a
--- task of that name is registered now (nil: assume so). Specs must be valid
--- (apply checks the new config first).
function M.plan(running, old_cfg, new_cfg)
  local p = { add = {}, remove = {}, restart = {}, update = {}, unchanged = {}, why = {},
    updates = {}, notes = {}, tops = {} }
  local old_by, new_by, old_spec = {}, {}, {}
  for _, s in ipairs(old_cfg.tasks) do
    local f = fields_of(s)
    if f then old_by[f.name], old_spec[f.name] = f, s end
  end
  for _, s in ipairs(new_cfg.tasks) do
    local n = fields_of(s)
    new_by[n.name] = n
    local o = old_by[n.name]
    if not o then
      p.add[#p.add + 1] = n.name
    else
      local ups = {}
      local class, why = compare(o, n, ups)
      if class == "restart" then
        p.restart[#p.restart + 1] = n.name
        p.tops[#p.tops + 1] = n.name -- (top-level: replaced; a group's child is remade)
        p.why[n.name] = why
      elseif class == "update" then
        for _, u in ipairs(ups) do
          u.top, u.old_top, u.old_spec = n, o, old_spec[n.name]
          p.updates[#p.updates + 1] = u
          if u.remake then
            p.restart[#p.restart + 1] = u.name
            p.why[u.name] = u.why
          else
            p.update[#p.update + 1] = u.name
            p.why[u.name] = table.concat(u.changed, ", ") .. " changed"
          end
        end
      else
        p.unchanged[#p.unchanged + 1] = n.name
      end
    end
  end
  for _, s in ipairs(old_cfg.tasks) do
    local f = fields_of(s)
    if f and not new_by[f.name] then p.remove[#p.remove + 1] = f.name end
  end
  for _, k in ipairs({ "supervisor", "subscribers", "control" }) do
    if not equal(old_cfg[k], new_cfg[k], new_state()) then
      p.notes[#p.notes + 1] = string.format("'%s' changed: it is not reloaded (restart the host "
        .. "to apply it)", k)
    end
  end
  p.running = running
  return p
end

-- ---- checking the new config ------------------------------------------------------

-- Every error of `cfg` that can be found without adding anything (apply must
-- not start the tasks of a throwaway supervisor on the running loop): each
-- spec's fields, its policy under the supervisor's defaults, each process's
-- program, names unique across groups, 'after' naming tasks of the config and
-- making no cycle. Plain tables become made specs (as config.build does).
local function check_config(cfg, defaults)
  local errs, names, nodes = {}, {}, {}
  local function programs(f, at)
    if f.process then
      local ok, e = Pre.program(f.process)
      if not ok then errs[#errs + 1] = at .. e end
    end
    for _, c in ipairs(G.children(f) or {}) do programs(c, at) end
  end
  local function claim(f, at)
    if names[f.name] then
      errs[#errs + 1] = string.format("%sname '%s' is used twice (names are unique, across groups too)",
        at, f.name)
    end
    names[f.name] = true
    for _, c in ipairs(G.children(f) or {}) do claim(c, at) end
  end
  local made = {}
  for i, s in ipairs(cfg.tasks) do
    local at = string.format("%s: tasks[%d]%s: ", C.where(cfg, i), i,
      type(s.name) == "string" and " (" .. s.name .. ")" or "")
    local spec, e = S.made(s)
    if not spec then
      errs[#errs + 1] = at .. tostring(e):gsub("^sup:add: ", "")
    else
      cfg.tasks[i] = spec
      local f = S.spec_fields[spec]
      local ok
      ok, e = S.resolve("reload", f, defaults)
      if not ok then errs[#errs + 1] = at .. e end
      programs(f, at)
      claim(f, at)
      made[#made + 1] = f
    end
  end
  if #errs == 0 then
    for i, s in ipairs(cfg.tasks) do
      for _, d in ipairs(S.spec_fields[s].after or {}) do
        if not names[d] then
          errs[#errs + 1] = string.format("%s: tasks[%d] (%s): 'after' names '%s', which is no task "
            .. "of this config", C.where(cfg, i), i, s.name, d)
        end
      end
    end
    nodes = G.expand(made)
    local cyc = require("taskvisor.lifecycle").cycle(cfg.at or "reload", nodes)
    if cyc then errs[#errs + 1] = cyc end
  end
  return errs
end

-- ---- applying ----------------------------------------------------------------------

local function contains(sup, name) return sup.core:contains(name) end

-- Adds `spec`; stopped again at once (before it starts: no attempt runs) when
-- the task of that name was operator-stopped.
local function add(host, spec, stopped, errs)
  local sup = host.sup
  local ok, err = sup:add(spec)
  if not ok then
    errs[#errs + 1] = string.format("task '%s': %s", spec.name, err)
    io.stderr:write(string.format("taskvisor: reload: task '%s' not added: %s\n", spec.name, err))
    return
  end
  if stopped then sup.core:_op_stop(spec.name) end
end

local function apply_plan(host, p, new_cfg)
  local sup, c = host.sup, host.sup.core
  local d = sup.defaults
  local spec_by = {}
  for _, s in ipairs(new_cfg.tasks) do spec_by[S.spec_fields[s].name] = s end
  for _, name in ipairs(p.remove) do
    if contains(sup, name) then sup:remove(name) end
  end
  -- policies in place (a group tree's made children take them too), and
  -- children remade; a group changed in place stays the running one in the
  -- recorded config (its tree now says what the new one says)
  local adopted, errs = {}, {}
  for _, u in ipairs(p.updates) do
    if G.is(u.top) and not adopted[u.top] then
      adopted[u.top] = true
      assert(S.resolve("reload", u.top, d)) -- (resolves its tree under d)
      G.adopt(u.old_top, u.top)
      for i, s in ipairs(new_cfg.tasks) do
        if S.spec_fields[s] == u.top then new_cfg.tasks[i] = u.old_spec end
      end
    end
    if u.remake then
      G.replace_child(u.old, u.new, u.index)
      if contains(sup, u.group) then
        local keep = contains(sup, u.name) and c:_op_state(u.name) ~= 0
        local ok, err = c:_remake_child(u.group, u.index, keep)
        if not ok then errs[#errs + 1] = string.format("task '%s': %s", u.name, err) end
      end
    else
      local policy = assert(S.resolve("reload", u.fields, d))
      if contains(sup, u.name) then c:_op_update(u.name, policy) end
    end
  end
  -- restarts: each old task gone first, then the new ones are added with the
  -- added tasks, in config order (so that `after` finds them all)
  local later, stopped = {}, {}
  for _, name in ipairs(p.tops) do later[name] = true end
  for _, name in ipairs(p.add) do later[name] = true end
  local function add_all()
    for _, s in ipairs(new_cfg.tasks) do
      local name = S.spec_fields[s].name
      if later[name] then add(host, s, stopped[name], errs) end
    end
  end
  local waiting = 0
  for _, name in ipairs(p.tops) do
    if contains(sup, name) then
      stopped[name] = c:_op_state(name) ~= 0 -- (operator-stopped: stays stopped)
      waiting = waiting + 1
    end
  end
  host.pending = waiting
  p.errors = errs
  if waiting == 0 then add_all() return end
  for _, name in ipairs(p.tops) do
    if contains(sup, name) then
      c:_when_gone(name, function()
        host.pending = host.pending - 1
        if host.pending == 0 then add_all() end
      end)
      sup:remove(name)
    end
  end
end

-- The plan as the API shows it (the five lists, why, notes).
local function public(p)
  return { add = p.add, remove = p.remove, restart = p.restart, update = p.update,
    unchanged = p.unchanged, why = p.why, notes = p.notes, errors = p.errors }
end

--- script_reason(path): host_state.script for a file that ran its own
--- supervisor (sup:run) instead of returning tv.config{...}.
function M.script_reason(path)
  return string.format("%s runs its own supervisor (it calls sup:run() instead of returning "
    .. "tv.config{...}): only a declarative config can be diffed; restart the host to change it", path)
end

--- apply(host_state, { dry_run = bool }): see the top of this file.
function M.apply(host, opts)
  if type(host) ~= "table" or type(host.sup) ~= "table" then
    error("reload.apply: expected host_state { sup =, path =, config = } (got " .. V.show(host) .. ")", 2)
  end
  opts = opts or {}
  if host.script then return nil, "ERELOAD: cannot be reloaded: " .. host.script end
  if not host.config or not host.path then
    return nil, "ERELOAD: cannot be reloaded: the host runs no declarative config (no tv.config{...} "
      .. "was loaded from a file)"
  end
  local state = host.sup:state()
  if state ~= "open" and state ~= "draining" then
    return nil, "ESHUTDOWN: the supervisor is " .. state .. "; nothing was changed"
  end
  if (host.pending or 0) > 0 then
    return nil, string.format("EBUSY: the previous reload is still restarting %d task%s", host.pending,
      host.pending == 1 and "" or "s")
  end
  local new_cfg, err, kind = C.load(host.path, table.unpack(host.args or {}))
  if not new_cfg then
    if kind == "script" then
      return nil, "ERELOAD: cannot be reloaded: " .. err
    end
    return nil, "ECONFIG: the new config is invalid; nothing was changed", { err }
  end
  local errs = check_config(new_cfg, host.sup.defaults)
  if #errs > 0 then
    return nil, string.format("ECONFIG: the new config has %d error%s; nothing was changed", #errs,
      #errs == 1 and "" or "s"), errs
  end
  local sup = host.sup
  local p = M.plan(function(name) return contains(sup, name) end, host.config, new_cfg)
  -- a new name already registered by something else than the config (a
  -- task added at run time) would be refused when added: say it now
  for _, name in ipairs(p.add) do
    if contains(sup, name) then
      local i = 1
      while S.spec_fields[new_cfg.tasks[i]].name ~= name do i = i + 1 end
      errs[#errs + 1] = string.format("%s: tasks[%d] (%s): a task of that name is already running "
        .. "(not one of the config's: added at run time)", C.where(new_cfg, i), i, name)
    end
  end
  if #errs > 0 then
    return nil, string.format("ECONFIG: the new config has %d error%s; nothing was changed", #errs,
      #errs == 1 and "" or "s"), errs
  end
  local shown = public(p)
  shown.dry_run = opts.dry_run and true or false
  if opts.dry_run then return shown end
  apply_plan(host, p, new_cfg)
  host.config = new_cfg
  shown.errors = p.errors
  return shown
end

return M
