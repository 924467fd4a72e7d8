-- taskvisor.control_routes: the resources of docs/control-api.md, one
-- function per route. Task states are the core's (core/supervision/status.h),
-- rendered in C by the server module (S.tasks_json, S.task_counts), with the
-- config's spec tree for kind, group, path and children; the routes command
-- the supervisor through its Lua API (start_task, stop_task, add, signal,
-- shutdown). Each answers status, value (JSON, or JSON text) or opens a
-- stream (S.STREAM).
local S = require("taskvisor.control.server")
local tv = require("taskvisor")
local Reload = require("taskvisor.reload")

local M = {}
local null, STREAM = S.null, S.STREAM
local array = S.array
local MAX_LINES = 10000
local TAIL_BYTES = 4 << 20 -- at most this much of a log file is read for ?lines=
local TICK = 0.2           -- seconds between looks at followed log files

local R = {}
R.__index = R

local function fail(status, code, fmt, ...)
  return status, { error = { code = code, message = string.format(fmt, ...) } }
end

local function now() return (select(3, S.host())) end

-- The spec tree of a config: name -> spec, group name, path, children.
local function index_specs(specs, parent, prefix, idx, order)
  for _, s in ipairs(specs or {}) do
    local name = s.name
    if type(name) == "string" then
      local path = prefix and (prefix .. "/" .. name) or name
      idx[name] = { spec = s, group = parent, path = path, top = parent == nil, children = {} }
      order[#order + 1] = name
      if parent then table.insert(idx[parent].children, name) end
      if s.children then index_specs(s.children, name, path, idx, order) end
    end
  end
end

-- What the C views read of the config (S.tasks_json's info): name -> { kind,
-- group, path, children }.
local function view_info(specs)
  local info = {}
  for name, i in pairs(specs) do
    local s = i.spec
    info[name] = { kind = s.kind or (s.children and "group") or (s.cmd and "process") or "task",
      group = i.group, path = i.path, children = i.children }
  end
  return info
end

local function set_config(self, cfg)
  self.cfg, self.specs, self.spec_order = cfg, {}, {}
  if cfg then index_specs(cfg.tasks, nil, nil, self.specs, self.spec_order) end
  self.info = view_info(self.specs)
end

--- new(ctl, sup, cfg, why): the routes of one run. why: why it cannot be
--- reloaded (a script running its own supervisor), or nil.
function M.new(ctl, sup, cfg, why)
  local self = setmetatable({ ctl = ctl, sup = sup, why = why, files = {}, output_followers = {},
    waiters = {} }, R)
  set_config(self, cfg)
  return self
end

-- An operator stopped it (sup:stop_task), or is stopping it.
local function op_stopped(sup, name)
  local st = sup:stopped(name)
  return st == true or st == "stopping"
end

--- The task as the API shows it (a table, for answers that embed it), or nil
--- (no such task, now or before).
function R:task(name)
  local text = S.tasks_json(self.sup, nil, self.info, self.ctl.started_at, { name })
  if not text then return nil end
  return S.decode(text).tasks[1]
end

-- ---- routes --------------------------------------------------------------------

local function counts(self)
  return S.task_counts(self.sup, self.spec_order, self.info, self.ctl.started_at)
end

function R:reloadable()
  if not self.cfg then return false, self.why or "this host runs a script that calls sup:run() itself" end
  return true
end

function R:get_host()
  local pid, _, t = S.host()
  local reloadable, why = self:reloadable()
  return 200, { pid = pid, version = tv.version, name = self.ctl.name, started_at = self.ctl.started_at,
    uptime = t - self.ctl.started_at, state = self.sup:state(), config = self.ctl.config_path or null,
    socket = self.ctl.path, reloadable = reloadable, why_not_reloadable = why or null, tasks = counts(self) }
end

function R:get_tasks(req)
  local filter = req.query.name
  local text, err = S.tasks_json(self.sup, self.spec_order, self.info, self.ctl.started_at, filter)
  if not text then return fail(404, "ENOENT", "%s", (err:gsub("^ENOENT: ", ""))) end
  return 200, text, "application/json"
end

function R:start(name, t)
  local sup = self.sup
  if sup:contains(name) then -- (an operator-stopped task keeps its spec: sup:start_task)
    if not op_stopped(sup, name) then
      return fail(409, "ESTATE", "task '%s' is already running (%s)", name, t.state)
    end
    local ok, err = sup:start_task(name)
    if not ok then return fail(409, "ESTATE", "%s", tostring(err)) end
    return 200, { ok = true, task = self:task(name) }
  end
  -- no longer registered (it ended, or was removed): added again from the config
  local i = self.specs[name]
  if not i then
    return fail(409, "ESTATE", "task '%s' cannot be started again: the host keeps the specs of a config's tasks only (this one was not in it)", name)
  end
  if not i.top then
    return fail(409, "ESTATE", "task '%s' is a child of group '%s': start the group", name, i.group)
  end
  if sup:state() ~= "open" then return fail(409, "ESHUTDOWN", "the host is shutting down") end
  local ok, err = sup:add(i.spec)
  if not ok then return fail(409, "ESTATE", "task '%s': %s", name, tostring(err)) end
  return 200, { ok = true, task = self:task(name) }
end

function R:stop(name, t, body)
  if body ~= nil and (type(body) ~= "table" or (body.wait ~= nil and (math.type(body.wait) == nil or body.wait < 0))) then
    return fail(400, "EINVAL", "'wait' must be a number of seconds >= 0")
  end
  local sup = self.sup
  if not sup:contains(name) then return fail(409, "ESTATE", "task '%s' is not running (%s)", name, t.state) end
  -- supervisord's stop: the task stays registered, stopped (no restart, no
  -- budget charged) until started again, across reloads too (sup:stop_task)
  local ok, err = sup:stop_task(name)
  if not ok then return fail(409, "ESTATE", "%s", tostring(err)) end
  local wait = body and body.wait
  if not wait or wait == 0 or sup:stopped(name) == true then
    return 200, { ok = true, task = self:task(name) }
  end
  -- Answered once the task has stopped (its TaskStopped), or after `wait` seconds.
  return 200, STREAM, "application/json", function(s)
    self.waiters[s] = { name = name, deadline = now() + wait }
    self.server:tick(TICK)
  end
