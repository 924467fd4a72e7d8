-- taskvisor.log_writer: a subscriber that prints one line per event in the
-- reference crate's LogWriter format, e.g.
--   [004] [failed] task=demo reason="execution failed: boom" attempt=1
-- plus, where the event has them, the facts the reference has no field for:
-- a process attempt's pid=, killed=true for a stop that needed SIGKILL.
-- Options: output (a file, default io.stdout), name (default "log_writer"),
-- verbose (append the fields the reference format leaves out: shutdown and
-- grace reasons, exit codes, signals).
local V = require("taskvisor.validate")

local M = {}

-- Durations: "5s", "1.5s", "250ms"; absent -> "0ms".
local function dur(ms)
  if ms == nil then return "0ms" end
  if ms >= 1000 then
    if ms % 1000 == 0 then return string.format("%ds", ms // 1000) end
    return string.format("%.1fs", ms / 1000)
  end
  return string.format("%dms", ms)
end

local function q(s, default) return '"' .. (s or default) .. '"' end

local bodies = {
  ShutdownRequested = function() return "[shutdown-requested]" end,
  AllStoppedWithinGrace = function() return "[all-stopped-within-grace]" end,
  GraceExceeded = function() return "[grace-exceeded]" end,
  TaskStarting = function(e)
    return string.format("[starting] task=%s attempt=%d", e.task or "none", e.attempt or 0)
      .. (math.type(e.pid) == "integer" and " pid=" .. e.pid or "")
  end,
  TaskStopped = function(e)
    return string.format("[stopped] task=%s", e.task or "none") .. (e.killed and " killed=true" or "")
  end,
  TaskFailed = function(e)
    return string.format("[failed] task=%s reason=%s attempt=%d", e.task or "none",
      q(e.reason, "unknown"), e.attempt or 0) .. (e.killed and " killed=true" or "")
  end,
  TimeoutHit = function(e)
    return string.format("[timeout] task=%s timeout=%s", e.task or "none", dur(e.timeout_ms))
  end,
  BackoffScheduled = function(e) -- (a scheduled run after a success has no reason to show)
    return string.format("[backoff] task=%s source=%s delay=%s after_attempt=%d%s",
      e.task or "none", e.backoff_source or "unknown", dur(e.delay_ms), e.attempt or 0,
      e.reason and " reason=" .. q(e.reason) or "")
  end,
  SubscriberOverflow = function(e)
    return string.format("[subscriber-overflow] subscriber=%s reason=%s", e.task or "none",
      q(e.reason, "unknown"))
  end,
  SubscriberPanicked = function(e)
    return string.format("[subscriber-panicked] subscriber=%s info=%s", e.task or "none",
      q(e.reason, "unknown"))
  end,
  TaskAddRequested = function(e) return "[task-add-requested] task=" .. (e.task or "none") end,
  TaskAdded = function(e) return "[task-added] task=" .. (e.task or "none") end,
  TaskRemoveRequested = function(e) return "[task-remove-requested] task=" .. (e.task or "none") end,
  TaskRemoved = function(e) return "[task-removed] task=" .. (e.task or "none") end,
  TaskAddFailed = function(e)
    return string.format("[task-add-failed] task=%s reason=%s", e.task or "none", q(e.reason, "unknown"))
  end,
  ActorExhausted = function(e)
    return string.format("[actor-exhausted] task=%s reason=%s", e.task or "none", q(e.reason, "policy"))
  end,
  ActorDead = function(e)
    return string.format("[actor-dead] task=%s reason=%s", e.task or "none", q(e.reason, "fatal"))
  end,
  ControllerSubmitted = function(e)
    return string.format("[controller-submitted] slot=%s %s", e.slot or "none", e.reason or "")
  end,
  ControllerRejected = function(e)
    return string.format("[controller-rejected] slot=%s reason=%s", e.slot or "none",
      q(e.reason, "unknown"))
  end,
  ControllerSlotTransition = function(e)
    return string.format("[controller-transition] slot=%s transition=%s", e.slot or "none",
      q(e.reason, "unknown"))
  end,
  TaskOutput = function(e)
    return string.format("[output] task=%s stream=%s line=%q", e.task or "none",
      e.stream or "stdout", e.line or "")
  end,
  TaskReady = function(e)
    return string.format("[ready] task=%s attempt=%d", e.task or "none", e.attempt or 0)
  end,
  HookFailed = function(e)
    return string.format("[hook-failed] task=%s reason=%s", e.task or "none", q(e.reason, "unknown"))
  end,
  OutputLost = function(e)
    return string.format("[output-lost] task=%s stream=%s file=%s bytes=%s reason=%s", e.task or "none",
      e.stream or "stdout", q(e.file, "unknown"), tostring(e.bytes or 0), q(e.reason, "unknown"))
  end,
  Escalated = function(e)
    return string.format("[escalated] task=%s reason=%s", e.task or "none", q(e.reason, "unknown"))
  end,
  AutoShutdown = function(e)
    return string.format("[auto-shutdown] task=%s reason=%s", e.task or "none", q(e.reason, "unknown"))
  end,
}

-- "[000] " .. "[999] ": the line's sequence number, made once.
local SEQ = {}
for i = 0, 999 do SEQ[i] = string.format("[%03d] ", i) end

--- The line for one event (without the newline).
function M.format(e, verbose)
  local body = bodies[e.kind]
  local line = SEQ[e.seq % 1000]
    .. (body and body(e) or string.format("[%s] task=%s", e.kind, e.task or "none"))
  if verbose then
    local extra = {}
    if e.reason and (e.kind == "ShutdownRequested" or e.kind == "GraceExceeded"
        or e.kind == "TaskStopped" or e.kind == "TaskRemoved") then
      extra[#extra + 1] = "reason=" .. q(e.reason)
    end
    if e.exit_code then extra[#extra + 1] = "exit_code=" .. e.exit_code end
    if e.signal then extra[#extra + 1] = "signal=" .. e.signal end
    if #extra > 0 then line = line .. " " .. table.concat(extra, " ") end
  end
  return line
end

function M.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(string.format("tv.log_writer: expected an options table (got %s)", V.show(opts)), 3)
  end
  local ok, err = V.known_keys("tv.log_writer", "", opts, { "output", "name", "verbose" })
  if not ok then error(err, 3) end
  local out = opts.output or io.stdout
  if io.type(out) ~= "file" then
    error(string.format("tv.log_writer: 'output' must be an open file (got %s)", V.show(out)), 3)
  end
  local name = "log_writer"
  if opts.name ~= nil then
    name, err = V.name("tv.log_writer", "name", opts.name)
    if not name then error(err, 3) end
  end
  if opts.verbose ~= nil and type(opts.verbose) ~= "boolean" then
    error(select(2, V.bad("tv.log_writer", "verbose", "a boolean", opts.verbose)), 3)
  end
  local verbose = opts.verbose == true
  return {
    name = name,
    on_event = function(e)
      out:write(M.format(e, verbose), "\n")
      out:flush()
    end,
  }
end

return M
