-- taskvisor.children: children of a running group, OTP's start_child /
-- terminate_child + delete_child on a subtree and the simple_one_for_one
-- pattern: sup:add_child, sup:remove_child, sup:start_child (methods added to
-- the supervisor; the bookkeeping is group.lua's). Requires validate,
-- group and supervisor.
local V = require("taskvisor.validate")
local G = require("taskvisor.group")
local Sup = require("taskvisor.supervisor")

local Supervisor, self_check, name_arg = Sup.Supervisor, Sup.self_check, Sup.name_arg
local check = V.check

local function group_arg(method, group)
  return check(V.name("sup:" .. method, "group", group))
end

--- sup:add_child(group, spec): starts spec as the running group's last child
--- (its strategy covers it: one_for_all restarts it with the others,
--- rest_for_one orders it last). true, or nil + "ENOENT: ..." (no such
--- group) / "EEXIST: ..." / "ENOTSUP: ..." (not a group, a template group,
--- significant under auto_shutdown "never") / "ESHUTDOWN: ..." (it is stopping).
function Supervisor:add_child(group, spec)
  local c = self_check(self, "add_child")
  group = group_arg("add_child", group)
  local ok, err = G.add_child(c, self.defaults, "sup:add_child", group, spec)
  return ok, err
end

--- sup:start_child(group [, args]): a template group's new instance, made by
--- template(args, n) (or from the template table), named "<group>/<n>"
--- unless the function's spec names itself: its name, or nil + "CODE: ...".
function Supervisor:start_child(group, args)
  local c = self_check(self, "start_child")
  group = group_arg("start_child", group)
  local name, err = G.start_child(c, self.defaults, "sup:start_child", group, args)
  return name, err
end

--- sup:remove_child(group, name): stops that child if it runs (the group does
--- not restart it) and drops it from the group's later attempts. true, or
--- nil + "ENOENT: ...".
function Supervisor:remove_child(group, name)
  local c = self_check(self, "remove_child")
  group = group_arg("remove_child", group)
  local ok, err = G.remove_child(c, group, name_arg("remove_child", name))
  return ok, err
end

return true
