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
io.stdout:setvbuf("line")
local U = dofile(arg[0]:match("^(.-)[^/]*$") .. "soak_util.lua")

local before = U.baseline(tv)

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

-- warm-up = the first 25% of the Lua restarts
local S = U.sampler()
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
      S.take(tally.lua_starts / LUA_TARGET)
    end
  end
end })))

t0 = tv.monotime()
local ok, err = sup:run()
local elapsed = tv.monotime() - t0
local after = U.after_run()
os.execute("rm -rf " .. logdir)

-- ---- figures and checks --------------------------------------------------------------

local C = U.checks()
local check = C.check

print(string.format("soak: lua_restarts=%d (target %d, %.1f s, %.0f/s) proc_restarts=%d (target %d, %.1f s, %.0f/s) "
  .. "run=%.1f s", tally.lua_starts, LUA_TARGET, t_lua or -1, tally.lua_starts / (t_lua or elapsed),
  tally.proc_starts, PROC_TARGET, t_proc or -1, tally.proc_starts / (t_proc or elapsed), elapsed))
local published = tally.last and (tally.last - tally.first + 1) or 0
print(string.format("events: published=%d tally=%d lossy=%d (dropped %d) panicky=%d (dropped %d, raised %d) "
  .. "diagnostics=%d output_lines=%d", published, tally.received, lossy.received,
  tally.overflow_about.lossy or 0, panicky.received, tally.overflow_about.panicky or 0, panicky.raised,
  tally.diag, tally.kinds.TaskOutput or 0))

U.print_resources(S, before, after)
print(string.format("lua_heap_kb=%.0f", collectgarbage("count")))

check(ok == true, "run returned true", tostring(err))
check(tally.lua_starts >= LUA_TARGET and tally.proc_starts >= PROC_TARGET, "both targets reached")
-- while running: the pipes and log files of the process tasks running at that
-- moment (at most 2 each), never a growing number
C.resources(S, before, after, 8)
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
C.finish("soak")