end

-- Stop waiters: the answer once their task has stopped (or is gone) or their
-- time is up; looked at on each tick.
local function answer_waiters(self)
  local t, sup = now(), self.sup
  for s, w in pairs(self.waiters) do
    local done = not sup:contains(w.name) or sup:stopped(w.name) == true
    if done or t >= w.deadline or not s:alive() then
      local task = self:task(w.name)
      local ans = done and { ok = true, task = task } or { ok = false, task = task,
        error = { code = "ETIMEDOUT", message = string.format("task '%s' is still %s", w.name, task and task.state or "?") } }
      s:write(S.encode(ans) .. "\n")
      s:close()
      self.waiters[s] = nil
    end
  end
end

function R:restart(name, t)
  local sup = self.sup
  if sup:contains(name) then -- supervisorctl restart: stop, then start again (sup:restart_task)
    local ok, err = sup:restart_task(name)
    if not ok then return fail(409, "ESTATE", "%s", tostring(err)) end
    return 200, { ok = true, task = self:task(name) }
  end
  return self:start(name, t)
end

function R:signal(name, t, body)
  if type(body) ~= "table" or body.signal == nil then
    return fail(400, "EINVAL", "'signal' is required: a name (\"HUP\", \"SIGHUP\") or a number")
  end
  if type(body.signal) ~= "string" and math.type(body.signal) ~= "integer" then
    return fail(400, "EINVAL", "'signal' must be a name (\"HUP\", \"SIGHUP\") or a number")
  end
  local ok, r, err = pcall(self.sup.signal, self.sup, name, body.signal)
  if not ok then return fail(400, "EINVAL", "'signal': %s", tostring(r):gsub("^sup:signal: ", "")) end
  if not r then return fail(409, "ESTATE", "%s", tostring(err)) end
  return 200, { ok = true }
end

-- ---- output ----------------------------------------------------------------------

