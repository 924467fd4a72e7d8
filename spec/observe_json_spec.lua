-- spec/observe_json_spec.lua: JSON-lines events (issue 16.1): tv.json_writer
-- in a plain Lua app and `taskvisor run --events-json`, every line read back
-- through jq; its queue's overflow counted; its file reopened on SIGHUP;
-- core.json_encode's edges (non-UTF-8 bytes, arrays, errors naming where).
local H = require("helpers")
local O = require("observe_helpers")
local tv = H.tv
local core = require("taskvisor.core")
local sq = O.sq

local RFC3339 = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%dZ$"

-- jq's view of a file: one tab-separated row per line.
local function jq_rows(path, filter)
  local out, status = H.sh("jq -r " .. sq(filter) .. " " .. sq(path))
  assert.are.equal(0, status, out)
  local rows = {}
  for line in out:gmatch("[^\n]+") do
    local row = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do row[#row + 1] = field end
    rows[#rows + 1] = row
  end
  return rows
end

local function tmpfile()
  local p = os.tmpname()
  os.remove(p)
  return p
end

describe("tv.json_writer", function()
  it("writes one JSON object per event with every field, at as RFC 3339", function()
    local path = tmpfile()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert(sup:subscribe(tv.json_writer({ file = path })))
    local n = 0
    assert(sup:add(tv.task({ name = 'odd "name"', restart = "on_failure", backoff = { first = 0.01 },
      run = function()
        n = n + 1
        if n < 3 then tv.fail("boom " .. n, 7) end
      end })))
    assert(sup:run())
    local rows = jq_rows(path, '[.seq, .kind, (.task // ""), (.attempt // ""), .at, (.exit_code // ""), (.reason // "")] | @tsv')
    assert.are.equal(#events, #rows)
    for i, ev in ipairs(events) do
      local r = rows[i]
      assert.are.equal(tostring(ev.seq), r[1])
      assert.are.equal(ev.kind, r[2])
      assert.are.equal(ev.task or "", r[3])
      assert.are.equal(ev.attempt and tostring(ev.attempt) or "", r[4])
      assert.truthy(r[5]:match(RFC3339), r[5])
      assert.are.equal(ev.exit_code and tostring(ev.exit_code) or "", r[6])
    end
    -- the failures, as jq selects them
    local failed = jq_rows(path, 'select(.kind == "TaskFailed") | [.task, .attempt, .exit_code, .reason] | @tsv')
    assert.are.equal(2, #failed)
    assert.are.same({ 'odd "name"', "1", "7" }, { failed[1][1], failed[1][2], failed[1][3] })
    assert.truthy(failed[2][4]:find("boom 2", 1, true))
    -- at: the event's own time, to the microsecond
    local first = events[1]
    local at = jq_rows(path, 'select(.seq == ' .. first.seq .. ') | .at')[1][1]
    assert.are.equal(require("taskvisor.json_writer").rfc3339(first.at), at)
    assert.is_true(math.abs(first.at - os.time()) < 3600)
    os.remove(path)
  end)

  it("is a normal subscriber: a full queue drops for it alone, counted, and what it got is written", function()
    local path = tmpfile()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert(sup:subscribe(tv.json_writer({ file = path, name = "jl", queue = 2 })))
    -- 50 adds in one go: far more events than a queue of 2 holds before the writer runs
    local specs, stats = {}, nil
    for i = 1, 50 do specs[i] = tv.task({ name = "t" .. i, restart = "never", run = function() end }) end
    specs[51] = tv.task({ name = "sample", restart = "never", run = function()
      tv.sleep(0.2) -- (the burst is over and written by now)
      for _, s in ipairs(sup.core:subscriber_stats()) do if s.name == "jl" then stats = s end end
    end })
    assert(sup:run(specs))
    assert.is_true(stats.dropped > 0)
    local overflow = H.only(events, "jl", "SubscriberOverflow")
    assert.is_true(#overflow > 0)
    local lines = jq_rows(path, ".seq")
    assert.is_true(stats.delivered <= #lines) -- (what came after the sample is written too)
    assert.is_true(#lines < #events)
    assert.is_true(stats.delivered + stats.dropped <= #events)
    os.remove(path)
  end)

  it("refuses bad options naming the field", function()
    assert.has_error(function() tv.json_writer({ file = 42 }) end,
      "tv.json_writer: 'file' must be a path or an open file (got 42)")
    assert.has_error(function() tv.json_writer({ fil = "x" }) end)
    local ok, err = pcall(tv.json_writer, { file = "/nonexistent-dir/x.jsonl" })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("cannot open '/nonexistent-dir/x.jsonl'", 1, true))
    assert.has_error(function() tv.json_writer({ queue = 0 }) end)
  end)
end)

describe("core.json_encode", function()
  it("writes arrays, objects, integers, leading keys, and bytes that are not UTF-8 as U+FFFD when lossy", function()
    assert.are.equal('{"seq":1,"kind":"K","a":[1,2.5,true]}',
      core.json_encode({ kind = "K", seq = 1, a = { 1, 2.5, true } }, { first = { "seq", "kind" } }))
    assert.are.equal('[]', core.json_encode(setmetatable({}, { __json = "array" })))
    assert.are.equal('{"line":"a\239\191\189b"}', core.json_encode({ line = "a\255b" }, { lossy = true }))
    local v, err = core.json_encode({ line = "a\255b" })
    assert.is_nil(v)
    assert.are.equal("line: a string that is not UTF-8", err)
    v, err = core.json_encode({ t = { f = print } })
    assert.is_nil(v)
    assert.are.equal("t.f: function", err)
    assert.are.equal("null", core.json_encode(core.json_null))
  end)
end)

describe("taskvisor run --events-json", function()
  it("writes the run's events to FILE, reopened by path on SIGHUP (logrotate)", function()
    local dir = O.tmpdir()
    local file = dir .. "/events.jsonl"
    local h = O.start([[
local tv = require("taskvisor")
return tv.config{ tasks = {
  tv.process{ name = "crash", cmd = { "sh", "-c", "exit 3" }, restart = "always", backoff = { first = 0.05 } },
} }
]], "--events-json " .. sq(file))
    finally(function() O.stop(h) end)
    O.until_true(function() return #jq_rows(file, 'select(.kind == "TaskFailed") | .seq') >= 2 end, "two failures")
    assert(os.rename(file, file .. ".1"))
    assert(os.execute("kill -HUP " .. h.pid))
    O.until_true(function() return O.read(file):find('"TaskFailed"', 1, true) end, "events in the new file")
    O.stop(h)
    local old = jq_rows(file .. ".1", "[.seq, .kind, .task // \"\", .exit_code // \"\"] | @tsv")
    local new = jq_rows(file, "[.seq, .kind, .task // \"\", .exit_code // \"\"] | @tsv")
    assert.are.equal("1", old[1][1])
    assert.are.equal("TaskAddRequested", old[1][2])
    assert.are.equal("crash", old[1][3])
    -- nothing lost or repeated across the reopen: seq goes on by one
    local last = tonumber(old[#old][1])
    assert.are.equal(last + 1, tonumber(new[1][1]))
    for i = 2, #new do assert.are.equal(tonumber(new[i - 1][1]) + 1, tonumber(new[i][1])) end
    local fails = 0
    for _, r in ipairs(old) do if r[2] == "TaskFailed" then fails = fails + 1 assert.are.equal("3", r[4]) end end
    assert.is_true(fails >= 2)
    assert.are.equal("AllStoppedWithinGrace", new[#new][2])
    os.execute("rm -rf " .. sq(dir))
  end)

  it("'-' writes to stdout; a bad path fails the start with the path named", function()
    local h = O.start([[
local tv = require("taskvisor")
return tv.config{ tasks = { tv.task{ name = "w", run = function() tv.sleep(100) end } } }
]], "--events-json -")
    finally(function() O.stop(h) end)
    O.stop(h, true)
    local rows = jq_rows(h.out, "[.seq, .kind, .task // \"\"] | @tsv")
    assert.are.same({ "1", "TaskAddRequested", "w" }, rows[1])
    assert.are.equal("AllStoppedWithinGrace", rows[#rows][2])
    os.execute("rm -rf " .. sq(h.dir))
    local cfg = H.script('local tv = require("taskvisor") return tv.config{ tasks = {} }')
    local out, status = H.sh(string.format("%s run --control %s --events-json /nonexistent-dir/e.jsonl %s",
      sq(H.host()), sq(cfg .. ".sock"), sq(cfg)))
    assert.are.equal(1, status)
    assert.truthy(out:find("cannot open '/nonexistent-dir/e.jsonl'", 1, true), out)
    os.remove(cfg)
  end)
end)
