-- bench/simulate.lua [TASKS] [HOURS] [lines]: virtual-time throughput.
-- TASKS process tasks (default 100), each crashing 10 virtual seconds into
-- every attempt (a trace), restarted with backoff (first 1 s, max 5 s, factor
-- 2, full jitter), simulated for HOURS virtual hours (default 24). With
-- "lines", each event is also formatted as `taskvisor simulate` prints it.
-- Prints CPU seconds, attempts and events, the Lua heap's peak (sampled) and
-- the process's peak RSS: run it at 6 h and 24 h to see memory stay flat.
local tv = require("taskvisor")
local S = require("taskvisor.simulate")
local R = require("taskvisor.simulate_report")

local ntasks = tonumber(arg[1]) or 100
local hours = tonumber(arg[2]) or 24
local lines = arg[3] == "lines"

local tasks, trace = {}, {}
for i = 1, ntasks do
  local name = "svc" .. i
  tasks[i] = tv.process{ name = name, cmd = { "/nonexistent/svc" }, restart = "always",
    backoff = { first = 1, max = 5, factor = 2, jitter = "full" } }
  trace[name] = { { run = 10, exit = 1 } }
end
local cfg = tv.config{ supervisor = { grace = 5 }, tasks = tasks }

local peak_kb, n, bytes = 0, 0, 0
local t0 = os.clock()
local res = S.run(cfg, { for_ = hours * 3600, seed = 1, trace = trace, on_event = function(ev, ms)
  n = n + 1
  if lines then bytes = bytes + #R.line(ev, ms) end
  if n % 20000 == 0 then
    local kb = collectgarbage("count")
    if kb > peak_kb then peak_kb = kb end
  end
end })
local cpu = os.clock() - t0
local rss = "?"
local f = io.open("/proc/self/status")
if f then
  rss = f:read("a"):match("VmHWM:%s*(%d+ kB)") or "?"
  f:close()
end
print(string.format("simulate: tasks=%d virtual=%dh attempts=%d events=%d cpu=%.2fs events/s=%.0f "
  .. "lua_heap_peak=%.0fkB peak_rss=%s%s", ntasks, hours, res.summary.run.attempts, res.summary.run.events, cpu,
  res.summary.run.events / cpu, peak_kb, rss, lines and string.format(" line_bytes=%d", bytes) or ""))
