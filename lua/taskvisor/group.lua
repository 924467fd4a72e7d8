-- taskvisor.group: tv.group{...} supervision groups: validation of group specs
-- (children are task, process or group specs), the policies of a group tree
-- under a supervisor's defaults, and the factory the C group calls for each
-- child of each attempt. init.lua hands over spec.lua's helpers with G.bind
-- (group cannot require spec: spec requires group).
local V = require("taskvisor.validate")
local L = require("taskvisor.lifecycle")

local G = {}

local STRATEGIES = { "one_for_one", "one_for_all", "rest_for_one" }
local KEYS = { "name", "slot", "strategy", "children", "intensity", "on_exhausted", "restart", "interval", "after",
  "backoff", "timeout", "max_retries", "shutdown", "significant", "auto_shutdown", "template" }
local INTENSITY_KEYS = { "max_restarts", "within" }
-- Elixir's defaults (OTP's are 1 in 5 s: one flaky child would fail the group).
local DEFAULT_INTENSITY = { max_restarts = 3, within = 5 }

local I          -- init.lua's helpers
local inner = setmetatable({}, { __mode = "k" })    -- group fields -> { strategy, children, budget }
local resolved = setmetatable({}, { __mode = "k" }) -- group fields -> the last resolved tree
-- core group object -> its run-time children: { g, tree, fields, dyn = { [slot] = entry },
-- index_of = { name -> slot }, name_at = { slot -> name }, count (template instances made) }
local instances = setmetatable({}, { __mode = "k" })

--- Takes init.lua's helpers and adds tv.group to `tv`.
function G.bind(tv, helpers)
  I = helpers
  --- tv.group{ name=, strategy="one_for_one", children={specs...},
  --- intensity={max_restarts=3, within=5}, on_exhausted="escalate", + the
  --- policy fields of tv.task }: a validated group spec (itself a task spec).
  function tv.group(opts)
    local made = I.spec_fields[opts]
    if made and G.is(made) then return opts end -- already one
    if made then error("tv.group: expected a group spec table, got a task or process spec", 2) end
    local fields, err = G.spec("tv.group", opts)
    if not fields then error(err, 2) end
    local spec = I.freeze(fields, "taskvisor.group")
    return spec
  end
end

--- Whether validated fields are a group's.
function G.is(fields) return inner[fields] ~= nil end

--- Whether a plain table is meant as a group spec.
function G.plain(opts)
  return type(opts) == "table" and getmetatable(opts) == nil and opts.children ~= nil
    and opts.run == nil and opts.cmd == nil
end

local function budget(where, opts)
  local b = { max = DEFAULT_INTENSITY.max_restarts, within = DEFAULT_INTENSITY.within,
    action = "escalate" }
  local v, err
  if opts.intensity ~= nil then
    v, err = V.table(where, "intensity", opts.intensity)
    if v then v, err = V.known_keys(where, "intensity.", opts.intensity, INTENSITY_KEYS) end
    if not v then return nil, err end
    local i = opts.intensity
    if i.max_restarts == math.huge then
      b.max = false -- no limit (what max_restarts = 0 meant before issue 19)
    elseif i.max_restarts ~= nil then
      b.max, err = L.max_restarts(where, i.max_restarts) -- 0: no restart allowed (OTP)
      if not b.max then return nil, err end
    end
    if i.within ~= nil then
      b.within, err = V.seconds(where, "intensity.within", i.within)
      if not b.within then return nil, err end
    end
  end
  local ex = opts.on_exhausted
  if type(ex) == "table" then
    v, err = V.known_keys(where, "on_exhausted.", ex, { "cooldown" })
    if v then v, err = V.seconds(where, "on_exhausted.cooldown", ex.cooldown) end
    if not v then return nil, err end
    b.action, b.cooldown = "cooldown", v
  elseif ex ~= nil and ex ~= "escalate" and ex ~= "give_up" then
    return V.bad(where, "on_exhausted", '"escalate", "give_up" or { cooldown = seconds }', ex)
  elseif ex ~= nil then
    b.action = ex
  end
  return b
