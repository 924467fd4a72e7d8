-- bench/churn.lua [LUA_JOBS] [PROC_JOBS] [SMALL_KEEP]: unbounded unique-name
-- churn through the controller, checked for leaks and lost outcomes. Run by
-- the host (scripts/soak.sh):
--   build/taskvisor bench/churn.lua 1000000 10000 1000
-- Two submitter tasks submit uniquely named one-shot jobs (ok-N, fail-N, ...)
-- in batches of 100, made per batch and dropped after it, yielding between
-- batches: Lua jobs that return (60%), raise (15%), queue into 16 shared slots
-- of max_slot_queue 2 (10%), `drop_if_running` into the submitter's 4 hot
-- slots (5%) or `replace` into them (10%); and every (LUA_JOBS + PROC_JOBS) /
-- PROC_JOBS jobs a `/bin/true` process job instead. In-flight work is bounded
-- (2,000) by what the counting subscriber has seen settle: a submitter far
-- ahead of the loop is a backlog, not a leak.
-- Phase 1: LUA_JOBS + PROC_JOBS jobs under the default keep_outcomes (10,000);
-- phase 2: a tenth of that under keep_outcomes = SMALL_KEEP. Resident memory
-- and open fds are sampled at every 1/64 of the submissions. Checks, each
-- printed as ok/FAIL, per phase:
--   RSS after warm-up (the first 25% of submissions) grows at most 5% (phase
--   1); fds flat; no zombie, no child left; admitted + rejected = submitted,
--   each rejection the kind its admission allows; per name, every admitted
--   job has one TaskAdded or one later rejection (superseded), every TaskAdded
--   one TaskRemoved, attempts one at a time and each ended; every job ended as
--   its kind must (ok/q/p completed, fail exhausted, hot/drop completed or
--   cancelled) and the counts add up to the admissions; sup:outcomes() holds
--   between min(keep_outcomes, names seen ended) and keep_outcomes entries at
--   every 1/16 (phase 1: in its warm-up), and at the end exactly the last
--   keep_outcomes names to end, each with the status its events showed; a
--   wait for the first job says its outcome was dropped.
-- Exit status 0 when every check passes. Figures go to stdout.
local tv = require("taskvisor")

local LUA_JOBS = math.tointeger(tonumber(arg[1]) or 1000000)
local PROC_JOBS = math.tointeger(tonumber(arg[2]) or 10000)
local SMALL_KEEP = math.tointeger(tonumber(arg[3]) or 1000)
io.stdout:setvbuf("line")
local U = dofile(arg[0]:match("^(.-)[^/]*$") .. "soak_util.lua")

local BATCH, SUBMITTERS, MAX_INFLIGHT = 100, 2, 2000
-- fds are sampled up to here while running (the whole range is kept for
-- before and after): a new fd takes the lowest free number, so a leak shows
-- right above the dozen open before, and the probes cost a tenth
local FD_TOP = 511
local NQ, NHOT = 16, 4
local QSLOTS, HOT = {}, {}
for i = 1, NQ do QSLOTS[i] = "qslot-" .. i end
-- each submitter has its own hot slots (the other's batches would replace its
-- jobs before they ever start: both run within one loop pass)
for s = 0, SUBMITTERS - 1 do
  HOT[s] = {}
  for i = 1, NHOT do HOT[s][i] = string.format("hot-%d-%d", s, i) end
end

local function ok_run() end
local function fail_run() error("churn: planned failure", 0) end
-- (hot-slot jobs: some end before the next batch, most are replaced)
local HOT_RUN = { function(ctx) ctx:yield() end, function(ctx) ctx:sleep(0.001) end,
  function(ctx) ctx:sleep(0.005) end }
local PROC_CMD = { "/bin/true" }

