-- taskvisor.http: the TCP listener of `taskvisor run --http ADDR:PORT`:
-- GET /metrics (Prometheus), GET / (the status page, taskvisor.status_page)
-- and the control API's /v1 routes for that page, on the same libmicrohttpd
-- server as the socket. TCP has no SO_PEERCRED, so:
--   * the address is loopback unless TASKVISOR_HTTP_TOKEN is set;
--   * every request's Host must name this listener (no DNS rebinding), and an
--     Origin, when sent, must be this listener's (no cross-site use);
--   * a request that changes anything (any method but GET) needs the host's
--     token in X-Taskvisor-Token or "Authorization: Bearer" (no CSRF: a page
--     elsewhere can neither read the token nor send that header without a
--     CORS preflight we never grant); off loopback every request needs it.
-- The token is TASKVISOR_HTTP_TOKEN, else 32 random bytes (hex) made at
-- start, written to a 0600 file beside the control socket (--http-token-file).
local S = require("taskvisor.control.server")
local Metrics = require("taskvisor.metrics")
local Page = require("taskvisor.status_page")

local M = {}

local function is_loopback(host)
  return host:match("^127%.%d+%.%d+%.%d+$") ~= nil or host == "::1"
end
M.is_loopback = is_loopback

--- parse_addr("127.0.0.1:8080" | "[::1]:8080" | "localhost:8080" | "8080", token):
--- { host, port, loopback }, or nil and why not.
function M.parse_addr(s, token)
  local host, port = s:match("^%[([%x:]+)%]:(%d+)$")
  if not host then host, port = s:match("^([^:]*):(%d+)$") end
  if not host then port = s:match("^(%d+)$") host = "127.0.0.1" end
  if not port then return nil, string.format("expected ADDR:PORT (e.g. 127.0.0.1:9100), got '%s'", s) end
  port = tonumber(port)
  if port > 65535 then return nil, string.format("port %d is not in 0..65535", port) end
  if host == "" or host == "localhost" then host = "127.0.0.1" end
  local loop = is_loopback(host)
  if not loop and not (token and token ~= "") then
    return nil, string.format("'%s' is not a loopback address: serving beyond this machine needs a token "
      .. "(set TASKVISOR_HTTP_TOKEN)", host)
  end
  return { host = host, port = port, loopback = loop }
end

