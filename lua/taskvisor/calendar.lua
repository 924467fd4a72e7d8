-- taskvisor.calendar: calendar schedules, in cron's five fields
-- ("*/5 * * * *", "@daily") or systemd's OnCalendar ("Mon..Fri 09:00",
-- "*-*-01 03:00:00", "hourly"), in local time or UTC (a trailing " UTC", or
-- cron's "CRON_TZ=UTC " prefix). parse() validates; next_after(t) gives the
-- first matching instant after t (seconds since the epoch).
--
-- Daylight saving time, as cronie does: a local time that does not exist
-- (the hour skipped in spring) runs once at the end of the gap; a local time
-- that occurs twice (the hour repeated in autumn) runs once, the first time,
-- unless the hour is any hour ("*/30 * * * *"): then it runs in both.
local M = {}

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6, jul = 7, aug = 8, sep = 9,
  oct = 10, nov = 11, dec = 12 }
local DAYS = { sun = 0, mon = 1, tue = 2, wed = 3, thu = 4, fri = 5, sat = 6 }
local SHORT = { -- systemd's and cron's shorthands, in OnCalendar form
  minutely = "*-*-* *:*:00", hourly = "*-*-* *:00:00", daily = "*-*-* 00:00:00",
  monthly = "*-*-01 00:00:00", weekly = "Mon *-*-* 00:00:00", yearly = "*-01-01 00:00:00",
  annually = "*-01-01 00:00:00", quarterly = "*-01,04,07,10-01 00:00:00",
  semiannually = "*-01,07-01 00:00:00",
  ["@yearly"] = "0 0 1 1 *", ["@annually"] = "0 0 1 1 *", ["@monthly"] = "0 0 1 * *",
  ["@weekly"] = "0 0 * * 0", ["@daily"] = "0 0 * * *", ["@midnight"] = "0 0 * * *",
  ["@hourly"] = "0 * * * *",
}

-- One field's values as a set over lo..hi: "*", "5", "1-5" (cron) or "1..5"
-- (systemd), "*/15" / "0/15" / "1-30/2", lists joined by ",". `names` maps
-- words (jan, mon) to numbers. nil, message on anything else.
local function field(text, lo, hi, what, range_sep, names)
  local set, any = {}, text == "*"
  for part in (text .. ","):gmatch("([^,]*),") do
    if part == "" then return nil, string.format("%s: an empty item in '%s'", what, text) end
    local body, step = part:match("^(.-)/(%d+)$")
    if not body then body = part end
    step = step and tonumber(step)
    if step == 0 then return nil, string.format("%s: step 0 in '%s'", what, part) end
    local function num(s)
      local n = tonumber(s)
      if n == nil and names then n = names[s:lower():sub(1, 3)] and #s >= 3 and names[s:lower():sub(1, 3)] end
      if n == nil or math.type(n) ~= "integer" and n ~= math.floor(n) then return nil end
      return math.tointeger(n)
    end
    local a, b
    if body == "*" then
      a, b = lo, hi
    else
      local x, y = body:match("^([^%-%.]+)" .. range_sep .. "([^%-%.]+)$")
      if x then
        a, b = num(x), num(y)
      else
        a = num(body)
        b = a and (step and hi or a)
      end
    end
    if not a or not b then
      return nil, string.format("%s: '%s' is not a number, a range or a name", what, part)
    end
    if a < lo or b > hi or a > b then
      return nil, string.format("%s: '%s' is out of range (%d to %d)", what, part, lo, hi)
    end
    for v = a, b, step or 1 do set[v] = true end
  end
  return set, any
end

local function err(expr, msg) return nil, string.format("calendar '%s': %s", expr, msg) end