-- Job i: its spec, slot and admission (nil: its own name's slot, "queue").
local function job(i, proc_every)
  local hot = HOT[(i - 1) // BATCH % SUBMITTERS]
  if i % proc_every == 0 then
    return tv.process({ name = "p-" .. i, cmd = PROC_CMD, restart = "never" })
  end
  local r = i % 100
  if r < 60 then return tv.task({ name = "ok-" .. i, restart = "never", run = ok_run }) end
  if r < 75 then return tv.task({ name = "fail-" .. i, restart = "never", run = fail_run }) end
  if r < 85 then
    return tv.task({ name = "q-" .. i, restart = "never", run = ok_run }), QSLOTS[i % NQ + 1], "queue"
  end
  if r < 90 then -- (before the replaces: an idle slot takes the first)
    return tv.task({ name = "drop-" .. i, restart = "never", run = HOT_RUN[i % 3 + 1] }), hot[i % NHOT + 1],
      "drop_if_running"
  end
  return tv.task({ name = "hot-" .. i, restart = "never", run = HOT_RUN[i % 3 + 1] }), hot[i % NHOT + 1],
    "replace"
end
-- What each kind of job may end as, and how it may be turned away at submit.
local ENDS = { ok = { completed = true }, fail = { exhausted = true }, q = { completed = true },
  p = { completed = true }, hot = { completed = true, cancelled = true },
  drop = { completed = true, cancelled = true } }
local REJECTS = { q = "EFULL", drop = "EBUSY" }
local KINDS = { "ok", "fail", "q", "hot", "drop", "p" }

-- One phase: a supervisor with a controller under the churn. Returns its figures.
-- (keep nil: the default, 10,000)
local function churn(keep, lua_jobs, proc_jobs, count_until)
  local sup = tv.supervisor({ grace = 10, keep_outcomes = keep, controller = { max_slot_queue = 2 } })
  local label = string.format("churn[keep_outcomes=%s]", keep or "default")
  keep = keep or 10000
  local total = lua_jobs + proc_jobs
  local proc_every = proc_jobs > 0 and math.max(1, total // proc_jobs) or math.huge
  local r = { label = label, keep = keep, total = total, submitted = 0, admitted = 0, rejected = 0, by_code = {},
    sub = {}, done = 0, checkpoints = 0, bad_checkpoints = {}, S = U.sampler(FD_TOP) }
  for _, k in ipairs(KINDS) do r.sub[k] = { admitted = 0, rejected = 0 } end

  -- The counting subscriber. Per name it keeps only what is in flight:
  -- state = "S" (submitted, not added yet), "A" (added, submission not seen
  -- yet: an idle slot starts at once), "SA" (both); `open` = attempt running;
  -- `ending` = how it ended, set by ActorExhausted / ActorDead / a removal.
  -- The last `keep` names to end, with how, in a ring.
  local t = { received = 0, gaps = 0, kinds = {}, state = {}, open = {}, ending = {},
    submitted = 0, rejected_now = 0, rejected_later = 0, added = 0, removed = 0, settled = 0,
    starting = 0, ended_attempts = 0, ends = {}, bad = 0, bad_first = {},
    ring_name = {}, ring_class = {}, ring_pos = 0 }
  for _, k in ipairs(KINDS) do t.ends[k] = {} end
  t.ends["~"] = {}
  local function bad(what, ev)
    t.bad = t.bad + 1
    if #t.bad_first < 5 then t.bad_first[#t.bad_first + 1] = what .. " " .. tostring(ev.task) end
  end
  assert(sup:subscribe({ name = "tally", queue = 1 << 14, on_event = function(ev)
    t.received = t.received + 1
    if t.last and ev.seq ~= t.last + 1 then t.gaps = t.gaps + 1 end
    t.first = t.first or ev.seq
    t.last = ev.seq
    local k, name = ev.kind, ev.task
    t.kinds[k] = (t.kinds[k] or 0) + 1
    local st = t.state[name]
    if k == "ControllerSubmitted" then
      t.submitted = t.submitted + 1
      if st == nil then t.state[name] = "S" elseif st == "A" then t.state[name] = "SA" else bad("submitted twice", ev) end
    elseif k == "TaskAdded" then
      t.added = t.added + 1
      if st == nil then t.state[name] = "A" elseif st == "S" then t.state[name] = "SA" else bad("added twice", ev) end
    elseif k == "ControllerRejected" then
      if st == nil then
        t.rejected_now = t.rejected_now + 1 -- (sup:submit returned nil)
      elseif st == "S" then
        t.rejected_later = t.rejected_later + 1
        t.settled = t.settled + 1
        t.state[name] = nil
      else
        bad("rejected once added", ev)
      end
    elseif k == "TaskStarting" then
      if t.open[name] then bad("attempt started twice", ev) end
      t.open[name] = true
      t.starting = t.starting + 1
    elseif k == "TaskStopped" or k == "TaskFailed" then
      if not t.open[name] then bad("attempt ended twice", ev) end
      t.open[name] = nil
      t.ended_attempts = t.ended_attempts + 1
    elseif k == "ActorExhausted" then
      t.ending[name] = ev.reason == "policy_exhausted_success" and "completed" or "exhausted"
    elseif k == "ActorDead" then
      t.ending[name] = "dead"
    elseif k == "TaskRemoveRequested" then
      t.ending[name] = t.ending[name] or "cancelled"
    elseif k == "TaskRemoved" then
      local kind = name:match("^(%a+)-")
      if st == "SA" or (st == "A" and kind == nil) then
        t.state[name] = nil
      else
        bad("removed in state " .. tostring(st), ev)
      end
      if t.open[name] then bad("removed with an attempt open", ev) end
      local class = t.ending[name] or "?"
      t.ending[name] = nil
      local ends = t.ends[kind or "~"]
      ends[class] = (ends[class] or 0) + 1
      t.removed = t.removed + 1
      if kind then t.settled = t.settled + 1 end
      local pos = t.ring_pos % keep + 1
      t.ring_pos = pos
      t.ring_name[pos], t.ring_class[pos] = name, class
    end
  end }))

  -- After each batch: RSS and fds sampled at every 1/64 of the submissions,
  -- and sup:outcomes() counted at every 1/16 before `count_until`: at most
  -- `keep`, at least min(keep, names seen ended).
  local smark, omark = 1, 1
  local function progress()
    local p = r.submitted / total
    if p >= smark / 64 then
      r.S.take(p)
      smark = math.floor(p * 64) + 1
    end
    if p >= omark / 16 and omark / 16 < count_until then
      omark = math.floor(p * 16) + 1
      local seen, n = t.removed, 0
      for _ in pairs(sup:outcomes()) do n = n + 1 end
      r.checkpoints = r.checkpoints + 1
      if n > keep or n < math.min(keep, seen) then
        r.bad_checkpoints[#r.bad_checkpoints + 1] = string.format("%d with %d ended", n, seen)
      end
    end
  end

  local function submitter(s)
    return function(ctx)
      for b = s, (total - 1) // BATCH, SUBMITTERS do
        while r.admitted - t.settled > MAX_INFLIGHT do ctx:sleep(0) end
        local batch = {} -- made per batch; dropped after it
        for j = 1, math.min(BATCH, total - b * BATCH) do
          local spec, slot, admission = job(b * BATCH + j, proc_every)
          batch[j] = { task = spec, slot = slot, admission = admission }
        end
        for j = 1, #batch do
          local req = batch[j]
          local kind = req.task.name:match("^(%a+)-")
          local ok, err = sup:submit(req)
          r.submitted = r.submitted + 1
          if ok then
            r.admitted = r.admitted + 1
            r.sub[kind].admitted = r.sub[kind].admitted + 1
          else
            r.rejected = r.rejected + 1
            r.sub[kind].rejected = r.sub[kind].rejected + 1
            local code = tostring(err):match("^(%u+):") or tostring(err)
            r.by_code[code] = (r.by_code[code] or 0) + 1
            if REJECTS[kind] ~= code then r.bad_reject = r.bad_reject or (req.task.name .. ": " .. tostring(err)) end
          end
        end
        batch = nil -- (a suspended coroutine's stack slot would keep it alive)
        progress()
        if b // SUBMITTERS % 16 == 15 then
          -- now and then until the hot slots' jobs ended by themselves (the
          -- next batch's drop_if_running jobs find them idle)
          for _, slot in ipairs(HOT[s]) do
            while sup:slot(slot).status ~= "idle" do ctx:sleep(0.001) end
          end
        else
          ctx:yield()
        end
      end
      r.done = r.done + 1
    end
  end
  for s = 0, SUBMITTERS - 1 do
    assert(sup:add(tv.task({ name = "~submit-" .. s, restart = "never", run = submitter(s) })))
  end

  -- Once every job settled: no slot busy, and the first job's outcome dropped.
  assert(sup:add(tv.task({ name = "~end", restart = "never", run = function(ctx)
    while not (r.done == SUBMITTERS and t.settled == r.admitted) do ctx:sleep(0.01) end
    r.slots_left = #sup:slots()
    r.wait_first = { sup:wait("ok-1", 0) }
  end })))

  r.t0 = tv.monotime()
  local ok, err, _, outcomes = sup:run()
  r.elapsed = tv.monotime() - r.t0
  r.after = U.after_run()
  r.ok, r.err = ok, err
  r.outcomes = ok and err or outcomes
  r.tally, r.sup = t, sup
  return r
end

local C = U.checks()
local check = C.check

-- "k=v" for each entry of a table of counts, sorted, joined by `sep`.
local function counts(tbl, sep)
  local l = {}
  for k, v in pairs(tbl) do l[#l + 1] = k .. "=" .. v end
  table.sort(l)
  return table.concat(l, sep)
end

local function report(r, before, skip_rss)
  local t = r.tally
  local label = r.label
  print(string.format("%s: jobs=%d (lua %d, proc %d) in %.1f s (%.0f/s) admitted=%d rejected=%d (%s) "
    .. "added=%d superseded=%d", label, r.submitted, r.submitted - r.sub.p.admitted - r.sub.p.rejected,
    r.sub.p.admitted + r.sub.p.rejected, r.elapsed, r.submitted / r.elapsed, r.admitted, r.rejected,
    counts(r.by_code, " "), t.added, t.rejected_later))
  local ends = {}
  for _, k in ipairs(KINDS) do ends[#ends + 1] = k .. "{" .. counts(t.ends[k], ",") .. "}" end
  print("ends: " .. table.concat(ends, " "))
  local published = t.last and (t.last - t.first + 1) or 0
  print(string.format("events: published=%d tally=%d", published, t.received))
  U.print_resources(r.S, before, r.after)
  print(string.format("lua_heap_kb=%.0f", collectgarbage("count")))

  check(r.ok == true, label .. " run returned true", tostring(r.err))
  C.resources(r.S, before, r.after, 8, skip_rss)
  check(t.gaps == 0 and published == t.received and (t.kinds.SubscriberOverflow or 0) == 0,
    "the counting subscriber saw every seq in order, never overflowing",
    string.format("%d gaps, %d of %d", t.gaps, t.received, published))
  check(r.submitted == r.total and r.admitted + r.rejected == r.submitted, "admitted + rejected = submitted",
    string.format("%d + %d = %d of %d", r.admitted, r.rejected, r.submitted, r.total))
  check(t.submitted == r.admitted and t.rejected_now == r.rejected,
    "one ControllerSubmitted per admission, one ControllerRejected per rejection",
    string.format("%d/%d, %d/%d", t.submitted, r.admitted, t.rejected_now, r.rejected))
  check(r.bad_reject == nil, "every rejection is the kind its admission allows (EFULL for queue, EBUSY "
    .. "for drop_if_running)", r.bad_reject)
  check(t.bad == 0, "per name: one submission, one TaskAdded or later rejection, one TaskRemoved, "
    .. "attempts one at a time", t.bad .. " " .. table.concat(t.bad_first, "; "))
  check(t.added == t.submitted - t.rejected_later + SUBMITTERS + 1,
    "every admitted job was added or rejected later", string.format("%d added, %d rejected later, %d admitted",
    t.added, t.rejected_later, t.submitted))
  check(t.removed == t.added and next(t.state) == nil, "every TaskAdded has one TaskRemoved",
    string.format("%d / %d", t.removed, t.added))
  check(t.starting == t.ended_attempts and next(t.open) == nil, "every attempt has one end",
    string.format("%d started, %d ended", t.starting, t.ended_attempts))
  local wrong = {}
  for _, k in ipairs(KINDS) do
    local n = 0
    for class, c in pairs(t.ends[k]) do
      n = n + c
      if not ENDS[k][class] then wrong[#wrong + 1] = string.format("%s %s=%d", k, class, c) end
    end
    -- (only hot- jobs are superseded: a replace displaces the queued head)
    if n + (k == "hot" and t.rejected_later or 0) ~= r.sub[k].admitted then
      wrong[#wrong + 1] = string.format("%s ended %d of %d admitted", k, n, r.sub[k].admitted)
    end
  end
  check(#wrong == 0, "every job ended as its kind must (ok/q/p completed, fail exhausted, hot/drop completed "
    .. "or cancelled), each admitted one once (hot: or superseded)", table.concat(wrong, ", "))
  check(r.slots_left == 0, "no slot left busy", tostring(r.slots_left))

  -- the outcomes kept: exactly the last `keep` names to end, as their events said
  local n, missing, mismatched = 0, 0, {}
  for _ in pairs(r.outcomes or {}) do n = n + 1 end
  local want = math.min(r.keep, t.removed)
  for i = 1, want do
    local name, class = t.ring_name[i], t.ring_class[i]
    local o = r.outcomes and r.outcomes[name]
    if not o then
      missing = missing + 1
    elseif o.status ~= class and #mismatched < 5 then
      mismatched[#mismatched + 1] = string.format("%s %s/%s", name, o.status, class)
    end
  end
  check(n == want and missing == 0 and #mismatched == 0,
    "the outcomes kept are the last keep_outcomes names to end, with the status their events showed",
    string.format("%d kept of %d ended (want %d), %d missing, %s", n, t.removed, want, missing,
      table.concat(mismatched, ", ")))
  check(r.checkpoints >= 3 and #r.bad_checkpoints == 0, "sup:outcomes() within min(keep_outcomes, ended) .. "
    .. "keep_outcomes while running", string.format("%d checkpoints %s", r.checkpoints,
    table.concat(r.bad_checkpoints, ", ")))
  local w = r.wait_first or {}
  check(w[1] == nil and tostring(w[2]):find("^ENOENT: no task named 'ok%-1' is running, and no outcome is kept") ~= nil,
    "a wait for the first job says its outcome was dropped", tostring(w[2]))
end

local before = U.baseline(tv)
-- (sup:outcomes() of 10,000 entries is about 2 MB of garbage made at once:
-- the Lua heap peaks a few batches later, and the RSS stepped up after each,
-- so phase 1 counts them well inside its warm-up only)
report(churn(nil, LUA_JOBS, PROC_JOBS, 0.25), before)
report(churn(SMALL_KEEP, LUA_JOBS // 10, PROC_JOBS // 10, 1.01), before,
  "phase 2 starts on phase 1's heap and is too short for a warm-up of its own")
C.finish("churn")
