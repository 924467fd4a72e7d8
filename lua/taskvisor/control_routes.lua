-- taskvisor.control_routes: the resources of docs/control-api.md, one
-- function per route. They read the supervisor through the calls the Lua API
-- offers (contains, process, process_info, state, slots) plus the task
-- states control_state tracks from events, and command it through add,
-- cancel, signal and shutdown. Each answers status, value (JSON) or opens a
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

--- new(ctl, sup, cfg, why): the routes of one run. why: why it cannot be
--- reloaded (a script running its own supervisor), or nil.
function M.new(ctl, sup, cfg, why)
  local self = setmetatable({ ctl = ctl, sup = sup, cfg = cfg, why = why, specs = {}, spec_order = {},
    files = {}, output_followers = {}, waiters = {}, kinds = {} }, R)
  if cfg then index_specs(cfg.tasks, nil, nil, self.specs, self.spec_order) end
  return self
end

function R:explicit_ready(name)
  local i = self.specs[name]
  if not i then return false end
  local s = i.spec
  return s.children ~= nil or (s.ready ~= nil and s.ready ~= "started")
end

-- (cached per name: asked for every task of every status; a task added
-- again under the name forgets it, on_task_event)
local function kind_of(self, name)
  local k = self.kinds[name]
  if k then return k end
  local i = self.specs[name]
  if i then
    local s = i.spec
    k = s.kind or (s.children and "group") or (s.cmd and "process") or "task"
  elseif self.sup:contains(name) then
    local ok, _, e = pcall(self.sup.process, self.sup, name)
    k = (ok and not (e and e:find("^ENOTSUP"))) and "process" or "task"
  else
    return "task"
  end
  self.kinds[name] = k
  return k
end

-- An operator stopped it (sup:stop_task), or is stopping it.
local function op_stopped(sup, name)
  local st = sup:stopped(name)
  return st == true or st == "stopping"
end

local function is_final(state) return state == "STOPPED" or state == "EXITED" or state == "FATAL" end

-- The task as the API shows it, or nil (no such task, now or before).
function R:task(name, t)
  local sup, st = self.sup, self.state
  local r = st.tasks[name]
  local registered = sup:contains(name)
  if not r and not registered and not self.specs[name] then return nil end
  r = r or { state = registered and "STARTING" or "STOPPED", since = self.ctl.started_at, attempt = 0,
    ready = false, operator_stopped = false }
  local state = r.state
  if not registered and not is_final(state) then state = "STOPPED" end
  local pid
  local kind = kind_of(self, name)
  if registered and kind == "process" then
    local info = sup:process_info(name) -- the live process, if any (ESRCH: none)
    pid = type(info) == "table" and info.pid or nil
  end
  local i = self.specs[name]
  t = t or now()
  local le = r.last_exit
  local up = (state == "RUNNING" or state == "STARTING") and r.started_at and math.max(0, t - r.started_at) or 0
  return {
    name = name, kind = kind, group = i and i.group or null, path = i and i.path or name,
    state = state, since = r.since, pid = pid or null, attempt = r.attempt or 0,
    restarts = math.max(0, (r.attempt or 0) - 1), uptime = up, ready = r.ready and registered or false,
    operator_stopped = registered and op_stopped(sup, name) or false,
    last_exit = le and { code = le.code or null, signal = le.signal or null, reason = le.reason or null,
      at = le.at } or null,
    next_retry_at = state == "BACKOFF" and r.next_retry_at or null,
    children = array(i and { table.unpack(i.children) } or {}),
  }
end

