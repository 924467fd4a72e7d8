-- bench/soak_util.lua: what the soaks (bench/soak.lua, bench/churn.lua) share:
-- the host's resident memory, open fds and children read from /proc, samples
-- folded as they come, and the ok/FAIL checks on them. Loaded with
--   local U = dofile(arg[0]:match("^(.-)[^/]*$") .. "soak_util.lua")
local U = {}

U.SANITIZED = os.getenv("TASKVISOR_SANITIZED") ~= nil

function U.read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local PID = tonumber(U.read("/proc/self/stat"):match("^(%d+)"))
function U.rss_kb() return tonumber(U.read("/proc/self/status"):match("VmRSS:%s*(%d+)")) end

-- The host's open fds (0..`top`, default 4095), as a set and a count.
-- /proc/self/fdinfo/N exists only for an open fd N (a listing by a child
-- would race with the pipe it is read through). Each probe costs: the whole
-- range takes about 30 ms.
function U.fd_set(top)
  local set, n = {}, 0
  for fd = 0, top or 4095 do
    local f = io.open("/proc/self/fdinfo/" .. fd)
    if f then
      f:close()
      set[fd] = true
      n = n + 1
    end
  end
  return set, n
end

-- Children of the host: zombies, and anything still alive.
function U.children()
  local zombies, alive = {}, {}
  local p = io.popen("ls /proc")
  local listing = p:read("a")
  p:close() -- (reaps the listing's own shell before looking)
  for name in listing:gmatch("%d+") do
    local stat = U.read("/proc/" .. name .. "/stat")
    local state, ppid, pgrp
    if stat then state, ppid, pgrp = stat:match(".*%) (%a) (%d+) (%d+)") end
    if tonumber(ppid) == PID then
      local list = state == "Z" and zombies or alive
      list[#list + 1] = string.format("%s (%s, group %s)", name,
        (U.read("/proc/" .. name .. "/comm") or "?"):gsub("\n", ""), pgrp)
    end
  end
  return zombies, alive
end

-- The fds open before the run: { set =, n = }. One-time descriptors exist
-- before it is taken (libuv's loop and signal pipes, and the spare fd libuv
-- opens on /dev/null with its first stream, for EMFILE): a short run with one
-- process whose output is read.
function U.baseline(tv)
  local s = tv.supervisor()
  assert(s:add(tv.process({ name = "prime", cmd = { "true" }, restart = "never", stdout = "events" })))
  assert(s:run())
  local set, n = U.fd_set()
  return { set = set, n = n }
end

-- What is left once the run returned: { set =, n = } of fds, and children.
function U.after_run()
  local set, n = U.fd_set()
  local zombies, alive = U.children()
  return { set = set, n = n, zombies = zombies, alive = alive }
end

-- Samples of RSS and fds, folded as they come (a growing list would be growth
-- of its own): warm-up = progress up to 0.25. S.take(progress) samples now;
-- fds are probed up to `fd_top` (U.fd_set).
function U.sampler(fd_top)
  local S = { n = 0, base = 0, peak = 0, last = 0, fmin = math.huge, fmax = 0, shown = {}, stride = 1 }
  function S.take(progress)
    local rss = U.rss_kb()
    local _, fds = U.fd_set(fd_top)
    S.n = S.n + 1
    if progress <= 0.25 then S.base = math.max(S.base, rss) else S.peak = math.max(S.peak, rss) end
    S.last = rss
    S.fmin, S.fmax = math.min(S.fmin, fds), math.max(S.fmax, fds)
    if (S.n - 1) % S.stride == 0 then -- keep at most 32, evenly spread, to print
      S.shown[#S.shown + 1] = rss
      if #S.shown == 32 then
        for i = 1, 16 do S.shown[i] = S.shown[2 * i - 1] end
        for i = 17, 32 do S.shown[i] = nil end
        S.stride = S.stride * 2
      end
    end
  end
  function S.growth() return S.base > 0 and (S.peak - S.base) / S.base * 100 or 0 end
  return S
end

local function fd_list(set)
  local l = {}
  for fd in pairs(set) do l[#l + 1] = fd end
  table.sort(l)
  return table.concat(l, ",")
end

-- The RSS and fd figures of a run (two lines).
function U.print_resources(S, before, after)
  local shown = {}
  for i, v in ipairs(S.shown) do shown[i] = tostring(v) end
  print(string.format("rss_kb: warm-up peak=%d later peak=%d last=%d growth=%.1f%% samples=%d [%s]", S.base,
    S.peak, S.last, S.growth(), S.n, table.concat(shown, " ")))
  print(string.format("fds: before=%d during=%d..%d after=%d", before.n, S.n > 0 and S.fmin or 0, S.fmax,
    after.n))
end

-- Checks, each printed as ok/FAIL: C.check(cond, what, detail); C.resources
-- checks the RSS and fd figures; C.finish(label) prints the verdict and exits
-- (0 when every check passed).
function U.checks()
  local C = { failures = 0 }
  function C.check(cond, what, detail)
    print(string.format("%s %s%s", cond and "ok  " or "FAIL", what, detail and (": " .. detail) or ""))
    if not cond then C.failures = C.failures + 1 end
  end

  -- Enough samples; RSS after warm-up within 5% of the warm-up peak (not
  -- under ASan, nor when `skip_rss` says why not); the same fds after as
  -- before, at most before + `fd_slack` while running; no child left, zombie
  -- or alive.
  function C.resources(S, before, after, fd_slack, skip_rss)
    C.check(S.n >= 3, "enough samples", S.n .. " samples")
    if U.SANITIZED then
      print("skip RSS growth bound: ASan's quarantine and shadow memory grow by design")
    elseif skip_rss then
      print("skip RSS growth bound: " .. skip_rss)
    else
      C.check(S.peak <= S.base * 1.05, "RSS after warm-up within 5% of the warm-up peak",
        string.format("%.1f%%", S.growth()))
    end
    local same = after.n == before.n
    for fd in pairs(after.set) do same = same and before.set[fd] == true end
    C.check(same, "the same fds open after the run as before",
      string.format("%d -> %d (%s -> %s)", before.n, after.n, fd_list(before.set), fd_list(after.set)))
    C.check(S.n == 0 or S.fmax <= before.n + fd_slack, "fds bounded while running",
      string.format("%d..%d with %d before", S.fmin, S.fmax, before.n))
    C.check(#after.zombies == 0, "no zombie children", table.concat(after.zombies, ", "))
    C.check(#after.alive == 0, "no child left running", table.concat(after.alive, ", "))
  end

  function C.finish(label)
    print(C.failures == 0 and (label .. ": PASS") or (label .. ": FAIL (" .. C.failures .. " checks)"))
    os.exit(C.failures == 0 and 0 or 1)
  end
  return C
end

return U
