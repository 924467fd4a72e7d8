-- bench/scale.lua MODE N [ARG]: one point of a scale curve (bench/scale.sh
-- runs them all and plots them; results in BENCHMARKS.md).
--   procs N        host RSS, CPU and wakeups (voluntary context switches of
--                  every host thread, /proc/self/task/*/status) over 10 s
--                  while N `sleep` children sit idle
--   latency N STAMP  N+1 attempts of STAMP (bench/stamp.c) under restart =
--                  "always", no backoff: the time from one child's last
--                  instruction to the next child's first (p50, p99, max)
--   shutdown N     N `sleep` children (they exit on SIGTERM): time from
--                  sup:shutdown() to sup:run() returning
local tv = require("taskvisor")

local mode, n = arg[1], tonumber(arg[2] or "")
assert(mode and n, "usage: scale.lua procs|latency|shutdown N [STAMP]")

local function status_kib(field)
  for line in io.lines("/proc/self/status") do
    local v = line:match("^" .. field .. ":%s+(%d+)")
    if v then return tonumber(v) end
  end
end

-- Voluntary and involuntary context switches of every thread of the host.
local function switches()
  local vol, invol = 0, 0
  local p = io.popen("ls /proc/self/task")
  local tids = {}
  for tid in p:lines() do tids[#tids + 1] = tid end
  p:close()
  for _, tid in ipairs(tids) do
    local f = io.open("/proc/self/task/" .. tid .. "/status")
    if f then
      for line in f:lines() do
        local v = line:match("^voluntary_ctxt_switches:%s+(%d+)")
        if v then vol = vol + tonumber(v) end
        v = line:match("^nonvoluntary_ctxt_switches:%s+(%d+)")
        if v then invol = invol + tonumber(v) end
      end
      f:close()
    end
  end
  return vol, invol, #tids
end

local function cpu_ticks()
  local f = assert(io.open("/proc/self/stat"))
  local s = f:read("a")
  f:close()
  local rest = s:match("%) (.*)$")
  local fields = {}
  for w in rest:gmatch("%S+") do fields[#fields + 1] = w end
  return tonumber(fields[12]) + tonumber(fields[13]) -- utime + stime (fields 14, 15)
end

-- Waits inside a task until `count` children are running (no subscriber:
-- the host is measured as it is with none).
local function wait_started(sup, count)
  while #sup:snapshot() < count + 1 do tv.sleep(0.05) end -- + the probe itself
end

local function sleepers(sup, count)
  for i = 1, count do
    assert(sup:add(tv.process({ name = "s" .. i, cmd = { "sleep", "3600" }, restart = "never" })))
  end
end

if mode == "procs" then
  local sup = tv.supervisor({ grace = 10 })
  local rss0 = status_kib("VmRSS")
  sleepers(sup, n)
  local out
  sup:add(tv.once("probe", function(ctx)
    wait_started(sup, n)
    ctx:sleep(1) -- let the start-up settle
    local v0, i0 = switches()
    local c0, t0 = cpu_ticks(), tv.monotime()
    ctx:sleep(10)
    local v1, i1, threads = switches()
    local c1, t1 = cpu_ticks(), tv.monotime()
    local dt = t1 - t0
    -- the probe itself wakes once (its own 10 s timer) and reads /proc
    out = string.format("scale procs: children=%d rss_kib=%d rss_before_kib=%d threads=%d "
      .. "voluntary_per_s=%.2f involuntary_per_s=%.2f cpu_pct=%.2f window_s=%.1f",
      n, status_kib("VmRSS"), rss0, threads, (v1 - v0) / dt, (i1 - i0) / dt,
      (c1 - c0) / 100 / dt * 100, dt)
    sup:shutdown()
  end))
  assert(sup:run())
  print(out)
elseif mode == "latency" then
  local stamp = assert(arg[3], "latency needs the stamp program")
  local file = os.tmpname()
  os.remove(file)
  local sup = tv.supervisor({ grace = 5 })
  assert(sup:add(tv.process({ name = "stamp", cmd = { stamp, file }, restart = "always",
    backoff = { first = 0, max = 0 }, max_retries = n })))
  assert(sup:run())
  local starts, ends = {}, {}
  for line in io.lines(file) do
    local s, e = line:match("^(%d+) (%d+)$")
    starts[#starts + 1], ends[#ends + 1] = tonumber(s), tonumber(e)
  end
  os.remove(file)
  assert(#starts == n + 1, "expected " .. (n + 1) .. " attempts, got " .. #starts)
  local lat = {}
  for i = 1, n do lat[i] = (starts[i + 1] - ends[i]) / 1e6 end
  table.sort(lat)
  local function pct(p) return lat[math.max(1, math.ceil(#lat * p))] end
  print(string.format("scale latency: restarts=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f",
    n, pct(0.5), pct(0.9), pct(0.99), lat[#lat]))
elseif mode == "shutdown" then
  local sup = tv.supervisor({ grace = 10 })
  sleepers(sup, n)
  local t0
  sup:add(tv.once("probe", function()
    wait_started(sup, n)
    t0 = tv.monotime()
    sup:shutdown()
  end))
  assert(sup:run())
  local dt = tv.monotime() - t0
  print(string.format("scale shutdown: children=%d shutdown_ms=%.1f", n, dt * 1000))
else
  error("unknown mode " .. tostring(mode))
end
