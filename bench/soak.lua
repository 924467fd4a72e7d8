-- bench/soak.lua [LUA_RESTARTS] [PROC_RESTARTS]: a long run under restart
-- load, checked for leaks and lost events. Run by the host (scripts/soak.sh):
--   build/taskvisor bench/soak.lua 1000000 10000
-- Lua tasks (instant successes, failures with no backoff, timeouts, yields)
-- and process tasks (exit 0, exit 1, output as events, output to a rotated
-- log file) restart until LUA_RESTARTS and PROC_RESTARTS attempts were
-- started, with three subscribers attached (one counting everything, one
-- too slow for its queue, one raising now and then). Resident memory and open
-- fds are sampled while it runs. Checks, each printed as ok/FAIL:
--   RSS after warm-up grows at most 5%; fds flat (the same set at the end as
--   before, bounded while running); no zombie; every attempt has exactly one
--   outcome (TaskStarting = TaskStopped + TaskFailed, per task); every
--   TaskAdded has one TaskRemoved; every event accounted for, per subscriber:
--   received + dropped by overflow + diagnostics it missed = published
--   (seq numbers: the counting subscriber sees every seq, in order).
-- Exit status 0 when every check passes. Figures go to stdout.
local tv = require("taskvisor")

local LUA_TARGET = math.tointeger(tonumber(arg[1]) or 1000000)
local PROC_TARGET = math.tointeger(tonumber(arg[2]) or 10000)
local SANITIZED = os.getenv("TASKVISOR_SANITIZED") ~= nil
io.stdout:setvbuf("line")

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local PID = tonumber(read("/proc/self/stat"):match("^(%d+)"))
local function rss_kb() return tonumber(read("/proc/self/status"):match("VmRSS:%s*(%d+)")) end

