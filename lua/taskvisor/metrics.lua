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
  local self = setmetatable({ routes = routes, tasks = {}, labels = {} }, Collector)
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
  local dirty = self.dirty
  if dirty then dirty[name] = true end -- (someone follows task changes: taskvisor.http)
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

-- The text is built as a list of pieces and concatenated once: with 10,000
-- tasks a scrape is ~100,000 samples, and a string made per sample would be
-- most of its cost. Per-task label text is kept (names do not change).
local ZERO_ONE = { [0] = "0", [1] = "1" }

local function val(v)
  return ZERO_ONE[v] or num(v)
end

local function family(out, n, name, kind, help)
  out[n + 1] = "# HELP "
  out[n + 2] = name
  out[n + 3] = " "
  out[n + 4] = help
  out[n + 5] = "\n# TYPE "
  out[n + 6] = name
  out[n + 7] = " "
  out[n + 8] = kind
  out[n + 9] = "\n"
  return n + 9
end

-- One sample per row: name, the row's label, the value fn(row) gives.
local function per_row(out, n, name, rows, fn)
  for i = 1, #rows do
    local t = rows[i]
    out[n + 1] = name
    out[n + 2] = t.label
    out[n + 3] = val(fn(t))
    out[n + 4] = "\n"
    n = n + 4
  end
  return n
end

local function one(out, n, name, kind, help, v)
  n = family(out, n, name, kind, help)
  out[n + 1] = name
  out[n + 2] = " "
  out[n + 3] = val(v)
  out[n + 4] = "\n"
  return n + 4
end

local FINAL = { STOPPED = true, EXITED = true, FATAL = true }

-- The seconds a gauge shows: to the millisecond (a shorter text than %.17g).
local function secs(v) return v > 0 and string.format("%.3f", v) or "0" end

