-- spec/control_events_spec.lua: GET /v1/events from the C backlog
-- (src/control/backlog.c): its text is the Lua encoder's, value for value;
-- a follower that falls behind says how many events it missed and where; a
-- follower replays a backlog over the stream's 1 MiB; ?since= resumes a
-- follower, or is refused (410) once fallen out; a closed connection
-- unsubscribes its follower. Every wait is for a line, a state or a process.
local H = require("helpers")
local json = require("dkjson")

local HOST = H.host()

local function sq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function until_true(f, what)
  for _ = 1, 1200 do
    local v = f()
    if v then return v end
    os.execute("sleep 0.05")
  end
  error("gave up waiting for " .. what)
end

local function read(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function alive(pid) return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true end

local function get(sock, path)
  local out = H.sh(string.format("curl -s --unix-socket %s -w '\\n%%{http_code}' %s", sq(sock),
    sq("http://localhost" .. path)), true)
  local text, code = out:match("^(.-)\n?(%d+)$")
  return tonumber(code), json.decode(text or "", 1, json.null) or text, text
end

-- A host running config `code` (taskvisor run), answering on its socket.
local function start(code)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 0755 " .. sq(dir)))
  local h = { dir = dir, sock = dir .. "/ctl.sock", err = dir .. "/host.err", status = dir .. "/host.status" }
  local f = io.open(dir .. "/cfg.lua", "w")
  f:write(code)
  f:close()
  os.execute(string.format("cd %s && ( %s run --control %s cfg.lua >host.out 2>host.err & echo $! >host.pid; "
    .. "wait $!; echo $? >host.status.tmp; mv host.status.tmp host.status ) >/dev/null 2>&1 &",
    sq(dir), sq(HOST), sq(h.sock)))
  h.pid = until_true(function() return tonumber(read(dir .. "/host.pid"):match("%d+")) end, "the host's pid")
  until_true(function()
    if not alive(h.pid) then error("the host ended: " .. read(h.err)) end
    return (get(h.sock, "/v1/events?limit=1")) == 200
  end, "the host to answer")
  return h
end

-- Shuts it down: exit status 0, nothing from a sanitizer or valgrind.
local function stop(h)
  H.sh(string.format("curl -s -X POST --unix-socket %s http://localhost/v1/shutdown", sq(h.sock)))
  local status = until_true(function() return tonumber(read(h.status):match("%d+")) end, "the host's exit")
  local err = read(h.err)
  assert.is_nil(err:find("Sanitizer", 1, true), err)
  assert.are.equal(0, status, err)
  os.execute("rm -rf " .. sq(h.dir))
end

-- The followers subscribed now, as /metrics lists the bus's subscribers.
local function followers(h)
  local _, _, text = get(h.sock, "/metrics")
  local n = 0
  for _ in text:gmatch('taskvisor_subscriber_queue_capacity{subscriber="taskvisor%.control%.follow%.%d+"}') do
    n = n + 1
  end
  return n
end

-- The first n lines a follower of ?query streams (curl ended once they are in:
-- on a quiet host nothing else would end it).
local function follow_lines(h, query, n)
  local file = os.tmpname()
  local pid = tonumber((H.sh(string.format("curl -sN --unix-socket %s %s >%s 2>&1 & echo $!", sq(h.sock),
    sq("http://localhost/v1/events?" .. query), sq(file)))))
  local text = until_true(function()
    local t = read(file)
    local _, count = t:gsub("\n", "")
    return count >= n and t
  end, n .. " lines of ?" .. query)
  os.execute("kill " .. pid)
  os.remove(file)
  local out, i = {}, 0
  for l in text:gmatch("[^\n]*\n") do
    i = i + 1
    if i > n then break end
    out[i] = l
  end
  return table.concat(out)
end

local function lines_of(text)
  local out = {}
  for l in text:gmatch("[^\n]+") do out[#out + 1] = json.decode(l, 1, json.null) end
  return out
end

describe("the event backlog in C", function()
  it("writes each event as the Lua encoder wrote the event object, field for field", function()
    -- Every kind of field: odd strings (quotes, control bytes, not UTF-8),
    -- exit codes, signals, output lines, delays, timeouts.
    local out, status = H.host_run([=[
local tv = require("taskvisor")
local S = require("taskvisor.control.server")
local sup = tv.supervisor{ grace = 5 }
local b = assert(S.backlog(sup.core, 1000))
local texts, bad = {}, nil
sup:subscribe({ name = "enc", queue = 100000, on_event = function(ev)
  local parts = {}
  for k, v in pairs(ev) do parts[#parts + 1] = '"' .. k .. '":' .. assert(S.encode(v)) end
  texts[#texts + 1] = "{" .. table.concat(parts, ",") .. "}"
  local want = '{"events":[' .. table.concat(texts, ",") .. '],"next":' .. ev.seq .. '}\n'
  local got = b:events(nil, #texts)
  if got ~= want and not bad then bad = "want " .. want .. "\ngot  " .. got end
end })
sup:add(tv.task{ name = "odd", restart = "on_failure", max_retries = 1, backoff = { first = 0.01 },
  run = function() error('bad "x"\n\1 \255 tab\t \u{e9}', 0) end })
sup:add(tv.task{ name = "code", restart = "never", run = function() tv.fail("exit 3", 3) end })
sup:add(tv.task{ name = "slow", restart = "never", timeout = 0.01, run = function(ctx) ctx:sleep(5) end })
sup:add(tv.process{ name = "p", restart = "never", stdout = "events",
  cmd = { "sh", "-c", [[printf 'a\377b\n"q" \\ /\n'; kill -TERM $$]] } })
assert(sup:run())
print(#texts, bad or "same")
]=])
    assert.are.equal(0, status, out)
    local n, verdict = out:match("(%d+)%s+(.*)\n$")
    assert.is_true(tonumber(n) >= 15, out)
    assert.are.equal("same", verdict)
  end)

  local STORM = [[
local tv = require("taskvisor")
local tasks = {}
for i = 1, 50 do tasks[i] = tv.task{ name = "t" .. i, restart = "always", run = function() end } end
return tv.config{ control = { backlog = 2000 }, tasks = tasks }
]]

  it("a follower that falls behind gets a line saying how many events it missed, and where", function()
    local h = start(STORM)
    local file, go, done = h.dir .. "/slow.ndjson", h.dir .. "/go", h.dir .. "/done"
    -- a client that reads nothing until the host has dropped events for it, then 60,000 lines
    os.execute(string.format("( timeout 120 curl -sN --unix-socket %s %s | "
      .. "( until [ -e %s ]; do sleep 0.05; done; head -n 60000 >%s ); touch %s ) >/dev/null 2>&1 &",
      sq(h.sock), sq("http://localhost/v1/events?follow=1"), sq(go), sq(file), sq(done)))
    until_true(function()
      local _, _, text = get(h.sock, "/metrics")
      local d = text:match('taskvisor_subscriber_events_dropped_total{subscriber="taskvisor%.control%.follow%.%d+"} (%d+)')
      return d and tonumber(d) > 0
    end, "the follower's queue to overflow")
    os.execute("touch " .. sq(go))
    until_true(function() return io.open(done) end, "the client to end")
    local lines = lines_of(read(file))
    assert.is_true(#lines >= 60000, #lines .. " lines")
    local lost, gaps = 0, 0
    for i, l in ipairs(lines) do
      if l.kind == "EventsLost" then
        gaps = gaps + 1
        lost = lost + l.lost
        assert.is_true(l.lost > 0)
        local before = i > 1 and lines[i - 1].seq or 0
        assert.are.equal(before, l.after) -- "after" is the last event it gave
        local nxt = lines[i + 1]
        if nxt and nxt.seq and l.after > 0 then assert.are.equal(l.after + l.lost + 1, nxt.seq) end -- (one bus: seqs have no other gaps)
      else
        assert.is_number(l.seq)
        if i > 1 and lines[i - 1].seq then assert.is_true(l.seq > lines[i - 1].seq) end
      end
    end
    assert.is_true(gaps >= 1 and lost > 0, "no EventsLost line")
    -- the client went (head exited): its follower is unsubscribed
    until_true(function() return followers(h) == 0 end, "the follower to go")
    stop(h)
  end)

  it("a follower replays a backlog larger than the stream's 1 MiB, resumes after a seq, and is refused a seq fallen out", function()
    local h = start([[
local tv = require("taskvisor")
return tv.config{ control = { backlog = 10000 }, tasks = {
  tv.process{ name = "burst", restart = "never", cmd = { "seq", "1", "20000" }, stdout = "events" },
  tv.task{ name = "idle", run = function(ctx) ctx:sleep(3600) end } } }
]])
    until_true(function()
      local code, t = get(h.sock, "/v1/tasks/burst")
      return code == 200 and t.state == "EXITED"
    end, "the burst to end")
    local code, v = get(h.sock, "/v1/events")
    assert.are.equal(200, code)
    local all = v.events
    assert.are.equal(10000, #all)
    assert.are.equal("TaskOutput", all[1].kind) -- (20,000 lines: the first ones fell out)
    local text = follow_lines(h, "follow=1", 10000)
    assert.is_true(#text > 1 << 20, #text .. " bytes")
    local lines = lines_of(text)
    assert.are.equal(10000, #lines)
    for i = 1, #lines do assert.are.equal(all[i].seq, lines[i].seq) end
    -- resumed after a seq: the kept ones after it, in order
    local mid = all[5000].seq
    local out = follow_lines(h, "follow=1&since=" .. mid, 3)
    local seqs = {}
    for _, l in ipairs(lines_of(out)) do seqs[#seqs + 1] = l.seq end
    assert.are.same({ all[5001].seq, all[5002].seq, all[5003].seq }, seqs)
    -- a seq fallen out: 410, for a follower too, with the oldest kept
    code, v = get(h.sock, "/v1/events?follow=1&since=1")
    assert.are.equal(410, code)
    assert.are.equal("EGONE", v.error.code)
    assert.are.equal(all[1].seq, v.oldest)
    stop(h)
  end)

  it("closing the connection unsubscribes its follower", function()
    local h = start([[
local tv = require("taskvisor")
return tv.config{ tasks = { tv.task{ name = "tick", run = function(ctx) while ctx:sleep(0.05) do end end } } }
]])
    assert.are.equal(0, followers(h))
    local file = h.dir .. "/f.ndjson"
    local pid = tonumber((H.sh(string.format("timeout 60 curl -sN --unix-socket %s %s >%s 2>&1 & echo $!",
      sq(h.sock), sq("http://localhost/v1/events?follow=1"), sq(file)))))
    until_true(function() return followers(h) == 1 and #read(file) > 0 end, "the follower to stream")
    local pid2 = tonumber((H.sh(string.format("timeout 60 curl -sN --unix-socket %s %s >/dev/null 2>&1 & echo $!",
      sq(h.sock), sq("http://localhost/v1/events?follow=1&since=0")))))
    until_true(function() return followers(h) == 2 end, "two followers")
    os.execute("kill " .. pid)
    until_true(function() return followers(h) == 1 end, "the first follower to go")
    os.execute("kill " .. pid2)
    until_true(function() return followers(h) == 0 end, "the second follower to go")
    stop(h)
  end)
end)