-- Every task: the config's tree depth-first, then tasks added since (in the
-- order their events came), then registered ones not seen yet (sorted).
function R:task_names()
  local seen, names = {}, {}
  local function add(n) if not seen[n] then seen[n] = true names[#names + 1] = n end end
  for _, n in ipairs(self.spec_order) do add(n) end
  for _, n in ipairs(self.state.order) do add(n) end
  for _, n in ipairs(self.sup:list()) do add(n) end
  return names
end

-- ---- routes --------------------------------------------------------------------

local function counts(self)
  local c = { total = 0, running = 0, ready = 0, backoff = 0, stopped = 0, failed = 0 }
  local at = now()
  for _, n in ipairs(self:task_names()) do
    local t = self:task(n, at)
    if t then
      c.total = c.total + 1
      if t.state == "RUNNING" or t.state == "STARTING" then c.running = c.running + 1 end
      if t.ready then c.ready = c.ready + 1 end
      if t.state == "BACKOFF" then c.backoff = c.backoff + 1 end
      if t.state == "STOPPED" or t.state == "EXITED" then c.stopped = c.stopped + 1 end
      if t.state == "FATAL" then c.failed = c.failed + 1 end
    end
  end
  return c
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
  local out = array()
  if filter then
    for _, n in ipairs(filter) do
      local t = self:task(n)
      if not t then return fail(404, "ENOENT", "no task '%s'", n) end
      out[#out + 1] = t
    end
  else
    local at = now()
    for _, n in ipairs(self:task_names()) do out[#out + 1] = self:task(n, at) end
  end
  return 200, { tasks = out }
end

-- An operator's stop: shown at once (its events come on the next turn).
local function mark_stopped(self, name)
  local r = self.state.tasks[name]
  if r then
    r.operator_stopped = true
    if not is_final(r.state) then r.state, r.since = "STOPPING", now() end
  end
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
  mark_stopped(self, name)
  local wait = body and body.wait
  if not wait or wait == 0 or sup:stopped(name) == true and self.state.tasks[name]
    and self.state.tasks[name].state == "STOPPED" then
    return 200, { ok = true, task = self:task(name) }
  end
  -- Answered once the task has stopped (its TaskStopped), or after `wait` seconds.
  return 200, STREAM, "application/json", function(s)
    self.waiters[s] = { name = name, deadline = now() + wait }
    self.server:tick(TICK)
  end
end

-- Stop waiters: the answer once their task is gone or their time is up.
local function answer_waiters(self, name)
  local t = now()
  for s, w in pairs(self.waiters) do
    local gone = w.name == name
    if gone or t >= w.deadline or not s:alive() then
      local task = self:task(w.name)
      local ans = gone and { ok = true, task = task } or { ok = false, task = task,
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
    local r = self.state.tasks[name]
    if r and not is_final(r.state) then r.state, r.since = "STOPPING", now() end
    return 200, { ok = true, task = self:task(name) }
  end
  return self:start(name, t)
end

--- Called for each event about a task (control_state): stop waiters are
--- answered, and a starting process's log files noted.
function R:on_task_event(name, ev)
  if ev.kind == "TaskAdded" then self.kinds[name] = nil end
  if (ev.kind == "TaskRemoved" or ev.kind == "TaskStopped") and next(self.waiters) then answer_waiters(self, name) end
  if ev.kind == "TaskStarting" and self.sup:contains(name) then
    local ok, p = pcall(self.sup.process, self.sup, name)
    if ok and type(p) == "table" then self.files[name] = { stdout = p.stdout and p.stdout.file, stderr = p.stderr and p.stderr.file } end
  end
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
  if any then answer_waiters(self, nil) any = next(self.waiters) ~= nil end
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

function R:get_events(req)
  local q = req.query
  local since, limit
  if q.since then
    since = math.tointeger(tonumber(q.since[1]))
    if not since or since < 0 then return fail(400, "EINVAL", "'since' must be an event seq (an integer >= 0)") end
  end
  if q.limit then
    limit = math.tointeger(tonumber(q.limit[1]))
    if not limit or limit < 1 then return fail(400, "EINVAL", "'limit' must be an integer >= 1") end
  end
  local evs, nxt = self.state:events(since, limit)
  if not evs then
    return 410, { error = { code = "EGONE", message = string.format(
      "events after seq %d are no longer kept: the oldest kept is %d", since, nxt) }, oldest = nxt }
  end
  if not (q.follow and q.follow[1] ~= "0") then return 200, { events = evs, next = nxt } end
  return 200, STREAM, "application/x-ndjson", function(s)
    for _, ev in ipairs(evs) do s:write(S.encode(ev) .. "\n") end
    self.state:follow(s)
  end
end

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
  if host.config ~= self.cfg then -- applied: the new config is the one in force
    self.cfg = host.config
    self.specs, self.spec_order = {}, {}
    index_specs(self.cfg.tasks, nil, nil, self.specs, self.spec_order)
  end
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