-- The host's open fds (0..4095), as a set and a count. /proc/self/fdinfo/N
-- exists only for an open fd N (a listing by a child would race with the
-- pipe it is read through).
local function fd_set()
  local set, n = {}, 0
  for fd = 0, 4095 do
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
local function children()
  local zombies, alive = {}, {}
  local p = io.popen("ls /proc")
  local listing = p:read("a")
  p:close() -- (reaps the listing's own shell before looking)
  for name in listing:gmatch("%d+") do
    local stat = read("/proc/" .. name .. "/stat")
    local state, ppid, pgrp
    if stat then state, ppid, pgrp = stat:match(".*%) (%a) (%d+) (%d+)") end
    if tonumber(ppid) == PID then
      local list = state == "Z" and zombies or alive
      list[#list + 1] = string.format("%s (%s, group %s)", name,
        (read("/proc/" .. name .. "/comm") or "?"):gsub("\n", ""), pgrp)
    end
  end
  return zombies, alive
end

-- One-time descriptors exist before the baseline is taken (libuv's loop and
-- signal pipes, and the spare fd libuv opens on /dev/null with its first
-- stream, for EMFILE): a short run with one process whose output is read.
do
  local s = tv.supervisor()
  assert(s:add(tv.process({ name = "prime", cmd = { "true" }, restart = "never", stdout = "events" })))
  assert(s:run())
end
local fds_before_set, fds_before = fd_set()

-- ---- the supervisor and what watches it --------------------------------------

local sup = tv.supervisor({ grace = 10 })
local DIAG = { SubscriberOverflow = true, SubscriberPanicked = true }

-- Counts everything; its queue is large enough never to overflow. (Queues are
-- rings allocated whole: RSS grows as a ring's head first walks through it, so
-- they stay small enough to be walked during the warm-up.)
local tally = { received = 0, diag = 0, first = nil, last = nil, gaps = 0, kinds = {},
  starting = {}, stopped = {}, failed = {}, added = {}, removed = {}, overflow_about = {},
  panics_about = {}, lua_starts = 0, proc_starts = 0 }
local PROC = {}
assert(sup:subscribe({ name = "tally", queue = 1 << 14, on_event = function(ev)
  local t = tally
  t.received = t.received + 1
  if t.last and ev.seq ~= t.last + 1 then t.gaps = t.gaps + 1 end
  t.first = t.first or ev.seq
  t.last = ev.seq
  local k = ev.kind
  t.kinds[k] = (t.kinds[k] or 0) + 1
  if DIAG[k] then
    t.diag = t.diag + 1
    if k == "SubscriberOverflow" then t.overflow_about[ev.task] = (t.overflow_about[ev.task] or 0) + 1 end
    if k == "SubscriberPanicked" then t.panics_about[ev.task] = (t.panics_about[ev.task] or 0) + 1 end
  elseif k == "TaskStarting" then
    t.starting[ev.task] = (t.starting[ev.task] or 0) + 1
    if PROC[ev.task] then t.proc_starts = t.proc_starts + 1 else t.lua_starts = t.lua_starts + 1 end
  elseif k == "TaskStopped" then
    t.stopped[ev.task] = (t.stopped[ev.task] or 0) + 1
  elseif k == "TaskFailed" then
    t.failed[ev.task] = (t.failed[ev.task] or 0) + 1
  elseif k == "TaskAdded" then
    t.added[ev.task] = (t.added[ev.task] or 0) + 1
  elseif k == "TaskRemoved" then
    t.removed[ev.task] = (t.removed[ev.task] or 0) + 1
  end
end }))

-- Too slow for its queue now and then: drops, and SubscriberOverflow about it.
local lossy = { received = 0, diag = 0 }
assert(sup:subscribe({ name = "lossy", queue = 64, on_event = function(ev)
  lossy.received = lossy.received + 1
  if DIAG[ev.kind] then lossy.diag = lossy.diag + 1 end
  if lossy.received % 20000 == 0 then tv.sleep(0.01) end
end }))

-- Raises on every 5,000th event it gets (never on a diagnostic).
local panicky = { received = 0, diag = 0, raised = 0 }
assert(sup:subscribe({ name = "panicky", queue = 1 << 12, on_event = function(ev)
  panicky.received = panicky.received + 1
  if DIAG[ev.kind] then panicky.diag = panicky.diag + 1; return end
  if panicky.received % 5000 == 0 then
    panicky.raised = panicky.raised + 1
    error("soak: planned subscriber failure")
  end
end }))

-- ---- the load ----------------------------------------------------------------

local lua_names, proc_names = {}, {}
local function lua_task(name, opts)
  opts.name = name
  lua_names[#lua_names + 1] = name
  assert(sup:add(tv.task(opts)))
end
for i = 1, 40 do lua_task("ok" .. i, { restart = "always", run = function() end }) end
for i = 1, 20 do lua_task("fail" .. i, { restart = "always", backoff = { first = 0 },
  run = function() error("soak failure") end }) end
for i = 1, 20 do lua_task("yield" .. i, { restart = "always",
  run = function(ctx) ctx:yield(); tv.sleep(0) end }) end
for i = 1, 4 do lua_task("timeout" .. i, { restart = "always", timeout = 0.001, backoff = { first = 0 },
  run = function(ctx) ctx:sleep(0.01) end }) end

local logdir = os.tmpname()
os.remove(logdir)
assert(os.execute("mkdir -p " .. logdir))
local function proc_task(name, opts)
  opts.name = name
  PROC[name] = true
  proc_names[#proc_names + 1] = name
  assert(sup:add(tv.process(opts)))
end
proc_task("true", { cmd = { "true" }, restart = "always" })
proc_task("false", { cmd = { "false" }, restart = "always", backoff = { first = 0 } })
proc_task("talker", { cmd = { "/bin/sh", "-c", "echo out; echo err >&2" }, restart = "always",
  stdout = "events", stderr = "events" })
proc_task("logger", { cmd = { "/bin/sh", "-c", "echo a line for the log" }, restart = "always",
  stdout = { file = logdir .. "/soak.log", max_bytes = 4096, backups = 2 } })

-- ---- sampling and the end of the run ---------------------------------------

-- Samples are folded as they come (a growing list would be growth of its own):
-- warm-up = the first 25% of the Lua restarts.
local S = { n = 0, base = 0, peak = 0, last = 0, fmin = math.huge, fmax = 0, shown = {}, stride = 1 }
local function sample(progress, rss, fds)
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
local t0, t_lua, t_proc
local lua_removed, proc_removed = false, false

assert(sup:add(tv.task({ name = "~monitor", restart = "never", run = function(ctx)
  local last_sample = 0
  while not (lua_removed and proc_removed) do
    ctx:sleep(0.05)
    if not lua_removed and tally.lua_starts >= LUA_TARGET then
      t_lua = tv.monotime() - t0
      for _, n in ipairs(lua_names) do sup:remove(n) end
      lua_removed = true
    end
    if not proc_removed and tally.proc_starts >= PROC_TARGET then
      t_proc = tv.monotime() - t0
      for _, n in ipairs(proc_names) do sup:remove(n) end
      proc_removed = true
    end
    if tv.monotime() - last_sample >= 0.1 and not lua_removed then
      last_sample = tv.monotime()
      local _, n = fd_set()
      sample(tally.lua_starts / LUA_TARGET, rss_kb(), n)
    end
  end
end })))

t0 = tv.monotime()
local ok, err = sup:run()
local elapsed = tv.monotime() - t0
local fds_after_set, fds_after = fd_set()
local zombies, alive = children()
os.execute("rm -rf " .. logdir)

-- ---- figures and checks --------------------------------------------------------------

local failures = 0
local function check(cond, what, detail)
  print(string.format("%s %s%s", cond and "ok  " or "FAIL", what, detail and (": " .. detail) or ""))
  if not cond then failures = failures + 1 end
end

print(string.format("soak: lua_restarts=%d (target %d, %.1f s, %.0f/s) proc_restarts=%d (target %d, %.1f s, %.0f/s) "
  .. "run=%.1f s", tally.lua_starts, LUA_TARGET, t_lua or -1, tally.lua_starts / (t_lua or elapsed),
  tally.proc_starts, PROC_TARGET, t_proc or -1, tally.proc_starts / (t_proc or elapsed), elapsed))
local published = tally.last and (tally.last - tally.first + 1) or 0
print(string.format("events: published=%d tally=%d lossy=%d (dropped %d) panicky=%d (dropped %d, raised %d) "
  .. "diagnostics=%d output_lines=%d", published, tally.received, lossy.received,
  tally.overflow_about.lossy or 0, panicky.received, tally.overflow_about.panicky or 0, panicky.raised,
  tally.diag, tally.kinds.TaskOutput or 0))

local base, peak = S.base, S.peak
local growth = base > 0 and (peak - base) / base * 100 or 0
local shown = {}
for i, v in ipairs(S.shown) do shown[i] = tostring(v) end
print(string.format("rss_kb: warm-up peak=%d later peak=%d last=%d growth=%.1f%% samples=%d [%s]", base, peak,
  S.last, growth, S.n, table.concat(shown, " ")))
local fmin, fmax = S.fmin, S.fmax
print(string.format("fds: before=%d during=%d..%d after=%d", fds_before, S.n > 0 and fmin or 0, fmax, fds_after))
print(string.format("lua_heap_kb=%.0f", collectgarbage("count")))

check(ok == true, "run returned true", tostring(err))
check(tally.lua_starts >= LUA_TARGET and tally.proc_starts >= PROC_TARGET, "both targets reached")
check(S.n >= 3, "enough samples", S.n .. " samples")
if SANITIZED then
  print("skip RSS growth bound: ASan's quarantine and shadow memory grow by design")
else
  check(peak <= base * 1.05, "RSS after warm-up within 5% of the warm-up peak",
    string.format("%.1f%%", growth))
end
local same_fds = fds_after == fds_before
for fd in pairs(fds_after_set) do same_fds = same_fds and fds_before_set[fd] == true end
local function fd_list(set)
  local l = {}
  for fd in pairs(set) do l[#l + 1] = fd end
  table.sort(l)
  return table.concat(l, ",")
end
check(same_fds, "the same fds open after the run as before",
  string.format("%d -> %d (%s -> %s)", fds_before, fds_after, fd_list(fds_before_set), fd_list(fds_after_set)))
-- while running: the pipes and log files of the process tasks running at that
-- moment (at most 2 each), never a growing number
check(S.n == 0 or fmax <= fds_before + 8, "fds bounded while running",
  string.format("%d..%d with %d before", fmin, fmax, fds_before))
check(#zombies == 0, "no zombie children", table.concat(zombies, ", "))
check(#alive == 0, "no child left running", table.concat(alive, ", "))
check(tally.gaps == 0 and published == tally.received, "the counting subscriber saw every seq in order",
  string.format("%d gaps, %d of %d", tally.gaps, tally.received, published))
check((tally.overflow_about.tally or 0) == 0, "the counting subscriber never overflowed")
local function accounted(name, s)
  local dropped = tally.overflow_about[name] or 0
  local missed_diag = tally.diag - s.diag
  local sum = s.received + dropped + missed_diag
  check(sum == published, name .. ": received + dropped + diagnostics missed = published",
    string.format("%d + %d + %d = %d vs %d", s.received, dropped, missed_diag, sum, published))
end
accounted("lossy", lossy)
accounted("panicky", panicky)
check((tally.overflow_about.lossy or 0) > 0, "the slow subscriber did overflow (the check above means something)")
check((tally.panics_about.panicky or 0) == panicky.raised and panicky.raised > 0,
  "one SubscriberPanicked per raise", (tally.panics_about.panicky or 0) .. " for " .. panicky.raised)
local bad_outcomes, bad_regs = {}, {}
for name, n in pairs(tally.starting) do
  local ended = (tally.stopped[name] or 0) + (tally.failed[name] or 0)
  if ended ~= n then bad_outcomes[#bad_outcomes + 1] = string.format("%s %d/%d", name, ended, n) end
end
for name, n in pairs(tally.added) do
  if n ~= 1 or tally.removed[name] ~= 1 then bad_regs[#bad_regs + 1] = name end
end
check(#bad_outcomes == 0, "every attempt has one outcome (per task)", table.concat(bad_outcomes, ", "))
check(#bad_regs == 0, "every TaskAdded has one TaskRemoved", table.concat(bad_regs, ", "))
check(tally.kinds.TaskAdded == #lua_names + #proc_names + 1, "every task was added",
  tostring(tally.kinds.TaskAdded))
check(#sup:list() == 0, "nothing left registered")
print(failures == 0 and "soak: PASS" or ("soak: FAIL (" .. failures .. " checks)"))
os.exit(failures == 0 and 0 or 1)
