-- taskvisor.control: the control API of a host's run (docs/control-api.md):
-- the socket's path, opening it (a live host of the same name refused, a
-- stale socket replaced), attaching the supervisor the run drives, and
-- closing it all when the run ends. The routes are taskvisor.control_routes;
-- the event backlog taskvisor.control_events (task states are the core's).
local S = require("taskvisor.control.server")
local Events = require("taskvisor.control_events")
local Routes = require("taskvisor.control_routes")

local M = {}

local CONTROL_KEYS = { group = "string", idle_timeout = "number", backlog = "number", max_connections = "number" }
local MAX_CONNECTIONS = 256 -- default; each is an fd and at most 64 KiB of request

--- socket_path(name, control): --control, else $XDG_RUNTIME_DIR/taskvisor/NAME.sock,
--- else /run/taskvisor/NAME.sock for root, else /tmp/taskvisor-UID/NAME.sock.
function M.socket_path(name, control)
  if control then return control end
  local xdg = os.getenv("XDG_RUNTIME_DIR")
  if xdg and xdg ~= "" then return xdg .. "/taskvisor/" .. name .. ".sock" end
  local _, uid = S.host()
  if uid == 0 then return "/run/taskvisor/" .. name .. ".sock" end
  return string.format("/tmp/taskvisor-%d/%s.sock", uid, name)
end

--- name_of(path): a config's basename without .lua (the default --name).
function M.name_of(path)
  return (tostring(path):match("([^/]*)$"):gsub("%.lua$", ""))
end

local Control = {}
Control.__index = Control

--- open{ name =, control = PATH | nil, config = path | nil }: binds the
--- socket (nothing is served until attach). The control object, or nil and
--- the message the host prints (exit 1).
function M.open(o)
  local path = M.socket_path(o.name, o.control)
  local fd, err, pid = S.listen(path)
  if not fd then
    if pid then return nil, string.format("another host '%s' is running, pid %d (its socket: %s)", o.name, pid, path) end
    return nil, "control: " .. err
  end
  local self = setmetatable({ name = o.name, path = path, fd = fd, config_path = o.config,
    started_at = select(3, S.host()) }, Control)
  return self
end

-- cfg.control's options checked: nil or the message naming the field.
local function control_opts(c)
  for k, v in pairs(c or {}) do
    local want = CONTROL_KEYS[k]
    if not want then return nil, string.format("tv.config: unknown option 'control.%s' (known: group, idle_timeout, backlog, max_connections)", tostring(k)) end
    if type(v) ~= want then return nil, string.format("tv.config: 'control.%s' must be a %s (got %s)", k, want, type(v)) end
  end
  if c and c.idle_timeout and not (c.idle_timeout >= 1 and c.idle_timeout <= 3600) then
    return nil, "tv.config: 'control.idle_timeout' must be seconds in [1, 3600]"
  end
  if c and c.backlog and not (math.type(c.backlog) == "integer" and c.backlog >= 1 and c.backlog <= 1 << 24) then
    return nil, "tv.config: 'control.backlog' must be an integer in [1, 16777216] (events kept)"
  end
  local gid
  if c and c.max_connections and not (math.type(c.max_connections) == "integer" and c.max_connections >= 1
    and c.max_connections <= 4096) then
    return nil, "tv.config: 'control.max_connections' must be an integer in [1, 4096]"
  end
  if c and c.group then
    gid = S.gid(c.group)
    if not gid then return nil, string.format("tv.config: 'control.group': no group named '%s'", c.group) end
  end
  return { gid = gid, idle_timeout = c and c.idle_timeout and math.floor(c.idle_timeout) or 10,
    backlog = c and c.backlog, max_conn = c and c.max_connections or MAX_CONNECTIONS }
end
M.control_opts = control_opts

--- ctl:attach(sup, cfg | nil, why_not_reloadable): subscribes to sup and
--- starts serving. cfg: the declarative config the host runs (nil: a script
--- running its own supervisor). true, or nil and a message.
function Control:attach(sup, cfg, why)
  local opts, err = control_opts(cfg and cfg.control)
  if not opts then return nil, err end
  local routes = Routes.new(self, sup, cfg, why)
  local evs, everr = Events.new(sup, opts.backlog) -- (GET /v1/events: control_events)
  if not evs then return nil, "control: " .. tostring(everr) end
  routes.events = evs
  local srv, e = S.serve({ fd = self.fd, handler = function(req) return routes:handle(req) end,
    idle_timeout = opts.idle_timeout, max_conn = opts.max_conn, group = opts.gid,
    on_tick = function() routes:tick() end })
  self.fd = nil
  if not srv then evs:close() return nil, "control: " .. tostring(e) end
  self.server, self.routes, self.events = srv, routes, evs
  routes.server = srv
  return true
end

--- ctl:close(): stops serving and removes the socket (idempotent).
function Control:close()
  if self.events then self.events:close() end
  if self.routes then self.routes:close() end
  if self.server then self.server:close() end
  if self.fd then S.close_fd(self.fd) end
  if self.server or self.fd then os.remove(self.path) end
  self.server, self.fd, self.events = nil, nil, nil
end

M.Control = Control
return M