--- render(): the exposition text.
function Collector:render()
  local routes, out, n = self.routes, {}, 0
  local sup, st = routes.sup, routes.state
  local now = (select(3, require("taskvisor.control.server").host()))
  local labels, records, counts = self.labels, st.tasks, self.tasks
  -- The tasks: every one the tracker has seen, then registered ones it has
  -- not (yet); parallel arrays, not a table per task (10,000 tasks).
  local registered, names = {}, {}
  for _, name in ipairs(sup:list()) do registered[name] = true end
  for i, name in ipairs(st.order) do names[i] = name end
  for name in pairs(registered) do if not records[name] then names[#names + 1] = name end end
  local lab, up, ready, upt, boff, bleft, att, rst, failed = {}, {}, {}, {}, {}, {}, {}, {}, {}
  for i = 1, #names do
    local name = names[i]
    local r = records[name]
    local state = r and r.state or "STARTING"
    if not registered[name] and not FINAL[state] then state = "STOPPED" end
    local label = labels[name]
    if not label then
      label = { '{task="' .. esc(name) .. '"} ', '{task="' .. esc(name) .. '",cause="' }
      labels[name] = label
    end
    lab[i] = label[1]
    local c = counts[name] or counters(self, name)
    att[i], rst[i] = c.attempts, c.restarts
    if c.exit_code + c.signal + c.timeout + c.error > 0 then failed[#failed + 1] = { label[2], c } end
    local is_up = state == "RUNNING" or state == "STARTING"
    up[i] = is_up and "1" or "0"
    ready[i] = (r and r.ready and state == "RUNNING") and "1" or "0"
    upt[i] = (is_up and r and r.started_at) and secs(now - r.started_at) or "0"
    boff[i] = state == "BACKOFF" and "1" or "0"
    bleft[i] = (state == "BACKOFF" and r and r.next_retry_at) and secs(r.next_retry_at - now) or "0"
  end
  local count = #names
  local function column(name, kind, help, values)
    n = family(out, n, name, kind, help)
    for i = 1, count do
      out[n + 1] = name
      out[n + 2] = lab[i]
      out[n + 3] = values[i]
      out[n + 4] = "\n"
      n = n + 4
    end
  end
  for i = 1, count do att[i], rst[i] = val(att[i]), val(rst[i]) end
  column("taskvisor_task_attempts_total", "counter", "Attempts started (TaskStarting events).", att)
  column("taskvisor_task_restarts_total", "counter", "Attempts after the first of each run of the task.", rst)
  n = family(out, n, "taskvisor_task_failures_total", "counter",
    "Failed attempts by cause: exit_code (a process exited non-zero), signal, timeout, error (a Lua error or a spawn failure); none for a task that never failed.")
  for _, f in ipairs(failed) do
    for _, cause in ipairs(CAUSES) do
      out[n + 1] = "taskvisor_task_failures_total"
      out[n + 2] = f[1]
      out[n + 3] = cause
      out[n + 4] = '"} '
      out[n + 5] = val(f[2][cause])
      out[n + 6] = "\n"
      n = n + 6
    end
  end
  column("taskvisor_task_up", "gauge", "1 while the task runs (STARTING or RUNNING), else 0.", up)
  column("taskvisor_task_ready", "gauge", "1 once the running attempt is ready, else 0.", ready)
  column("taskvisor_task_uptime_seconds", "gauge", "Seconds since the running attempt started (0 when not running).", upt)
  column("taskvisor_task_backoff_pending", "gauge", "1 while the task waits out a backoff before its next attempt.", boff)
  column("taskvisor_task_backoff_remaining_seconds", "gauge", "Seconds until the next attempt of a task in backoff (0 otherwise).", bleft)
  n = one(out, n, "taskvisor_tasks", "gauge", "Tasks known to the host.", count)

  local function per(kind_name, kind, help, list, label_of, field)
    n = family(out, n, kind_name, kind, help)
    for _, x in ipairs(list) do
      out[n + 1] = kind_name
      out[n + 2] = label_of(x)
      out[n + 3] = val(x[field] or 0)
      out[n + 4] = "\n"
      n = n + 4
    end
  end
  local subs = sup.core:subscriber_stats()
  local function sub_label(s) return '{subscriber="' .. esc(s.name) .. '"} ' end
  per("taskvisor_subscriber_events_delivered_total", "counter", "Events a subscriber's queue accepted.", subs, sub_label, "delivered")
  per("taskvisor_subscriber_events_dropped_total", "counter", "Events dropped for a subscriber (its queue was full: SubscriberOverflow).", subs, sub_label, "dropped")
  per("taskvisor_subscriber_queue_depth", "gauge", "Events waiting in a subscriber's queue.", subs, sub_label, "queued")
  per("taskvisor_subscriber_queue_capacity", "gauge", "A subscriber's queue capacity.", subs, sub_label, "capacity")
  if sup.controller then
    local slots = sup:slots()
    for _, sl in ipairs(slots) do sl.running_n = sl.running and 1 or 0 end
    local function slot_label(sl) return '{slot="' .. esc(sl.name) .. '"} ' end
    per("taskvisor_controller_slot_queue_depth", "gauge", "Submissions queued in a controller slot.", slots, slot_label, "queue_depth")
    per("taskvisor_controller_slot_running", "gauge", "1 while a controller slot runs a task.", slots, slot_label, "running_n")
  end
  local b = sup.core:budget_state()
  n = one(out, n, "taskvisor_restart_budget_max", "gauge", "Restarts the supervisor's budget allows within its window (0: no budget).", b.max)
  n = one(out, n, "taskvisor_restart_budget_window_seconds", "gauge", "The restart budget's window.", b.within)
  n = one(out, n, "taskvisor_restart_budget_used", "gauge", "Restarts counted in the budget's window now.", b.used)
  n = one(out, n, "taskvisor_events_published_total", "counter", "Events the supervisor published (the last seq seen).", st.last or 0)
  local h = core.host_stats()
  n = one(out, n, "taskvisor_host_cpu_seconds_total", "counter", "User and system CPU time of the host process.", h.cpu_seconds or 0)
  n = one(out, n, "taskvisor_host_resident_memory_bytes", "gauge", "Resident memory of the host process.", h.resident_bytes or 0)
  n = one(out, n, "taskvisor_host_open_fds", "gauge", "Open file descriptors of the host process.", h.open_fds or 0)
  if h.max_fds then n = one(out, n, "taskvisor_host_max_fds", "gauge", "The host's file descriptor limit (RLIMIT_NOFILE).", h.max_fds) end
  n = one(out, n, "taskvisor_host_start_time_seconds", "gauge", "When the host started (Unix time).", routes.ctl.started_at or 0)
  return table.concat(out)
end

M.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

--- get(routes): the GET /metrics route (200, text, content type).
function M.get(routes)
  local c = routes.metrics or M.attach(routes)
  return 200, c:render(), M.CONTENT_TYPE
end

return M