local function tail_lines(path, n)
  local f = io.open(path, "rb")
  if not f then return array(), 0 end
  local size = f:seek("end")
  local from = math.max(0, size - TAIL_BYTES)
  f:seek("set", from)
  local data = f:read("a") or ""
  f:close()
  local lines = {}
  for l in data:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  local rest = data:match("([^\n]*)$")
  if rest ~= "" then lines[#lines + 1] = rest end
  if from > 0 then table.remove(lines, 1) end -- (cut in the middle)
  local out = array()
  for k = math.max(1, #lines - n + 1), #lines do out[#out + 1] = lines[k] end
  return out, size
end

function R:output(name, t, req)
  local q = req.query
  local stream = q.stream and q.stream[1] or "stdout"
  if stream ~= "stdout" and stream ~= "stderr" then
    return fail(400, "EINVAL", "'stream' must be \"stdout\" or \"stderr\" (got %q)", stream)
  end
  local n = 100
  if q.lines then
    n = math.tointeger(tonumber(q.lines[1]))
    if not n or n < 0 or n > MAX_LINES then return fail(400, "EINVAL", "'lines' must be an integer in [0, %d]", MAX_LINES) end
  end
  if t.kind ~= "process" then return fail(409, "ESTATE", "task '%s' is not a process: it has no output", name) end
  local file = self.files[name] and self.files[name][stream]
  if self.sup:contains(name) then
    local ok, p = pcall(self.sup.process, self.sup, name)
    if ok and type(p) == "table" and p[stream] then file = p[stream].file end
  end
  if not file and self.specs[name] then -- (it has ended: the config says where it wrote)
    local o = self.specs[name].spec[stream]
    file = type(o) == "string" and o or type(o) == "table" and o.file or nil
  end
  if file then -- (kept: the file of a task that is re-added elsewhere stays readable)
    self.files[name] = self.files[name] or {}
    self.files[name][stream] = file
  end
  if not file then return fail(409, "ESTATE", "task '%s' does not write its %s to a file", name, stream) end
  local lines, size = tail_lines(file, n)
  if not (q.follow and q.follow[1] ~= "0") then return 200, { lines = lines, file = file } end
  return 200, STREAM, "application/x-ndjson", function(s)
    for _, l in ipairs(lines) do s:write(S.encode({ line = l }) .. "\n") end
    self.output_followers[s] = { file = file, offset = size, partial = "" }
    self.server:tick(TICK)
  end
end

-- Followed log files: what was written since the last look, line by line.
function R:tick()
  local any = next(self.waiters) ~= nil
  if any then answer_waiters(self) any = next(self.waiters) ~= nil end
  for s, f in pairs(self.output_followers) do
    local h = io.open(f.file, "rb")
    local ok = s:alive()
    if ok and h then
      local size = h:seek("end")
      if size < f.offset then f.offset, f.partial = 0, "" end -- rotated or truncated: from its start
      if size > f.offset then
        h:seek("set", f.offset)
        local data = f.partial .. (h:read(math.min(size - f.offset, 1 << 20)) or "")
        f.offset = h:seek()
        local last = 1
        for l, e in data:gmatch("([^\n]*)\n()") do
          if not s:write(S.encode({ line = l }) .. "\n") then ok = false break end
          last = e
        end
        f.partial = data:sub(last)
      end
    end
    if h then h:close() end
    if ok then any = true else self.output_followers[s] = nil s:close() end
  end
  if not any then self.server:tick(0) end
end

-- ---- events, slots, host commands ------------------------------------------------

function R:get_events(req) return self.events:get(req) end -- (taskvisor.control_events)

function R:get_slots()
  local sup = self.sup
  if not sup.controller then return fail(404, "ENOENT", "this supervisor has no controller (tv.supervisor{ controller = true })") end
  local t = now()
  local out = array()
  for _, sl in ipairs(sup:slots()) do
    out[#out + 1] = { name = sl.name, status = sl.status, running = sl.running or null,
      queue = sl.queue_depth, since = t - (sl.running_for or 0), ["for"] = sl.running_for or 0 }
  end
  return 200, { slots = out }
end

function R:reload(req)
  local body = req.body
  if body ~= nil and (type(body) ~= "table" or (body.dry_run ~= nil and type(body.dry_run) ~= "boolean")) then
    return fail(400, "EINVAL", "'dry_run' must be true or false")
  end
  if not self.cfg then
    return fail(409, "ERELOAD", "%s: only a declarative config (return tv.config{...}) run by 'taskvisor run' can be reloaded",
      self.why or "this host runs a script that calls sup:run() itself")
  end
  -- The seam (taskvisor.reload): apply(host_state, { dry_run = }) -> the plan, or
  -- nil, "CODE: message" [, errors]. host_state lives as long as the run: it
  -- holds the config in force and the restarts still under way.
  local host = self.host_state
  if not host then
    host = { sup = self.sup, config = self.cfg, path = self.ctl.config_path, args = self.ctl.args }
    self.host_state = host
  end
  local plan, msg, errs = Reload.apply(host, { dry_run = body and body.dry_run or false })
  if not plan then
    local code, text = tostring(msg):match("^(%u+): (.*)$")
    code, text = code or "ECONFIG", text or tostring(msg)
    if code == "ECONFIG" then
      local list = array()
      for _, e in ipairs(type(errs) == "table" and errs or {}) do list[#list + 1] = tostring(e) end
      return 422, { error = { code = "ECONFIG", message = text }, errors = list }
    end
    return fail(409, code == "EBUSY" and "ESTATE" or code, "%s", text)
  end
  if host.config ~= self.cfg then set_config(self, host.config) end -- applied: the new config is in force
  local function list(t)
    local out = array()
    for i, n in ipairs(t or {}) do out[i] = n end
    return out
  end
  return 200, { ok = true, dry_run = plan.dry_run and true or false,
    plan = { add = list(plan.add), remove = list(plan.remove), restart = list(plan.restart),
      update = list(plan.update), unchanged = list(plan.unchanged) },
    notes = list(plan.notes), errors = list(plan.errors) }
end

function R:reopen()
  return 200, { ok = true, files = S.reopen_logs() }
end

function R:shutdown()
  if self.sup:state() ~= "open" then return fail(409, "ESHUTDOWN", "the host is already shutting down (%s)", self.sup:state()) end
  self.sup:shutdown()
  return 200, { ok = true }
end

-- ---- dispatch --------------------------------------------------------------------

local TASK_VERBS = { start = R.start, stop = R.stop, restart = R.restart, signal = R.signal }

local TOP = {
  ["/v1/host"] = { GET = R.get_host },
  ["/v1/tasks"] = { GET = R.get_tasks },
  ["/v1/events"] = { GET = R.get_events },
  ["/v1/slots"] = { GET = R.get_slots },
  ["/v1/reload"] = { POST = R.reload },
  ["/v1/reopen"] = { POST = R.reopen },
  ["/v1/shutdown"] = { POST = R.shutdown },
  ["/metrics"] = { GET = function(self) return require("taskvisor.metrics").get(self) end }, -- (issue 16)
}

local function method_not_allowed(method, path, allowed)
  return fail(405, "EMETHOD", "%s %s: use %s", method, path, allowed)
end

--- handle(req): the answer to one request (lserver.c calls it).
function R:handle(req)
  local m, path = req.method, req.path
  local top = TOP[path]
  if top then
    local f = top[m]
    if not f then return method_not_allowed(m, path, next(top)) end
    return f(self, req)
  end
  local rest = path:match("^/v1/tasks/(.+)$")
  if not rest then return fail(404, "ENOENT", "no route %s (see docs/control-api.md)", path) end
  local name, verb = rest, nil
  local t = self:task(name)
  if not t then
    local n, v = rest:match("^(.+)/([%a]+)$")
    if n and (TASK_VERBS[v] or v == "output") then name, verb = n, v t = self:task(n) end
  end
  if not t then return fail(404, "ENOENT", "no task '%s'", name) end
  if not verb then
    if m ~= "GET" then return method_not_allowed(m, path, "GET") end
    return 200, t
  end
  if verb == "output" then
    if m ~= "GET" then return method_not_allowed(m, path, "GET") end
    return self:output(name, t, req)
  end
  if m ~= "POST" then return method_not_allowed(m, path, "POST") end
  return TASK_VERBS[verb](self, name, t, req.body)
end

function R:close()
  for s in pairs(self.output_followers) do s:close() end
  for s in pairs(self.waiters) do s:close() end
  self.output_followers, self.waiters = {}, {}
end

return M
