-- taskvisor.creds: a process's user, group, groups, umask, nice and
-- resource limits (systemd's User= / Group= / SupplementaryGroups= / UMask= /
-- Nice= / LimitNOFILE=..., supervisord's user= / umask=). `options` checks
-- their shape when the spec is made; `resolve` runs at each sup:add: names
-- into ids (in the host: a child may not call getpwnam), and a change the
-- host is not allowed to make is an error then, never a silent skip.
-- Requires validate and the core; required by process and spec when a spec
-- sets one of these fields.
local core = require("taskvisor.core")
local V = require("taskvisor.validate")

local M = {}
local bad = V.bad

local MAX_ID = 0xfffffffe -- (uid_t)-1 means "unchanged" to the kernel
local MAX_GROUPS = 256
local ID_EXPECTED = "a name or a numeric id (an integer >= 0)"
local LIMIT_EXPECTED = 'an integer >= 0, "infinity", or a table { soft =, hard = }'

local function ident(where, field, v)
  if math.type(v) == "integer" then
    if v < 0 or v > MAX_ID then return bad(where, field, ID_EXPECTED, v) end
    return v
  end
  if type(v) ~= "string" or v == "" or #v > 256 or v:find("[%z%c:/]") then
    return bad(where, field, ID_EXPECTED, v)
  end
  return v
end

local function limit_value(where, field, v)
  if v == "infinity" or v == "unlimited" then return -1 end
  if math.type(v) ~= "integer" or v < 0 then return bad(where, field, LIMIT_EXPECTED, v) end
  return v
end

local LIMIT_NAMES
local function limit_names()
  if not LIMIT_NAMES then
    LIMIT_NAMES = core.rlimit()
    table.sort(LIMIT_NAMES)
  end
  return LIMIT_NAMES
end

-- limits = { nofile = 1024, core = "infinity", nproc = { soft = 100, hard = 200 } }
-- into { nofile = { soft = 1024, hard = 1024 }, ... } (-1: infinity; a side
-- not given: nil, the host's at add time).
local function limits(where, v)
  if type(v) ~= "table" then return bad(where, "limits", "a table such as { nofile = 1024 }", v) end
  local ok, err = V.known_keys(where, "limits.", v, limit_names())
  if not ok then return nil, err end
  local out = {}
  for _, name in ipairs(limit_names()) do
    local l = v[name]
    local field = "limits." .. name
    if type(l) == "table" then
      ok, err = V.known_keys(where, field .. ".", l, { "soft", "hard" })
      if not ok then return nil, err end
      if l.soft == nil and l.hard == nil then
        return nil, string.format("%s: '%s' needs 'soft', 'hard' or both", where, field)
      end
      local s, h
      if l.soft ~= nil then
        s, err = limit_value(where, field .. ".soft", l.soft)
        if not s then return nil, err end
      end
      if l.hard ~= nil then
        h, err = limit_value(where, field .. ".hard", l.hard)
        if not h then return nil, err end
      end
      out[name] = { soft = s, hard = h }
    elseif l ~= nil then
      local n
      n, err = limit_value(where, field, l)
      if not n then return nil, err end
      out[name] = { soft = n, hard = n }
    end
    local o = out[name]
    if o and o.soft and o.hard and o.hard ~= -1 and (o.soft == -1 or o.soft > o.hard) then
      return nil, string.format("%s: '%s.soft' (%s) is above '%s.hard' (%d)", where, field,
        o.soft == -1 and "infinity" or o.soft, field, o.hard)
    end
  end
  return out
end

local function umask(where, v)
  if type(v) == "string" and v:match("^[0-7]+$") and #v <= 4 then
    local n = tonumber(v, 8)
    if n <= 511 then return n end
  elseif math.type(v) == "integer" and v >= 0 and v <= 511 then
    return v
  end
  return bad(where, "umask", 'an octal string such as "022" or "0027" (or an integer 0..511)', v)
end

--- The shape of src's fields into out (out.user, out.group, out.groups,
--- out.umask, out.nice, out.limits); true, or nil and the message.
function M.options(where, src, out)
  local v, err
  for _, k in ipairs({ "user", "group" }) do
    if src[k] ~= nil then
      v, err = ident(where, k, src[k])
      if v == nil then return nil, err end
      out[k] = v
    end
  end
  if src.groups ~= nil then
    local g = src.groups
    if type(g) ~= "table" then return bad(where, "groups", "a list of group names or ids", g) end
    if #g > MAX_GROUPS then return bad(where, "groups", "a list of at most 256 groups", #g .. " groups") end
    for k in pairs(g) do
      if math.type(k) ~= "integer" or k < 1 or k > #g then
        return bad(where, "groups", "a list of group names or ids", "a table with key " .. V.show(k))
      end
    end
    out.groups = {}
    for i = 1, #g do
      v, err = ident(where, string.format("groups[%d]", i), g[i])
      if v == nil then return nil, err end
      out.groups[i] = v
    end
  end
  if src.umask ~= nil then
    out.umask, err = umask(where, src.umask)
    if not out.umask then return nil, err end
  end
  if src.nice ~= nil then
    out.nice, err = V.integer(where, "nice", src.nice, -20, 19)
    if not out.nice then return nil, err end
  end
  if src.limits ~= nil then
    out.limits, err = limits(where, src.limits)
    if not out.limits then return nil, err end
  end
  return true
end

local function shown_id(v) return type(v) == "string" and "'" .. v .. "'" or tostring(v) end

local function same_set(a, b)
  if #a ~= #b then return false end
  local seen = {}
  for _, x in ipairs(a) do seen[x] = true end
  for _, x in ipairs(b) do if not seen[x] then return false end end
  return true
end

local function group_id(field, v)
  local gid = core.group_info(v)
  if gid then return gid end
  if math.type(v) == "integer" then return v end -- (a gid without a name is still a gid)
  return nil, string.format("ENOENT: %s: no such group %s", field, shown_id(v))
end

local function fmt_lim(n) return n == -1 and "infinity" or tostring(n) end

--- At sup:add: the creds table core.process reads ({ uid, gid, groups,
--- umask, nice, limits = { {resource, soft, hard} } }) and the environment
--- additions of a user switch (HOME, USER, LOGNAME, SHELL, as systemd sets
--- them); or nil, nil, "CODE: message". (Called for specs that set one of
--- these fields.)
function M.resolve(popts)
  local host = core.host_creds()
  local c, env = {}, nil
  -- "needs root (host runs as uid 1000)"; a root host without the
  -- capability (a container's) is told which one it lacks
  local function needs(cap)
    if host.uid ~= 0 then return string.format("needs root (host runs as uid %d)", host.uid) end
    return string.format("needs %s (the host runs as root without it)", cap)
  end
  local pw
  if popts.user ~= nil then
    pw = core.user_info(popts.user)
    if not pw then
      if math.type(popts.user) ~= "integer" then
        return nil, nil, string.format("ENOENT: user: no such user %s", shown_id(popts.user))
      end
      if popts.group == nil then
        return nil, nil, string.format("ENOENT: user: uid %d has no passwd entry: give 'group' too",
          popts.user)
      end
      pw = { uid = popts.user }
    end
    if pw.uid ~= host.uid then
      if not host.setuid then
        return nil, nil, string.format("EPERM: user: switching to %s %s", shown_id(popts.user),
          needs("CAP_SETUID"))
      end
      c.uid = pw.uid
    end
    if pw.name then
      env = { HOME = pw.home, USER = pw.name, LOGNAME = pw.name, SHELL = pw.shell }
    end
  end
  local gid = pw and pw.gid
  if popts.group ~= nil then
    local err
    gid, err = group_id("group", popts.group)
    if not gid then return nil, nil, err end
  end
  if gid and gid ~= host.gid then
    if not host.setgid then
      return nil, nil, string.format("EPERM: %s: switching to group %s (gid %d) %s",
        popts.group ~= nil and "group" or "user", shown_id(popts.group or gid), gid,
        host.uid ~= 0 and string.format("needs root (host runs as gid %d)", host.gid) or needs("CAP_SETGID"))
    end
    c.gid = gid
  end
  -- supplementary groups: the list given, else the user's (initgroups); a
  -- host that may not set them is only refused if they would change
  local groups
  if popts.groups then
    groups = {}
    for i, g in ipairs(popts.groups) do
      local id, err = group_id(string.format("groups[%d]", i), g)
      if not id then return nil, nil, err end
      groups[i] = id
    end
  elseif pw and pw.name and (c.uid or c.gid) then
    groups = core.user_groups(pw.name, gid)
  elseif c.gid then
    groups = { c.gid } -- a new primary group: the host's supplementary ones are not the child's
  end
  if groups and (host.setgid or not same_set(groups, host.groups)) then
    if not host.setgid then
      return nil, nil, string.format("EPERM: groups: setting supplementary groups %s", needs("CAP_SETGID"))
    end
    c.groups = groups
  end
  c.umask = popts.umask
  if popts.nice ~= nil then
    if popts.nice < host.nice and not host.sys_nice then
      return nil, nil, string.format("EPERM: nice: %d is below the host's nice (%d) and %s",
        popts.nice, host.nice, needs("CAP_SYS_NICE"))
    end
    c.nice = popts.nice
  end
  if popts.limits then
    c.limits = {}
    for _, name in ipairs(limit_names()) do
      local l = popts.limits[name]
      if l then
        local res, soft, hard = core.rlimit(name)
        local s, h = l.soft, l.hard
        h = h or hard
        if not s then s = (h ~= -1 and (soft == -1 or soft > h)) and h or soft end
        if h ~= -1 and (s == -1 or s > h) then
          return nil, nil, string.format("EINVAL: limits.%s: soft limit %s is above the hard limit %s "
            .. "(the host's)", name, fmt_lim(s), fmt_lim(h))
        end
        if (hard ~= -1 and (h == -1 or h > hard)) and not host.sys_resource then
          return nil, nil, string.format("EPERM: limits.%s: raising the hard limit to %s (the host's is %s) %s",
            name, fmt_lim(h), fmt_lim(hard), needs("CAP_SYS_RESOURCE"))
        end
        c.limits[#c.limits + 1] = { resource = res, soft = s, hard = h }
      end
    end
  end
  return c, env
end

return M