end

-- Every name in a group tree, each once.
local function claim(where, names, name, field)
  if names[name] then
    return nil, string.format("%s: duplicate task name '%s' (%s); names are unique within a "
      .. "supervisor, across nested groups too", where, name, field)
  end
  names[name] = true
  return true
end

--- The validated fields of a group spec, or nil + error.
function G.spec(where, opts)
  local fields, err = I.spec_common(where, "group", opts, KEYS)
  if not fields then return nil, err end
  -- a group's attempt is decided by the core group, which never asks Lua
  if fields.restart_fn then
    return V.bad(where, "restart", 'one of "never", "on_failure", "always" (a group takes no '
      .. "restart function)", opts.restart)
  end
  if fields.backoff_fn then
    return V.bad(where, "backoff", "a table { first, max, factor, jitter } (a group takes no "
      .. "backoff function)", opts.backoff)
  end
  local v, b
  fields.strategy = "one_for_one"
  if opts.template ~= nil then
    v, err = G.template(where, fields.name, opts)
    if not v then return nil, err end
    fields.strategy, fields.template = "simple_one_for_one", opts.template
  elseif opts.strategy ~= nil then
    fields.strategy, err = V.one_of(where, "strategy", opts.strategy, STRATEGIES)
    if not fields.strategy then
      if opts.strategy == "simple_one_for_one" then
        return nil, string.format("%s: 'strategy' \"simple_one_for_one\" needs a 'template' (the spec, "
          .. "or a function(args, n) -> spec, its instances are made from)", where)
      end
      return nil, err
    end
  end
  b, err = budget(where, opts)
  if not b then return nil, err end
  fields.auto_shutdown, err = L.auto_shutdown(where, opts.auto_shutdown)
  if not fields.auto_shutdown then return nil, err end
  local list = opts.children
  if fields.template then
    list = {} -- sup:start_child makes them
  elseif type(list) ~= "table" or #list == 0 then
    return V.bad(where, "children", "a non-empty list of task, process or group specs (or a 'template')", list)
  end
  for k in pairs(list) do
    if math.type(k) ~= "integer" or k < 1 or k > #list then
      return nil, string.format("%s: 'children' must be a list (it has the key %s)", where,
        V.show(k))
    end
  end
  for i = 1, #list do -- a hole would end ipairs early and drop the children after it
    if list[i] == nil then
      return nil, string.format("%s: 'children' must be a list (nothing at [%d])", where, i)
    end
  end
  local kids, names, shown = {}, { [fields.name] = true }, {}
  -- deps: each name an 'after' in the tree names -> where; nodes: the tree for cycle checks
  local deps, nodes = {}, { { name = fields.name, after = {} } }
  for _, n in ipairs(fields.after or {}) do table.insert(nodes[1].after, n) end
  for i, c in ipairs(list) do
    local field = string.format("children[%d]", i)
    local kf
    kf, err = I.any_spec(string.format("%s: %s", where, field), c)
    if not kf then return nil, err end
    v, err = claim(where, names, kf.name, field .. ".name")
    if not v then return nil, err end
    for n in pairs(inner[kf] and inner[kf].names or {}) do
      v, err = claim(where, names, n, field .. " (a nested group)")
      if not v then return nil, err end
    end
    for _, n in ipairs(kf.after or {}) do deps[n] = deps[n] or field .. ".after" end
    for n, path in pairs(inner[kf] and inner[kf].deps or {}) do deps[n] = deps[n] or field .. "." .. path end
    table.insert(nodes[1].after, kf.name) -- a group is ready once all its children are
    local sub = inner[kf] and inner[kf].nodes or { kf }
    table.move(sub, 1, #sub, #nodes + 1, nodes)
    if kf.significant and fields.auto_shutdown == "never" then
      return nil, string.format("%s: %s ('%s') is significant but the group's auto_shutdown is \"never\" "
        .. "(OTP refuses such a child: set auto_shutdown = \"any_significant\" or \"all_significant\")",
        where, field, kf.name)
    end
    kids[i] = kf
    shown[i] = I.spec_fields[c] and c or I.read_only(kf, "a group's child spec")
  end
  if deps[fields.name] then
    return nil, string.format("%s: '%s' names its own group '%s' (a group is ready only once all its "
      .. "children are: it would wait forever)", where, deps[fields.name], fields.name)
  end
  for _, n in ipairs(fields.after or {}) do
    if names[n] then
      return nil, string.format("%s: 'after' names '%s', a task of this group (the group starts it, "
        .. "so it cannot wait for it)", where, n)
    end
  end
  -- what each child's tree starts after outside this group: { child, via, name }, for the
  -- core's cycle check at sup:add (the children are added only as the group starts them)
  local waits = {}
  for i, kf in ipairs(kids) do
    for _, n in ipairs(kf.after or {}) do
      if not names[n] then waits[#waits + 1] = { i, kf.name, n } end
    end
    for _, w in ipairs(inner[kf] and inner[kf].waits or {}) do
      if not names[w[3]] then waits[#waits + 1] = { i, kf.name .. " -> " .. w[2], w[3] } end
    end
  end
  names[fields.name] = nil
  fields.children = I.read_only(shown, "a group spec's children")
  fields.intensity = I.read_only({ max_restarts = b.max or math.huge, within = b.within },
    "a group spec's intensity")
  fields.on_exhausted = b.action == "cooldown" and I.read_only({ cooldown = b.cooldown },
    "a group spec's on_exhausted") or b.action
  inner[fields] = { strategy = fields.strategy, children = kids, budget = b, names = names,
    deps = deps, nodes = nodes, waits = waits, template = fields.template }
  return fields
end

--- A template group's own checks (OTP's simple_one_for_one): template is a
--- function(args, n) -> spec, or a plain table of task/process options
--- without a name (instances are named "<group>/<n>"); no children; no
--- auto_shutdown (OTP refuses it there too).
function G.template(where, gname, opts)
  local t = opts.template
  if opts.strategy ~= nil and opts.strategy ~= "simple_one_for_one" then
    return nil, string.format("%s: a 'template' group's strategy is \"simple_one_for_one\" (got %s)", where,
      V.show(opts.strategy))
  end
  if opts.children ~= nil then
    return nil, string.format("%s: 'children' and 'template' cannot both be set (sup:start_child makes a "
      .. "template group's children)", where)
  end
  if opts.auto_shutdown ~= nil and opts.auto_shutdown ~= "never" then
    return nil, string.format("%s: 'auto_shutdown' does not apply to a template group (OTP refuses it "
      .. "for simple_one_for_one)", where)
  end
  if V.callable(t) then return true end
  if type(t) ~= "table" or getmetatable(t) ~= nil then
    return V.bad(where, "template", "a function(args, n) -> spec, or a plain table of task or process "
      .. "options without 'name'", t)
  end
  if t.name ~= nil then
    return nil, string.format("%s: 'template.name' must be left out (instances are named '%s/1', '%s/2', ...)",
      where, gname, gname)
  end
  local kf, err = G.instance_spec(where .. ": template", gname, t, 1)
  if not kf then return nil, err end
  return true
end

-- The validated spec of a template table's instance `n`.
function G.instance_spec(where, gname, t, n)
  local copy = {}
  for k, v in pairs(t) do copy[k] = v end
  copy.name = gname .. "/" .. n
  local kf, err = I.any_spec(where, copy)
  if kf and kf.significant then
    return nil, string.format("%s: 'significant' does not apply to a template's instances (a template "
      .. "group has no auto_shutdown)", where)
  end
  return kf, err
end

--- `specs` with each group replaced by the nodes of its tree ({ name, after }; a group's
--- after also names its children), for L.cycle over a batch.
function G.expand(specs)
  local out = {}
  for _, s in ipairs(specs) do
    if inner[s] then
      table.move(inner[s].nodes, 1, #inner[s].nodes, #out + 1, out)
    else
      out[#out + 1] = s
    end
  end
  return out
end

--- The group's own policy (restart default "on_failure", whatever the
--- supervisor's defaults say) and, remembered for G.core_task, its
--- children's under the supervisor's defaults `d`.
function G.resolve(where, fields, d)
  local own = {}
  for _, k in ipairs({ "name", "interval", "backoff", "timeout", "max_retries", "shutdown", "significant" }) do
    own[k] = fields[k]
  end
  own.restart = fields.restart or "on_failure"
  local policy, err = I.resolve(where, own, d)
  if not policy then return nil, err end
  local tree = { policies = {}, nodes = {}, defaults = d }
  for i, c in ipairs(inner[fields].children) do
    local p
    if G.is(c) then
      p, err = G.resolve(where, c, d)
      tree.nodes[i] = resolved[c]
    else
      p, err = I.resolve(where, c, d)
    end
    if not p then return nil, err end
    tree.policies[i] = p
  end
  resolved[fields] = tree
  return policy
end

local function make(fields, tree)
  local g = inner[fields]
  local inst = { g = g, tree = tree, fields = fields, dyn = {}, index_of = {}, name_at = {}, count = 0 }
  for i, c in ipairs(g.children) do inst.index_of[c.name], inst.name_at[i] = i, c.name end
  local function factory(i)
    local e = inst.dyn[i]
    if inst.pending and not g.children[i] then -- the child sup:add_child is adding now
      e, inst.pending = inst.pending, nil
      inst.dyn[i] = e
    end
    local c = e and e.spec or g.children[i]
    if not c then return nil, "no child " .. i end
    local task, err
    if G.is(c) then
      task, err = make(c, e and e.tree or tree.nodes[i])
    else
      task, err = I.core_task(c, tree.defaults)
    end
    if not task then return nil, err end
    return task, c.name, e and e.policy or tree.policies[i], I.add_opts(c)
  end
  local b = g.budget
  local sig = {}
  for i, c in ipairs(g.children) do sig[i] = c.significant or false end
  local ud = I.core.group(g.strategy == "simple_one_for_one" and "one_for_one" or g.strategy, #g.children,
    factory, b.max or nil, b.within, b.action, b.cooldown, g.waits, fields.auto_shutdown, sig,
    g.template ~= nil)
  instances[ud] = inst
  return ud
end

-- ---- children added at run time (OTP's start_child / delete_child) --------------

-- The run-time state of the group `gname` in the supervisor core `c`, or nil, err.
local function running(c, gname)
  local ud = c:group(gname)
  local inst = ud and instances[ud]
  if inst then return ud, inst end
  if c:contains(gname) then return nil, string.format("ENOTSUP: '%s' is not a group", gname) end
  return nil, string.format("ENOENT: no group named '%s'", gname)
end

-- Adds the validated spec kf (defaults d) to the group: kf.name, or nil, err.
local function add(c, ud, inst, where, kf, d)
  for n in pairs(inner[kf] and inner[kf].names or {}) do
    if c:contains(n) or inst.index_of[n] then
      return nil, string.format("EEXIST: a task named '%s' (in group '%s') already exists", n, kf.name)
    end
  end
  if c:contains(kf.name) or inst.index_of[kf.name] then
    return nil, string.format("EEXIST: task '%s' already exists", kf.name)
  end
  if kf.significant and inst.fields.auto_shutdown == "never" then
    return nil, string.format("ENOTSUP: task '%s' is significant but group '%s''s auto_shutdown is \"never\"",
      kf.name, inst.fields.name)
  end
  local policy, err
  if G.is(kf) then policy, err = G.resolve(where, kf, d) else policy, err = I.resolve(where, kf, d) end
  if not policy then error(err, 4) end
  local e = { spec = kf, policy = policy, tree = G.is(kf) and resolved[kf] or nil }
  inst.pending = e
  local index
  index, err = ud:add_child(kf.significant or false)
  inst.pending = nil
  if not index then return nil, err end
  local old = inst.name_at[index] -- a template group's reused slot
  if old then inst.index_of[old] = nil end
  inst.dyn[index], inst.index_of[kf.name], inst.name_at[index] = e, index, kf.name
  return kf.name
end

--- sup:add_child(group, spec): spec becomes the group's last child (see README).
function G.add_child(c, d, where, gname, spec)
  local ud, inst = running(c, gname)
  if not ud then return nil, inst end
  if inst.g.template then
    return nil, string.format("ENOTSUP: group '%s' makes its children from its template (sup:start_child)", gname)
  end
  local kf, err = I.any_spec(where, spec)
  if not kf then error(err, 3) end
  local name
  name, err = add(c, ud, inst, where, kf, d)
  if not name then return nil, err end
  return true
end

--- sup:start_child(group [, args]): a template group's new instance: its name, or nil, err.
function G.start_child(c, d, where, gname, args)
  local ud, inst = running(c, gname)
  if not ud then return nil, inst end
  local t = inst.g.template
  if not t then
    return nil, string.format("ENOTSUP: group '%s' has no template (sup:add_child adds a spec)", gname)
  end
  local n = inst.count + 1
  inst.count = n
  local kf, err
  if V.callable(t) then
    local spec = t(args, n)
    if type(spec) == "table" and getmetatable(spec) == nil and spec.name == nil then
      kf, err = G.instance_spec(where, gname, spec, n)
    else
      kf, err = I.any_spec(where, spec)
      if kf and kf.significant then
        err, kf = string.format("%s: 'significant' does not apply to a template's instances", where), nil
      end
    end
  else
    if args ~= nil then
      error(string.format("%s: a template table takes no args (make the template a function(args, n) "
        .. "-> spec)", where), 3)
    end
    kf, err = G.instance_spec(where, gname, t, n)
  end
  if not kf then error(err, 3) end
  return add(c, ud, inst, where, kf, d)
end

--- sup:remove_child(group, name): stops that child (if it runs) and drops it from the group.
function G.remove_child(c, gname, name)
  local ud, inst = running(c, gname)
  if not ud then return nil, inst end
  local i = inst.index_of[name]
  if not i or not ud:remove_child(i) then
    return nil, string.format("ENOENT: group '%s' has no child '%s'", gname, name)
  end
  inst.index_of[name], inst.name_at[i], inst.dyn[i] = nil, nil, nil
  return true
end

--- The validated fields of a group's children, in order (reload compares them).
function G.children(fields) return inner[fields] and inner[fields].children end

--- adopt(old, new): a reload changed only policies in a group tree: the
--- running group, made from `old`, makes its children with the policies of
--- `new` (resolved by G.resolve just before) from now on.
function G.adopt(old, new)
  local function copy(ot, nt)
    if not ot or not nt then return end
    for i, p in pairs(nt.policies) do ot.policies[i] = p end
    for i, sub in pairs(nt.nodes) do copy(ot.nodes[i], sub) end
  end
  copy(resolved[old], resolved[new])
end

--- replace_child(old, new, i): a reload changed child i of a running group
--- made from `old`: from now on the group makes it as `new` says (both
--- resolved: G.resolve(new) first). The core then remakes it.
function G.replace_child(old, new, i)
  inner[old].children[i] = inner[new].children[i]
  local ot, nt = resolved[old], resolved[new]
  if ot and nt then ot.policies[i], ot.nodes[i] = nt.policies[i], nt.nodes[i] end
end

--- A fresh core group object for one add of a resolved group spec.
function G.core_task(fields)
  return make(fields, resolved[fields])
end

return G
