-- bench/processes.lua [N] [RAW_SPAWN]: process task throughput and memory.
-- 1. restarts/s of a process task running /bin/false (exits at once with
--    code 1) under restart = "always" with no backoff, N attempts, with no
--    subscriber and with one counting subscriber;
-- 2. in the same run, RAW_SPAWN (bench/raw_spawn.c, uv_spawn alone) spawning
--    and reaping /bin/false N times: the baseline; then the same with
--    posix_spawn (RAW_SPAWN --posix), the cheapest spawn glibc has;
-- 3. the host's resident memory before and while it supervises 100
--    `sleep 1000` children.
local tv = require("taskvisor")

local n = tonumber(arg[1]) or 2000
local raw = arg[2]

local function restarts(with_sub)
  local sup = tv.supervisor({ grace = 5 })
  local events = 0
  if with_sub then
    assert(sup:subscribe({ name = "count", queue = 4096, on_event = function() events = events + 1 end }))
  end
  -- max_retries = n - 1: the task ends by itself after n attempts
  assert(sup:add(tv.process({ name = "false", cmd = { "/bin/false" }, restart = "always",
    backoff = { first = 0, max = 0 }, max_retries = n - 1 })))
  local t0 = tv.monotime()
  assert(sup:run())
  local dt = tv.monotime() - t0
  print(string.format("processes: restarts attempts=%d subscriber=%s time=%.3fs restarts/s=%.0f%s",
    n, with_sub and "yes" or "no", dt, n / dt, with_sub and (" events=" .. events) or ""))
  return n / dt
end

local function rss_kib()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s+(%d+)")
    if kb then return tonumber(kb) end
  end
end

local rate = restarts(false)
restarts(true)
if raw then
  local p = assert(io.popen(string.format("%q %d /bin/false", raw, n)))
  local out = p:read("a")
  p:close()
  io.write(out)
  local base = tonumber(out:match("spawns/s=(%d+)"))
  if base then print(string.format("processes: restarts/s = %.0f%% of raw uv_spawn", 100 * rate / base)) end
  p = assert(io.popen(string.format("%q --posix %d /bin/false", raw, n)))
  out = p:read("a")
  p:close()
  io.write(out)
  base = tonumber(out:match("spawns/s=(%d+)"))
  if base then print(string.format("processes: restarts/s = %.0f%% of raw posix_spawn", 100 * rate / base)) end
end

collectgarbage()
local before = rss_kib()
local sup = tv.supervisor({ grace = 5 })
for i = 1, 100 do
  assert(sup:add(tv.process({ name = "sleep" .. i, cmd = { "sleep", "1000" }, stop_timeout = 1 })))
end
local during
assert(sup:add(tv.task({ name = "meter", restart = "never", run = function(ctx)
  ctx:sleep(1)
  collectgarbage()
  during = rss_kib()
  sup:shutdown()
end })))
assert(sup:run())
print(string.format("processes: memory children=100 rss_before=%d KiB rss_with_100=%d KiB (%.2f MiB) "
  .. "per_child=%.1f KiB", before, during, during / 1024, (during - before) / 100))
