-- taskvisor.metrics: the Prometheus text exposition (format 0.0.4) of a
-- running host, served at GET /metrics (control socket and --http): per task
-- attempts, restarts, failures by cause, up / ready / uptime / backoff; per
-- subscriber events delivered and dropped; controller slot depths; the
-- host's CPU, memory, fds and restart budget. The counters come from the
-- control API's task tracker (control_state): attach() chains onto its
-- per-task event hook, so no second subscriber is needed.
local core = require("taskvisor.core")

local M = {}

local Collector = {}
Collector.__index = Collector

-- Label values: backslash, double quote and newline escaped (the text format).
local function esc(v)
  return (tostring(v):gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end
M.escape = esc

local function num(v)
  if v == math.huge then return "+Inf" end
  if v == -math.huge then return "-Inf" end
  if v ~= v then return "NaN" end
  if math.type(v) == "integer" then return tostring(v) end
  return string.format("%.17g", v)
end

local CAUSES = { "exit_code", "signal", "timeout", "error" }

--- attach(routes): counts the task events the control API's tracker sees
--- (routes.state) and keeps the collector as routes.metrics.
function M.attach(routes)
  local st = routes.state
  local self = setmetatable({ routes = routes, tasks = {}, started = core.monotime() }, Collector)
  local prev = st.on_task_event
  st.on_task_event = function(name, ev, r)
    self:note(name, ev)
    if prev then return prev(name, ev, r) end
  end
  routes.metrics = self
  return self
end

local function counters(self, name)
  local c = self.tasks[name]
  if not c then
    c = { attempts = 0, restarts = 0, exit_code = 0, signal = 0, timeout = 0, error = 0 }
    self.tasks[name] = c
  end
  return c
end

--- note(name, ev): one event of task `name`.
function Collector:note(name, ev)
  local k = ev.kind
  if k == "TaskStarting" then
    local c = counters(self, name)
    c.attempts = c.attempts + 1
    if (ev.attempt or 1) > 1 then c.restarts = c.restarts + 1 end
    c.timed_out = nil
  elseif k == "TimeoutHit" then
    counters(self, name).timed_out = true
  elseif k == "TaskFailed" then
    local c = counters(self, name)
    local cause = (c.timed_out or (ev.reason or ""):find("^timed out after")) and "timeout" or ev.signal and "signal" or ev.exit_code and "exit_code" or "error"
    c[cause] = c[cause] + 1
    c.timed_out = nil
  end
end

local function family(out, name, kind, help)
  out[#out + 1] = "# HELP " .. name .. " " .. help
  out[#out + 1] = "# TYPE " .. name .. " " .. kind
end

local function sample(out, name, labels, v)
  out[#out + 1] = name .. (labels or "") .. " " .. num(v)
end

--- render(): the exposition text.
function Collector:render()
  local routes, out = self.routes, {}
  local sup, st = routes.sup, routes.state
  local names = routes:task_names()
  local now = (select(3, require("taskvisor.control.server").host()))
  -- Per task: one family at a time (the format wants each family's samples together).
  local rows = {}
  for i, n in ipairs(names) do
    local r = st.tasks[n]
    local registered = sup:contains(n)
    local state = r and r.state or (registered and "STARTING" or "STOPPED")
    if not registered and not (state == "STOPPED" or state == "EXITED" or state == "FATAL") then state = "STOPPED" end
    rows[i] = { label = '{task="' .. esc(n) .. '"}', n = n, r = r, state = state,
      c = self.tasks[n] or counters(self, n) }
  end
  family(out, "taskvisor_task_attempts_total", "counter", "Attempts started (TaskStarting events).")
  for _, t in ipairs(rows) do sample(out, "taskvisor_task_attempts_total", t.label, t.c.attempts) end
  family(out, "taskvisor_task_restarts_total", "counter", "Attempts after the first of each run of the task.")
  for _, t in ipairs(rows) do sample(out, "taskvisor_task_restarts_total", t.label, t.c.restarts) end
  family(out, "taskvisor_task_failures_total", "counter",
    "Failed attempts by cause: exit_code (a process exited non-zero), signal, timeout, error (a Lua error or a spawn failure).")
  for _, t in ipairs(rows) do
    local base = '{task="' .. esc(t.n) .. '",cause="'
    for _, cause in ipairs(CAUSES) do sample(out, "taskvisor_task_failures_total", base .. cause .. '"}', t.c[cause]) end
  end
  family(out, "taskvisor_task_up", "gauge", "1 while the task runs (STARTING or RUNNING), else 0.")
  for _, t in ipairs(rows) do
    sample(out, "taskvisor_task_up", t.label, (t.state == "RUNNING" or t.state == "STARTING") and 1 or 0)
  end
  family(out, "taskvisor_task_ready", "gauge", "1 once the running attempt is ready, else 0.")
  for _, t in ipairs(rows) do sample(out, "taskvisor_task_ready", t.label, t.r and t.r.ready and t.state == "RUNNING" and 1 or 0) end
  family(out, "taskvisor_task_uptime_seconds", "gauge", "Seconds since the running attempt started (0 when not running).")
  for _, t in ipairs(rows) do
    local up = 0
    if t.r and t.r.started_at and (t.state == "RUNNING" or t.state == "STARTING") then up = math.max(0, now - t.r.started_at) end
    sample(out, "taskvisor_task_uptime_seconds", t.label, up)
  end
  family(out, "taskvisor_task_backoff_pending", "gauge", "1 while the task waits out a backoff before its next attempt.")
  for _, t in ipairs(rows) do sample(out, "taskvisor_task_backoff_pending", t.label, t.state == "BACKOFF" and 1 or 0) end
  family(out, "taskvisor_task_backoff_remaining_seconds", "gauge", "Seconds until the next attempt of a task in backoff (0 otherwise).")
  for _, t in ipairs(rows) do
    local left = 0
    if t.state == "BACKOFF" and t.r and t.r.next_retry_at then left = math.max(0, t.r.next_retry_at - now) end
    sample(out, "taskvisor_task_backoff_remaining_seconds", t.label, left)
  end
  family(out, "taskvisor_tasks", "gauge", "Tasks known to the host.")
  sample(out, "taskvisor_tasks", nil, #rows)

  local subs = sup.core:subscriber_stats()
  family(out, "taskvisor_subscriber_events_delivered_total", "counter", "Events a subscriber's queue accepted.")
  for _, s in ipairs(subs) do sample(out, "taskvisor_subscriber_events_delivered_total", '{subscriber="' .. esc(s.name) .. '"}', s.delivered) end
  family(out, "taskvisor_subscriber_events_dropped_total", "counter", "Events dropped for a subscriber (its queue was full: SubscriberOverflow).")
  for _, s in ipairs(subs) do sample(out, "taskvisor_subscriber_events_dropped_total", '{subscriber="' .. esc(s.name) .. '"}', s.dropped) end
  family(out, "taskvisor_subscriber_queue_depth", "gauge", "Events waiting in a subscriber's queue.")
  for _, s in ipairs(subs) do sample(out, "taskvisor_subscriber_queue_depth", '{subscriber="' .. esc(s.name) .. '"}', s.queued) end
  family(out, "taskvisor_subscriber_queue_capacity", "gauge", "A subscriber's queue capacity.")
  for _, s in ipairs(subs) do sample(out, "taskvisor_subscriber_queue_capacity", '{subscriber="' .. esc(s.name) .. '"}', s.capacity) end

  if sup.controller then
    local slots = sup:slots()
    family(out, "taskvisor_controller_slot_queue_depth", "gauge", "Submissions queued in a controller slot.")
    for _, sl in ipairs(slots) do sample(out, "taskvisor_controller_slot_queue_depth", '{slot="' .. esc(sl.name) .. '"}', sl.queue_depth or 0) end
    family(out, "taskvisor_controller_slot_running", "gauge", "1 while a controller slot runs a task.")
    for _, sl in ipairs(slots) do sample(out, "taskvisor_controller_slot_running", '{slot="' .. esc(sl.name) .. '"}', sl.running and 1 or 0) end
  end

  local b = sup.core:budget_state()
  family(out, "taskvisor_restart_budget_max", "gauge", "Restarts the supervisor's budget allows within its window (0: no budget).")
  sample(out, "taskvisor_restart_budget_max", nil, b.max)
  family(out, "taskvisor_restart_budget_window_seconds", "gauge", "The restart budget's window.")
  sample(out, "taskvisor_restart_budget_window_seconds", nil, b.within)
  family(out, "taskvisor_restart_budget_used", "gauge", "Restarts counted in the budget's window now.")
  sample(out, "taskvisor_restart_budget_used", nil, b.used)

  family(out, "taskvisor_events_published_total", "counter", "Events the supervisor published (the last seq seen).")
  sample(out, "taskvisor_events_published_total", nil, st.last or 0)
  local h = core.host_stats()
  family(out, "taskvisor_host_cpu_seconds_total", "counter", "User and system CPU time of the host process.")
  sample(out, "taskvisor_host_cpu_seconds_total", nil, h.cpu_seconds or 0)
  family(out, "taskvisor_host_resident_memory_bytes", "gauge", "Resident memory of the host process.")
  sample(out, "taskvisor_host_resident_memory_bytes", nil, h.resident_bytes or 0)
  family(out, "taskvisor_host_open_fds", "gauge", "Open file descriptors of the host process.")
  sample(out, "taskvisor_host_open_fds", nil, h.open_fds or 0)
  if h.max_fds then
    family(out, "taskvisor_host_max_fds", "gauge", "The host's file descriptor limit (RLIMIT_NOFILE).")
    sample(out, "taskvisor_host_max_fds", nil, h.max_fds)
  end
  family(out, "taskvisor_host_start_time_seconds", "gauge", "When the host started (Unix time).")
  sample(out, "taskvisor_host_start_time_seconds", nil, routes.ctl.started_at or 0)
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

M.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

--- get(routes): the GET /metrics route (200, text, content type).
function M.get(routes)
  local c = routes.metrics or M.attach(routes)
  return 200, c:render(), M.CONTENT_TYPE
end

return M