local function parse_cron(expr, text)
  local f = {}
  for w in text:gmatch("%S+") do f[#f + 1] = w end
  if #f ~= 5 then
    return err(expr, string.format("expected five cron fields (minute hour day-of-month month day-of-week), got %d", #f))
  end
  local c, e, any = { sec = { [0] = true } }, nil, {}
  c.min, e = field(f[1], 0, 59, "minute", "%-")
  if not c.min then return err(expr, e) end
  c.hour, e = field(f[2], 0, 23, "hour", "%-")
  if not c.hour then return err(expr, e) end
  c.dom, any.dom = field(f[3], 1, 31, "day of month", "%-")
  if not c.dom then return err(expr, any.dom) end
  c.month, e = field(f[4], 1, 12, "month", "%-", MONTHS)
  if not c.month then return err(expr, e) end
  c.dow, any.dow = field(f[5], 0, 7, "day of week", "%-", DAYS)
  if not c.dow then return err(expr, any.dow) end
  if c.dow[7] then c.dow[0] = true end
  -- cron: both day fields restricted means either may match
  c.either = not any.dom and not any.dow
  if any.dom and not any.dow then c.dom = nil end -- only the weekday decides
  if any.dow and not any.dom then c.dow = nil end
  if any.dom and any.dow then c.dom, c.dow = nil, nil end
  return c
end

local function parse_systemd(expr, text)
  local words = {}
  for w in text:gmatch("%S+") do words[#words + 1] = w end
  local c, e = { either = false }, nil
  local i = 1
  if words[i] and words[i]:match("^%a") then -- weekdays: Mon,Wed or Mon..Fri
    c.dow, e = field(words[i], 0, 6, "weekday", "%.%.", DAYS)
    if not c.dow then return err(expr, e) end
    i = i + 1
  end
  local date, time = "*-*-*", "00:00:00"
  if words[i] and words[i]:find("-", 1, true) then date = words[i]; i = i + 1 end
  if words[i] and words[i]:find(":", 1, true) then time = words[i]; i = i + 1 end
  if words[i] then return err(expr, string.format("unexpected '%s' (expected [weekday] [year-month-day] [hh:mm[:ss]] [UTC])", words[i])) end
  local y, mo, d = date:match("^([^%-]+)%-([^%-]+)%-([^%-]+)$")
  if not y then
    mo, d = date:match("^([^%-]+)%-([^%-]+)$")
    y = "*"
    if not mo then return err(expr, string.format("date '%s': expected year-month-day or month-day", date)) end
  end
  if y ~= "*" then
    c.year, e = field(y, 1970, 2199, "year", "%.%.")
    if not c.year then return err(expr, e) end
  end
  c.month, e = field(mo, 1, 12, "month", "%.%.")
  if not c.month then return err(expr, e) end
  local any
  c.dom, any = field(d, 1, 31, "day", "%.%.")
  if not c.dom then return err(expr, any) end
  if any then c.dom = nil end
  local h, mi, s = time:match("^([^:]+):([^:]+):([^:]+)$")
  if not h then
    h, mi = time:match("^([^:]+):([^:]+)$")
    s = "00"
    if not h then return err(expr, string.format("time '%s': expected hh:mm or hh:mm:ss", time)) end
  end
  c.hour, e = field(h, 0, 23, "hour", "%.%.")
  if not c.hour then return err(expr, e) end
  c.min, e = field(mi, 0, 59, "minute", "%.%.")
  if not c.min then return err(expr, e) end
  c.sec, e = field(s, 0, 59, "second", "%.%.")
  if not c.sec then return err(expr, e) end
  return c
end

local function sorted(set, lo, hi)
  local out = {}
  for v = lo, hi do if set[v] then out[#out + 1] = v end end
  return out
end

--- parse(expr): a calendar, or nil and a message naming what is wrong.
function M.parse(expr)
  if type(expr) ~= "string" then return nil, "a calendar must be a string" end
  local text, utc = expr:gsub("^%s+", ""):gsub("%s+$", ""), false
  local stripped = text:match("^CRON_TZ=UTC%s+(.*)$") or text:match("^(.-)%s+UTC$")
  if stripped then text, utc = stripped, true end
  if text == "" then return err(expr, "empty") end
  local zone = text:match("%s(%a[%w_+-]*/[%w_/+-]+)$") or text:match("^CRON_TZ=(%S+)")
  if zone then
    return err(expr, string.format("time zone '%s': only local time and UTC are supported (end with ' UTC', or set TZ for the host)", zone))
  end
  if text:find("^@reboot") then return err(expr, "@reboot is not a calendar time (a task starts when the supervisor runs)") end
  text = SHORT[text:lower()] or text
  local c, e
  local nfields = select(2, text:gsub("%S+", ""))
  if nfields >= 4 and not text:find(":", 1, true) then -- (systemd's forms have at most three words)
    c, e = parse_cron(expr, text)
  else
    c, e = parse_systemd(expr, text)
  end
  if not c then return nil, e end
  c.expr, c.utc = expr, utc
  c.hours, c.mins, c.secs = sorted(c.hour, 0, 23), sorted(c.min, 0, 59), sorted(c.sec, 0, 59)
  c.every_hour = #c.hours == 24
  return setmetatable(c, { __index = M })
end

-- Days since 1970-01-01 of a civil date, and back (proleptic Gregorian).
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp + (mp < 10 and 3 or -9)
  return m <= 2 and y + 1 or y, m, d
end

local function day_matches(c, y, m, d, wday)
  if c.year and not c.year[y] then return false end
  if not c.month[m] then return false end
  if d > 28 then -- the month may be shorter
    local ny, nm = y, m + 1
    if nm == 13 then ny, nm = y + 1, 1 end
    if days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1) < d then return false end
  end
  if c.either then return c.dom[d] or c.dow[wday] end
  if c.dom and not c.dom[d] then return false end
  if c.dow and not c.dow[wday] then return false end
  return true
end

-- The instants a local wall time names: none (a skipped time), one, or two
-- (a repeated time), earliest first. For UTC, exactly one.
local function instants(c, y, m, d, h, mi, s)
  if c.utc then return { ((days_from_civil(y, m, d) * 24 + h) * 60 + mi) * 60 + s } end
  local out = {}
  for _, dst in ipairs({ true, false }) do
    local t = os.time({ year = y, month = m, day = d, hour = h, min = mi, sec = s, isdst = dst })
    local back = t and os.date("*t", t)
    if back and back.year == y and back.month == m and back.day == d and back.hour == h
      and back.min == mi and back.sec == s then
      if out[1] ~= t then out[#out + 1] = t end
    end
  end
  table.sort(out)
  return out
end

-- The first instant after a skipped local time: the first minute after it
-- that exists (the end of the gap; gaps end within their day).
local LOCAL = { utc = false }
local function gap_end(y, m, d, h, mi)
  for shift = 1, 180 do
    local total = h * 60 + mi + shift
    if total >= 24 * 60 then return nil end
    local list = instants(LOCAL, y, m, d, total // 60, total % 60, 0)
    if list[1] then return list[1] end
  end
  return nil
end

--- cal:next_after(t): the first matching instant after t (seconds since the
--- epoch, an integer), or nil if none comes within 10 years.
function M.next_after(c, t)
  local after = math.floor(t)
  local start = os.date(c.utc and "!*t" or "*t", after)
  local day0 = days_from_civil(start.year, start.month, start.day)
  -- Local wall times map to instants in order except around a DST change,
  -- so the earliest instant is kept over the next two hours of candidates.
  local best, best_hour
  local function consider(e, h)
    if e and e > after and (not best or e < best) then best, best_hour = e, best_hour or h end
  end
  -- On the first day, times before `after` cannot match; near a DST change
  -- the clock may run back an hour, so then an hour earlier may.
  local slack = 0
  if not c.utc and os.date("*t", after - 7200).isdst ~= os.date("*t", after + 7200).isdst then slack = 3600 end
  local from = start.hour * 3600 + start.min * 60 + start.sec - slack
  for day = day0, day0 + 3660 do
    local y, m, d = civil_from_days(day)
    if day_matches(c, y, m, d, (day + 4) % 7) then
      local first = day == day0
      for _, h in ipairs(c.hours) do
        if best and h > best_hour + 2 then return best end
        if not first or h * 3600 + 3599 >= from then
          for _, mi in ipairs(c.mins) do
            if not first or h * 3600 + mi * 60 + 59 >= from then
              for _, s in ipairs(c.secs) do
                if not first or h * 3600 + mi * 60 + s >= from then
                  local list = instants(c, y, m, d, h, mi, s)
                  if #list == 0 and not c.utc then
                    consider(gap_end(y, m, d, h, mi), h)
                  else
                    consider(list[1], h)
                    if c.every_hour and list[1] and list[1] <= after then consider(list[2], h) end
                  end
                  if best and slack == 0 then return best end -- in order: the first is the earliest
                end
              end
            end
          end
        end
      end
      if best then return best end
    end
  end
  return nil
end

--- cal:upcoming(t, n): the next n run times after t.
function M.upcoming(c, t, n)
  local out = {}
  for _ = 1, n do
    t = M.next_after(c, t)
    if not t then break end
    out[#out + 1] = t
  end
  return out
end

--- cal:format(t): a run time as the operator reads it, in the calendar's zone.
function M.format(c, t)
  return os.date(c.utc and "!%Y-%m-%d %H:%M:%S UTC" or "%Y-%m-%d %H:%M:%S %Z", t)
end

return M
