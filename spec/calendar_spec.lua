-- calendar_spec.lua: calendar schedules (issue 14.6): cron's five fields and
-- systemd's OnCalendar, local time and UTC, daylight saving time, the runs of
-- a supervised task, and `taskvisor check`'s next run times.
local H = require("helpers")
local tv = H.tv
local C = require("taskvisor.calendar")

local function utc(y, mo, d, h, mi, s) -- seconds since the epoch of a UTC time
  local days = os.time({ year = y, month = mo, day = d, hour = 12 }) // 86400 -- (any zone: noon)
  return days * 86400 + (h or 0) * 3600 + (mi or 0) * 60 + (s or 0)
end

local function runs(expr, from, n)
  local cal = assert(C.parse(expr))
  local out = {}
  for i, t in ipairs(cal:upcoming(from, n)) do out[i] = cal:format(t) end
  return out
end

-- The same, computed in a child with the time zone `tz` (zones are read once
-- per process: a child is the only way to change it).
local function runs_in(tz, expr, y, mo, d, h, mi, n)
  local code = string.format([[
    local C = require("taskvisor.calendar")
    local cal = assert(C.parse(%q))
    local t = os.time({ year = %d, month = %d, day = %d, hour = %d, min = %d, sec = 0 })
    for _, x in ipairs(cal:upcoming(t, %d)) do print(cal:format(x)) end]], expr, y, mo, d, h, mi, n)
  local path = H.script(code)
  local out, status = H.sh(string.format("TZ=%s %s %q", tz, H.lua(), path))
  os.remove(path)
  assert.equal(0, status, out)
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  return lines
end

