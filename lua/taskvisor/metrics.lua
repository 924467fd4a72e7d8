-- taskvisor.metrics: the Prometheus text exposition (format 0.0.4) of a
-- running host, served at GET /metrics (control socket and --http): per task
-- attempts, restarts, failures by cause, up / ready / uptime / backoff
-- (rendered in C from the core's task states: S.task_metrics, so a scrape of
-- 10,000 tasks builds no Lua value per task); per subscriber events delivered
-- and dropped; controller slot depths; the host's CPU, memory, fds and
-- restart budget.
local core = require("taskvisor.core")
local S = require("taskvisor.control.server")

local M = {}

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

local ZERO_ONE = { [0] = "0", [1] = "1" }
local function val(v) return ZERO_ONE[v] or num(v) end

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

local function one(out, n, name, kind, help, v)
  n = family(out, n, name, kind, help)
  out[n + 1] = name
  out[n + 2] = " "
  out[n + 3] = val(v)
  out[n + 4] = "\n"
  return n + 4
end

--- render(routes): the exposition text.
local function render(routes)
  local sup = routes.sup
  local tasks, count = S.task_metrics(sup, routes.spec_order, routes.ctl.started_at)
  local out, n = { tasks }, 1
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
  n = one(out, n, "taskvisor_events_published_total", "counter", "Events published (the last seq).", S.events_published())
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
  return 200, render(routes), M.CONTENT_TYPE
end

return M