local function random_token()
  local f = io.open("/dev/urandom", "rb")
  if not f then return nil end
  local b = f:read(32)
  f:close()
  return (b:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- Compares without stopping at the first different byte.
local function same(a, b)
  if type(a) ~= "string" or #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do diff = diff | (a:byte(i) ~ b:byte(i)) end
  return diff == 0
end

local Http = {}
Http.__index = Http

local function fail(status, code, fmt, ...)
  return status, { error = { code = code, message = string.format(fmt, ...) } }
end

--- open(addr, ctl, { token_file = }): serving; the object (:close(), .port,
--- .token, .token_file), or nil and a message.
function M.open(addr, ctl, opts)
  local token = os.getenv("TASKVISOR_HTTP_TOKEN")
  if not token or token == "" then token = random_token() end
  if not token then return nil, "cannot read /dev/urandom for the token" end
  local fd, port = S.listen_tcp(addr.host, addr.port)
  if not fd then return nil, port end
  local self = setmetatable({ addr = addr, port = port, ctl = ctl, token = token }, Http)
  local hp = addr.host:find(":") and ("[" .. addr.host .. "]") or addr.host
  self.hosts = { [hp .. ":" .. port] = true }
  if addr.loopback then
    self.hosts["localhost:" .. port] = true
    self.hosts["127.0.0.1:" .. port] = true
    self.hosts["[::1]:" .. port] = true
  end
  self.token_file = opts.token_file or (ctl.path:gsub("%.sock$", "") .. ".http-token")
  local ok, terr = S.write_secret(self.token_file, token .. "\n")
  if not ok then S.close_fd(fd) return nil, "cannot write the token file: " .. tostring(terr) end
  self.followers = {}
  local srv, err = S.serve({ fd = fd, tcp = true, handler = function(req) return self:handle(req) end,
    idle_timeout = 30, max_conn = 64, on_tick = function() self:tick() end })
  if not srv then return nil, tostring(err) end
  self.server = srv
  io.stderr:write(string.format("taskvisor: http: serving on http://%s:%d/ (metrics at /metrics; "
    .. "the token for changes is in %s)\n", hp, port, self.token_file))
  io.stderr:flush()
  return self
end

function Http:authorized(req)
  local h = req.headers or {}
  local t = h["x-taskvisor-token"]
  if not t and h.authorization then t = h.authorization:match("^[Bb]earer%s+(%S+)$") end
  return same(t, self.token)
end

--- handle(req): the answer to one request on the TCP listener.
function Http:handle(req)
  local h = req.headers or {}
  if not (h.host and self.hosts[h.host:lower()]) then
    return fail(421, "EHOST", "Host '%s' is not this listener (DNS rebinding is refused)", tostring(h.host))
  end
  if h.origin and h.origin ~= "http://" .. h.host:lower() then
    return fail(403, "EORIGIN", "Origin '%s' is not this listener", h.origin)
  end
  local m, path = req.method, req.path
  local needs = m ~= "GET" or not self.addr.loopback
  if needs and not self:authorized(req) then
    return fail(401, "ETOKEN", "%s %s needs this host's token (X-Taskvisor-Token; it is in %s)", m, path, self.token_file)
  end
  local asset = Page.assets[path]
  if asset then
    if m ~= "GET" then return fail(405, "EMETHOD", "%s %s: use GET", m, path) end
    return 200, asset.body, asset.type
  end
  if path == "/metrics" then
    if m ~= "GET" then return fail(405, "EMETHOD", "%s %s: use GET", m, path) end
    return Metrics.get(self.ctl.routes)
  end
  if path == "/observe/tasks" then
    if m ~= "GET" then return fail(405, "EMETHOD", "%s %s: use GET", m, path) end
    return self:follow_tasks()
  end
  if path:sub(1, 4) == "/v1/" then return self.ctl.routes:handle(req) end
  return fail(404, "ENOENT", "no route %s (try /, /metrics, /v1/...)", path)
end

-- GET /observe/tasks: the status page's live feed, one JSON line per
-- TICK seconds with the tasks that changed since the follower's last line
-- (their /v1/tasks view: a new state, a new attempt or a last exit since
-- then), the first line with every task. Coalesced on purpose: a restart
-- storm's hundreds of thousands of events a second would otherwise each be
-- encoded and sent to every open page. Read from the core's task states
-- (S.tasks_json, in C), so the feed subscribes to nothing.
-- A follower still taking its last line (the client is behind) is sent no
-- new one: its next line covers everything since the one it took
-- (self.followers[stream] is the time of its last line), so a slow page gets
-- what it can take instead of a pile. Lines are PACE times as far apart as
-- the last tick took to make, if that is longer than TICK: the feed keeps to
-- a fortieth of the loop.
local TICK, PACE = 0.25, 40

-- {"tasks": [...], "at": t} from the view's {"tasks": [...]}.
local function with_at(text, at)
  return text:sub(1, -2) .. string.format(',"at":%.6f}\n', at)
end

local function tasks_text(routes, since)
  return S.tasks_json(routes.sup, routes.spec_order, routes.info, routes.ctl.started_at, nil, since)
end

function Http:follow_tasks()
  local routes = self.ctl.routes
  return 200, S.STREAM, "application/x-ndjson", function(stream)
    local at = (select(3, S.host()))
    stream:write(with_at(tasks_text(routes), at))
    self.followers[stream] = at
    if not self.period then
      self.period = TICK
      self.server:tick(TICK)
    end
  end
end

-- The next lines' period from what this tick cost (CPU seconds).
function Http:pace(cost)
  local period = math.max(TICK, cost * PACE)
  if math.abs(period - self.period) > 0.1 * self.period then
    self.period = period
    self.server:tick(0)
    self.server:tick(period)
  end
end

function Http:tick()
  if not next(self.followers) then
    self.server:tick(0)
    self.period = nil
    return
  end
  local t0 = os.clock()
  local at = (select(3, S.host()))
  local lines = {} -- since -> line (followers that took the same lines share one)
  for st, since in pairs(self.followers) do
    if st:pending() == 0 then -- (else: still taking its last line; the next covers this one)
      local line = lines[since]
      if not line then
        local text = tasks_text(self.ctl.routes, since)
        -- (no change: a heartbeat, so a page knows the feed is alive and a gone client is noticed)
        line = text == '{"tasks":[]}' and "{}\n" or with_at(text, at)
        lines[since] = line
      end
      if st:write(line) then
        self.followers[st] = at
      else
        self.followers[st] = nil
        st:close()
      end
    end
  end
  self:pace(os.clock() - t0)
end

function Http:close()
  for st in pairs(self.followers or {}) do st:close() end
  self.followers = {}
  if self.server then self.server:close() self.server = nil end
  if self.token_file then os.remove(self.token_file) self.token_file = nil end
end

return M