describe("calendar expressions", function()
  local from = utc(2026, 12, 7, 10, 7, 30) -- a Monday
  it("cron's five fields, in UTC", function()
    assert.same({ "2026-12-07 10:10:00 UTC", "2026-12-07 10:15:00 UTC", "2026-12-07 10:20:00 UTC" },
      runs("*/5 * * * * UTC", from, 3))
    assert.same({ "2026-12-08 09:00:00 UTC", "2026-12-09 09:00:00 UTC" }, runs("CRON_TZ=UTC 0 9 * * tue-wed", from, 2))
    assert.same({ "2027-01-01 00:00:00 UTC" }, runs("@yearly UTC", from, 1))
    assert.same({ "2028-02-29 00:00:00 UTC" }, runs("0 0 29 feb * UTC", from, 1)) -- the next leap day
    -- both day fields restricted: either matches (cron's rule)
    assert.same({ "2026-12-14 00:00:00 UTC", "2026-12-15 00:00:00 UTC", "2026-12-21 00:00:00 UTC" },
      runs("0 0 15 * mon UTC", from, 3))
    assert.same({ "2026-12-31 00:00:00 UTC", "2027-01-31 00:00:00 UTC", "2027-03-31 00:00:00 UTC" },
      runs("0 0 31 * * UTC", from, 3)) -- months without a 31st are skipped
  end)

  it("systemd's OnCalendar forms and shorthands, in UTC", function()
    assert.same({ "2026-12-07 11:00:00 UTC", "2026-12-08 09:00:00 UTC" }, runs("Mon..Fri 9,11:00 UTC", from, 2))
    assert.same({ "2026-12-07 10:15:00 UTC", "2026-12-07 10:30:00 UTC" }, runs("*:0/15 UTC", from, 2))
    assert.same({ "2027-01-01 03:00:00 UTC" }, runs("*-*-01 03:00:00 UTC", from, 1))
    assert.same({ "2026-12-08 00:00:00 UTC" }, runs("daily UTC", from, 1))
    assert.same({ "2026-12-14 00:00:00 UTC" }, runs("weekly UTC", from, 1))
    assert.same({ "2026-12-07 10:07:31 UTC", "2026-12-07 10:07:32 UTC" }, runs("*:*:* UTC", from, 2))
  end)

  it("daylight saving time: a skipped time runs once at the end of the gap, a repeated one once", function()
    -- New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT
    assert.same({ "2026-03-08 03:00:00 EDT", "2026-03-09 02:30:00 EDT" },
      runs_in("America/New_York", "30 2 * * *", 2026, 3, 8, 1, 0, 2))
    assert.same({ "2026-03-08 01:55:00 EST", "2026-03-08 03:00:00 EDT", "2026-03-08 03:05:00 EDT" },
      runs_in("America/New_York", "*/5 * * * *", 2026, 3, 8, 1, 50, 3))
    -- 2026-11-01: 02:00 EDT falls back to 01:00 EST; a fixed time runs once...
    assert.same({ "2026-11-01 01:30:00 EDT", "2026-11-02 01:30:00 EST" },
      runs_in("America/New_York", "30 1 * * *", 2026, 11, 1, 0, 50, 2))
    -- ...and one for every hour keeps its interval through the repeated hour
    assert.same({ "2026-11-01 01:00:00 EDT", "2026-11-01 01:30:00 EDT", "2026-11-01 01:00:00 EST",
      "2026-11-01 01:30:00 EST", "2026-11-01 02:00:00 EST" },
      runs_in("America/New_York", "*/30 * * * *", 2026, 11, 1, 0, 50, 5))
    -- local time is the default; UTC is not moved by the zone
    assert.same({ "2026-11-01 09:00:00 UTC" }, runs_in("America/New_York", "0 9 * * * UTC", 2026, 11, 1, 0, 50, 1))
  end)

  it("a bad expression names what is wrong", function()
    local cases = {
      { "61 * * * *", "minute: '61' is out of range %(0 to 59%)" },
      { "* * *", "unexpected" },
      { "0 0 * * 8", "day of week: '8' is out of range" },
      { "*/0 * * * *", "step 0" },
      { "@reboot", "not a calendar time" },
      { "Mon..Fri 25:00", "hour: '25' is out of range" },
      { "", "empty" },
      { "0 0 30 2 * x", "expected five cron fields" },
      { "0 9 * * * Europe/Berlin", "time zone 'Europe/Berlin': only local time and UTC" },
      { "CRON_TZ=Asia/Tokyo 0 9 * * *", "time zone 'Asia/Tokyo'" },
    }
    for _, c in ipairs(cases) do
      local cal, err = C.parse(c[1])
      assert.is_nil(cal, c[1])
      assert.matches(c[2], err)
      assert.matches("calendar '", err, 1, true)
    end
    assert.is_nil((C.parse(5)))
  end)
end)

describe("a task with a calendar", function()
  it("waits for its first time, runs at most once per matching second, and a failure waits for the next one", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    local n = 0
    assert(sup:add(tv.task{ name = "tick", calendar = "*:*:* UTC", run = function()
      n = n + 1
      if n == 2 then error("boom") end
      if n == 3 then sup:shutdown() end
    end }))
    assert.is_true(sup:run())
    local kinds = H.trace(events, "tick")
    assert.same({ "TaskAddRequested", "TaskAdded", "BackoffScheduled#0", "TaskStarting#1", "TaskStopped#1",
      "BackoffScheduled#1", "TaskStarting#2", "TaskFailed#2", "BackoffScheduled#2", "TaskStarting#3",
      "TaskStopped#3", "TaskRemoved" }, kinds)
    for _, ev in ipairs(H.only(events, "tick", "BackoffScheduled")) do
      assert.equal("schedule", ev.backoff_source)
      assert.is_true(ev.delay_ms < 2000, "delay " .. ev.delay_ms) -- (a second, and the loop's lag)
    end
    -- each run starts in a later second than the one before (wall clock)
    local starts = H.only(events, "tick", "TaskStarting")
    for i = 2, #starts do
      assert.is_true(math.floor(starts[i].at) > math.floor(starts[i - 1].at),
        string.format("runs %d and %d at %.3f and %.3f", i - 1, i, starts[i - 1].at, starts[i].at))
    end
  end)

  it("a process takes a calendar too; the spec keeps it, restart is \"always\"", function()
    local spec = tv.process{ name = "p", cmd = { "true" }, calendar = "hourly" }
    assert.equal("hourly", spec.calendar)
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert(sup:add(spec))
    assert(sup:add(tv.once("stop", function() tv.sleep(0.05); sup:shutdown() end)))
    assert.is_true(sup:run())
    local b = H.first(events, "BackoffScheduled", "p")
    assert.equal("schedule", b.backoff_source)
    assert.equal(0, H.count(events, "TaskStarting", "p")) -- its first time is up to an hour away
  end)

  it("refuses every, interval or a restart other than \"always\" beside it", function()
    local run = function() end
    for _, extra in ipairs({ { every = 5 }, { interval = 1 }, { restart = "never" } }) do
      local opts = { name = "x", calendar = "daily", run = run }
      for k, v in pairs(extra) do opts[k] = v end
      local ok, err = pcall(tv.task, opts)
      assert.is_false(ok)
      assert.matches("'calendar'", err)
    end
    local ok, err = pcall(tv.task, { name = "x", calendar = "99 * * * *", run = run })
    assert.is_false(ok)
    assert.matches("'calendar': calendar '99 %* %* %* %*': minute", err)
  end)

  it("taskvisor check shows the next three run times", function()
    local path = H.script([[
      local tv = require("taskvisor")
      return tv.config{ tasks = { tv.task{ name = "report", calendar = "0 3 * * * UTC", run = function() end } } }]])
    local out, status = H.sh(string.format("%q check %q", H.host(), path))
    os.remove(path)
    assert.equal(0, status, out)
    assert.matches('report  task  calendar="0 3 %* %* %* UTC"', out)
    local times = {}
    for t in out:gmatch("(%d%d%d%d%-%d%d%-%d%d 03:00:00 UTC)") do times[#times + 1] = t end
    assert.equal(3, #times, out)
  end)
end)
