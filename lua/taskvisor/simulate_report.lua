-- taskvisor.simulate_report: what a simulation tells: event lines with
-- virtual timestamps, a per-task and whole-run summary, an SVG timeline.
-- Everything is accumulated as events arrive (in C, src/lua/lsimacc.c), in
-- memory that depends on the number of tasks (and of timeline columns), not
-- on the simulated duration.
local LW = require("taskvisor.log_writer")

local R = {}

-- ".000" .. ".999", and the last second worded: a line per event is a clock
-- per event, and a second has many events.
local MILLIS = {}
for i = 0, 999 do MILLIS[i] = string.format(".%03d", i) end
local last_s, last_hms

--- "01:02:03.250" (hours grow past 24) for virtual milliseconds.
function R.clock(ms)
  local s = ms // 1000
  if s ~= last_s then
    last_s, last_hms = s, string.format("%02d:%02d:%02d", s // 3600, s // 60 % 60, s % 60)
  end
  return last_hms .. MILLIS[ms % 1000]
end

--- A duration: "250ms", "12.5s", "3m04.0s", "26h03m04.0s".
function R.dur(ms)
  if ms < 1000 then return string.format("%dms", ms) end
  local s = ms / 1000
  if s < 60 then return string.format("%gs", math.floor(s * 1000 + 0.5) / 1000) end
  local m = ms // 60000
  local rest = (ms % 60000) / 1000
  if m < 60 then return string.format("%dm%04.1fs", m, rest) end
  return string.format("%dh%02dm%04.1fs", m // 60, m % 60, rest)
end

--- The event's line: its virtual time, then tv.log_writer's format.
function R.line(ev, ms) return R.clock(ms) .. " " .. LW.format(ev, false) end

-- States a task row can be in, as the timeline colours them.
local STATES = { "up", "backoff", "down", "idle" }
R.STATES = STATES

--- The summary at virtual time t_end: { tasks = { {name=, ...}, ... }, run = {...} },
--- of the rows the accounting (core.sim_acc, src/lua/lsimacc.c) gives at the
--- end of a run: acc = { duration, columns, tasks = { [name] = row },
--- order = { names }, marks = { { task, t, what } }, nevents, overflow, now,
--- shutdown_at }.
function R.finish(acc, t_end, result)
  local tasks, run = {}, { attempts = 0, restarts = 0, failures = 0, exhaustions = 0, escalations = 0,
    duration_ms = t_end, events = acc.nevents, subscriber_overflows = acc.overflow }
  for i, name in ipairs(acc.order) do
    local k = acc.tasks[name]
    tasks[i] = { name = name, attempts = k.attempts, restarts = k.restarts, failures = k.failures,
      up_ms = k.up, down_ms = k.down + k.backoff, backoff_ms = k.backoff, idle_ms = k.idle,
      longest_outage_ms = k.longest_outage, exhaustions = k.exhaustions, escalations = k.escalations,
      at_shutdown = k.at_shutdown or "ended", final = k.final }
    for _, f in ipairs({ "attempts", "restarts", "failures", "exhaustions", "escalations" }) do
      run[f] = run[f] + k[f]
    end
  end
  run.shutdown_at_ms = acc.shutdown_at
  run.result = result or "ok"
  return { tasks = tasks, run = run }
end

--- The summary as text lines.
function R.text(sum)
  local out = { "", string.format("summary: %d tasks, %s virtual, %d events", #sum.tasks,
    R.dur(sum.run.duration_ms), sum.run.events) }
  local head = { "task", "attempts", "restarts", "up", "down", "backoff", "longest_outage", "exhausted",
    "escalated", "at_shutdown", "final" }
  local rows = { head }
  for _, t in ipairs(sum.tasks) do
    rows[#rows + 1] = { t.name, tostring(t.attempts), tostring(t.restarts), R.dur(t.up_ms), R.dur(t.down_ms),
      R.dur(t.backoff_ms), R.dur(t.longest_outage_ms), tostring(t.exhaustions), tostring(t.escalations),
      t.at_shutdown, t.final }
  end
  local width = {}
  for _, r in ipairs(rows) do
    for i, c in ipairs(r) do width[i] = math.max(width[i] or 0, #c) end
  end
  for _, r in ipairs(rows) do
    local cells = {}
    for i, c in ipairs(r) do
      cells[i] = i == 1 and c .. string.rep(" ", width[i] - #c) or string.rep(" ", width[i] - #c) .. c
    end
    out[#out + 1] = table.concat(cells, "  ")
  end
  local r = sum.run
  out[#out + 1] = string.format("run: attempts=%d restarts=%d failures=%d exhaustions=%d escalations=%d "
    .. "shutdown=%s result=%s", r.attempts, r.restarts, r.failures, r.exhaustions, r.escalations,
    r.shutdown_at_ms and R.clock(r.shutdown_at_ms) or "none", r.result)
  if r.subscriber_overflows > 0 then
    out[#out + 1] = string.format("warning: %d events were dropped (SubscriberOverflow)", r.subscriber_overflows)
  end
  return out
end

local COLOURS = { up = "#3a9d5d", backoff = "#e8a33d", down = "#c8553d", idle = "#b8c4d6" }

local function esc(s) return (s:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"):gsub('"', "&quot;")) end

--- The timeline as an SVG document: a row per task, each column coloured by
--- the state the task spent most of that slice of time in; ticks mark
--- restarts, triangles escalations and budget exhaustions.
function R.svg(acc, sum, title)
  local n, d = acc.columns, math.max(1, acc.duration)
  local label, rowh, top = 140, 22, 40
  local w = label + n + 20
  local h = top + rowh * #acc.order + 50
  local out = { string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
    .. 'viewBox="0 0 %d %d" font-family="monospace" font-size="12">', w, h, w, h),
    string.format('<rect width="%d" height="%d" fill="white"/>', w, h),
    string.format('<text x="10" y="20">%s</text>', esc(title or "taskvisor simulate")) }
  for i, name in ipairs(acc.order) do
    local k = acc.tasks[name]
    local y = top + (i - 1) * rowh
    out[#out + 1] = string.format('<text x="10" y="%d">%s</text>', y + 15, esc(name))
    -- runs of columns of one colour become one rect
    local run_state, run_from = nil, 0
    local function flush(to)
      if run_state then
        out[#out + 1] = string.format('<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s</title></rect>',
          label + run_from, y + 3, to - run_from, rowh - 8, COLOURS[run_state], run_state)
      end
    end
    for c = 0, n - 1 do
      local col, best, most = k.cols[c], nil, 0
      for _, st in ipairs(STATES) do
        local v = col and col[st] or 0
        if v > most then best, most = st, v end
      end
      if best ~= run_state then
        flush(c)
        run_state, run_from = best, c
      end
    end
    flush(n)
    for c = 0, n - 1 do
      if k.ticks[c] then
        out[#out + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#222" stroke-width="1"/>',
          label + c, y + 1, label + c, y + 5)
      end
    end
  end
  for _, m in ipairs(acc.marks) do
    local i
    for j, name in ipairs(acc.order) do if name == m.task then i = j break end end
    if i then
      local x = label + math.min(n - 1, math.floor(m.t / (d / n)))
      local y = top + (i - 1) * rowh + rowh - 5
      out[#out + 1] = string.format('<path d="M%d %d l-5 8 h10 z" fill="%s"><title>%s at %s</title></path>', x, y,
        m.what == "escalated" and "#7a1fa2" or "#000", m.what, R.clock(m.t))
    end
  end
  local ly = top + rowh * #acc.order + 20
  out[#out + 1] = string.format('<text x="%d" y="%d">0</text><text x="%d" y="%d" text-anchor="end">%s</text>',
    label, ly, label + n, ly, R.clock(acc.duration))
  local lx = label + 60
  for _, st in ipairs(STATES) do
    out[#out + 1] = string.format('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>',
      lx, ly + 8, COLOURS[st], lx + 14, ly + 17, st)
    lx = lx + 90
  end
  out[#out + 1] = string.format('<text x="%d" y="%d">| restart  &#9650; escalated (purple) / exhausted</text>', lx, ly + 17)
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n") .. "\n"
end

return R
