-- spec/control_spec.lua: the control API (docs/control-api.md) of a real
-- host (`taskvisor run`), driven with curl --unix-socket: every resource and
-- its fields, task states and PIDs, operator commands, output and events
-- (resume, the 410 gap), peers refused, stale and live sockets, bad
-- requests and clients that misbehave. Every wait is for a state, an event
-- or a process; the deadlines only end a run that is stuck.
local H = require("helpers")
local json = require("dkjson")

local HOST = H.host()

local function sq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function sleep_a_little() os.execute("sleep 0.05") end

-- Polls f() until it returns a true value (returned), up to 60 s.
local function until_true(f, what)
  for _ = 1, 1200 do
    local v = f()
    if v then return v end
    sleep_a_little()
  end
  error("gave up waiting for " .. what)
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -m 0755 " .. sq(d)))
  return d
end

local function read(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function alive(pid) return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true end

-- One request: status, decoded body (or the raw text), raw text.
local function curl(sock, method, path, body, prefix, opts)
  local data = ""
  if body then
    local f = os.tmpname()
    local h = io.open(f, "w")
    h:write(body)
    h:close()
    data = " --data-binary @" .. sq(f)
  end
  local out = H.sh(string.format("%scurl -s %s-X %s --unix-socket %s -w '\\n%%{http_code}' %s%s", prefix or "",
    opts or "", method, sq(sock), sq("http://localhost" .. path), data), true)
  local text, code = out:match("^(.-)\n?(%d+)$")
  return tonumber(code), json.decode(text or "", 1, json.null) or text, text
end

local function get(sock, path) return curl(sock, "GET", path) end
local function post(sock, path, body) return curl(sock, "POST", path, body) end

-- Starts `taskvisor run` on a config (code) in a fresh 0755 dir, socket
-- there; waits until it answers. Returns the host: { dir, sock, pid, err }.
local function start(code, opts)
  opts = opts or {}
  local dir = opts.dir or tmpdir()
  local cfg = dir .. "/" .. (opts.file or "ctl.lua")
  local f = io.open(cfg, "w")
  f:write(code)
  f:close()
  local sock = opts.sock or (dir .. "/ctl.sock")
  local base = cfg:gsub("%.lua$", "")
  local h = { dir = dir, sock = sock, err = base .. ".err", out = base .. ".out" }
  local args = opts.args or ("--control " .. sq(sock))
  -- (a subshell waits for the host to write its exit status)
  h.status = base .. ".status"
  local pidfile = base .. ".pid"
  os.execute(string.format("cd %s && ( %s%s run %s %s >%s 2>%s & echo $! >%s; wait $!; echo $? >%s.tmp; mv %s.tmp %s ) "
    .. ">/dev/null 2>&1 &", sq(dir), opts.env or "", sq(HOST), args, sq(cfg), sq(h.out), sq(h.err), sq(pidfile),
    sq(h.status), sq(h.status), sq(h.status)))
  h.pid = until_true(function() return tonumber(read(pidfile):match("%d+")) end, "the host's pid")
  if opts.no_wait then return h end
  until_true(function()
    if not alive(h.pid) then error("the host ended: " .. read(h.err)) end
    return (get(sock, "/v1/host")) == 200
  end, "the host to answer")
  return h
end

-- The host's exit status once it has ended (waits for it).
local function exit_status(h)
  return until_true(function() return tonumber(read(h.status):match("%d+")) end, "the host's exit status")
end

-- Shuts the host down: it exits 0 with nothing from a sanitizer (leaks) on
-- its stderr, its socket removed.
local function stop(h)
  if alive(h.pid) then
    local code, v = post(h.sock, "/v1/shutdown")
    assert.are.equal(200, code)
    assert.is_true(v.ok)
  end
  local status = exit_status(h)
  local err = read(h.err)
  assert.is_nil(err:find("Sanitizer", 1, true), err)
  assert.are.equal(0, status, err)
  assert.is_nil(io.open(h.sock), "the socket is left behind")
  os.execute("rm -rf " .. sq(h.dir))
end

local function task(h, name)
  local code, t = get(h.sock, "/v1/tasks/" .. name)
  assert.are.equal(200, code)
  return t
end

local function until_state(h, name, state)
  return until_true(function()
    local t = task(h, name)
    return t.state == state and t
  end, name .. " to be " .. state)
end

local function has(s, sub) return s:find(sub, 1, true) ~= nil end

local CONFIG = [[
local tv = require("taskvisor")
return tv.config{
  control = { idle_timeout = 1, backlog = 40, max_connections = 64 },
  tasks = {
    tv.process{ name = "web", cmd = { "sleep", "1000" } },
    tv.task{ name = "worker", run = function() tv.sleep(1000) end },
    tv.process{ name = "talker", cmd = { "sh", "-c", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.05; done" },
      stdout = "talker.log" },
    tv.process{ name = "flaky", cmd = { "sh", "-c", "exit 3" }, restart = "always", backoff = { first = 600 } },
    tv.task{ name = "once", restart = "never", run = function() end },
    tv.process{ name = "doomed", cmd = { "sh", "-c", "exit 5" }, fatal_codes = { 5 } },
    tv.group{ name = "g", children = {
      tv.task{ name = "c1", run = function() tv.sleep(1000) end },
      tv.task{ name = "c2", run = function() tv.sleep(1000) end },
    } },
  },
}
]]

describe("the control API", function()
  local h
  setup(function() h = start(CONFIG) end)
  teardown(function() stop(h) end)

  it("GET /v1/host: pid, version, name, state, config, counts", function()
    local code, v = get(h.sock, "/v1/host")
    assert.are.equal(200, code)
    assert.are.equal(h.pid, v.pid)
    assert.are.equal("ctl", v.name) -- the config's basename
    assert.are.equal("open", v.state)
    assert.truthy(v.config:find("ctl%.lua$"))
    assert.is_string(v.version)
    assert.is_number(v.started_at)
    assert.is_true(v.uptime >= 0)
    assert.are.equal(true, v.reloadable) -- (a declarative config)
    assert.are.equal(9, v.tasks.total)
  end)

  it("GET /v1/tasks: the tree depth-first in start order, kinds, groups, paths", function()
    local code, v = get(h.sock, "/v1/tasks")
    assert.are.equal(200, code)
    local names, by = {}, {}
    for i, t in ipairs(v.tasks) do names[i] = t.name by[t.name] = t end
    assert.are.same({ "web", "worker", "talker", "flaky", "once", "doomed", "g", "c1", "c2" }, names)
    assert.are.equal("process", by.web.kind)
    assert.are.equal("task", by.worker.kind)
    assert.are.equal("group", by.g.kind)
    assert.are.same({ "c1", "c2" }, by.g.children)
    assert.are.equal("g", by.c1.group)
    assert.are.equal("g/c1", by.c1.path)
    assert.are.equal(json.null, by.web.group)
    for _, k in ipairs({ "state", "since", "attempt", "restarts", "uptime", "ready", "operator_stopped" }) do
      assert.is_not_nil(by.web[k], k)
    end
    local c2, f = get(h.sock, "/v1/tasks?name=web&name=g")
    assert.are.equal(200, c2)
    assert.are.equal(2, #f.tasks)
    assert.are.equal("g", f.tasks[2].name)
  end)

  it("states: RUNNING with the live PID, BACKOFF with last exit and retry time, EXITED, FATAL", function()
    local web = until_state(h, "web", "RUNNING")
    assert.is_number(web.pid)
    assert.truthy(read("/proc/" .. web.pid .. "/cmdline"):find("sleep", 1, true))
    -- the PID is the one TaskStarting told
    local _, evs = get(h.sock, "/v1/events")
    local started
    for _, ev in ipairs(evs.events) do if ev.kind == "TaskStarting" and ev.task == "web" then started = ev.pid end end
    if started then assert.are.equal(started, web.pid) end
    local worker = until_state(h, "worker", "RUNNING")
    assert.are.equal(json.null, worker.pid)
    assert.is_true(worker.ready)
    local flaky = until_state(h, "flaky", "BACKOFF")
    assert.are.equal(3, flaky.last_exit.code)
    assert.is_true(flaky.next_retry_at > flaky.since)
    assert.are.equal(json.null, flaky.pid)
    local once = until_state(h, "once", "EXITED")
    assert.are.equal(json.null, once.pid)
    local doomed = until_state(h, "doomed", "FATAL")
    assert.are.equal(5, doomed.last_exit.code)
    until_state(h, "c1", "RUNNING")
  end)

  it("stop, start and restart a process: STOPPED (operator), a new PID each start", function()
    local old = until_state(h, "web", "RUNNING").pid
    local code, v = post(h.sock, "/v1/tasks/web/stop")
    assert.are.equal(200, code)
    assert.is_true(v.ok)
    assert.is_true(v.task.operator_stopped)
    local t = until_state(h, "web", "STOPPED")
    assert.is_true(t.operator_stopped)
    assert.are.equal(json.null, t.pid)
    until_true(function() return not alive(old) end, "the stopped process to be gone")
    code, v = post(h.sock, "/v1/tasks/web/stop")
    assert.are.equal(409, code)
    assert.are.equal("ESTATE", v.error.code)
    code, v = post(h.sock, "/v1/tasks/web/start")
    assert.are.equal(200, code)
    local started = until_state(h, "web", "RUNNING")
    assert.is_number(started.pid)
    assert.are_not.equal(old, started.pid)
    assert.is_false(started.operator_stopped)
    code, v = post(h.sock, "/v1/tasks/web/start")
    assert.are.equal(409, code)
    assert.are.equal("ESTATE", v.error.code)
    code = post(h.sock, "/v1/tasks/web/restart")
    assert.are.equal(200, code)
    local again = until_true(function()
      local w = task(h, "web")
      return w.state == "RUNNING" and w.pid ~= started.pid and w.pid ~= json.null and w
    end, "web to run again")
    assert.is_true(alive(again.pid))
    -- stop with wait: answered once the task is gone
    code, v = post(h.sock, "/v1/tasks/web/stop", '{"wait": 60}')
    assert.are.equal(200, code)
    assert.is_true(v.ok)
    assert.are.equal("STOPPED", v.task.state)
    assert.are.equal(json.null, v.task.pid)
    assert.is_false(alive(again.pid))
    assert.are.equal(200, (post(h.sock, "/v1/tasks/web/start")))
    until_state(h, "web", "RUNNING")
  end)

  it("signal: TERM ends a process (last_exit.signal); a Lua task 409; a bad signal 400", function()
    local t = until_state(h, "talker", "RUNNING")
    local code, v = post(h.sock, "/v1/tasks/talker/signal", '{"signal": "TERM"}')
    assert.are.equal(200, code)
    assert.is_true(v.ok)
    local after = until_true(function()
      local x = task(h, "talker")
      return x.pid ~= t.pid and x.last_exit ~= json.null and x
    end, "talker to have exited")
    assert.are.equal("SIGTERM", after.last_exit.signal)
    code, v = post(h.sock, "/v1/tasks/worker/signal", '{"signal": "HUP"}')
    assert.are.equal(409, code)
    assert.are.equal("ESTATE", v.error.code)
    code, v = post(h.sock, "/v1/tasks/talker/signal", '{"signal": "NOPE"}')
    assert.are.equal(400, code)
    assert.are.equal("EINVAL", v.error.code)
    assert.truthy(v.error.message:find("signal", 1, true))
    code, v = post(h.sock, "/v1/tasks/talker/signal", '{"signal": true}')
    assert.are.equal(400, code)
  end)

  it("output: the last N lines of the log file, and follow", function()
    until_state(h, "talker", "RUNNING")
    until_true(function() return select(2, read(h.dir .. "/talker.log"):gsub("\n", "")) >= 3 end, "3 lines")
    local code, v = get(h.sock, "/v1/tasks/talker/output?lines=2")
    assert.are.equal(200, code)
    assert.are.equal(2, #v.lines)
    assert.truthy(v.lines[1]:match("^line %d+$"))
    assert.truthy(v.file:find("talker%.log$"))
    -- follow: the kept lines, then new ones as written (head ends it)
    local out = H.sh(string.format("timeout 60 curl -sN --unix-socket %s %s | head -n 4", sq(h.sock),
      sq("http://localhost/v1/tasks/talker/output?lines=1&follow=1")))
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = json.decode(l, 1, json.null).line end
    assert.are.equal(4, #lines)
    local n1, n4 = tonumber(lines[1]:match("%d+")), tonumber(lines[4]:match("%d+"))
    assert.is_true(n4 > n1 or n1 > n4) -- later lines (a restart starts over at 1)
    code, v = get(h.sock, "/v1/tasks/worker/output")
    assert.are.equal(409, code)
    code, v = get(h.sock, "/v1/tasks/talker/output?stream=nope")
    assert.are.equal(400, code)
  end)

  it("events: resumed after a seq, followed as ndjson, 410 EGONE once fallen out of the backlog", function()
    local code, v = get(h.sock, "/v1/events")
    assert.are.equal(200, code)
    local all = v.events
    assert.is_true(#all > 3)
    for i = 2, #all do assert.is_true(all[i].seq > all[i - 1].seq) end
    assert.are.equal(all[#all].seq, v.next)
    local mid = all[#all - 2].seq
    code, v = get(h.sock, "/v1/events?since=" .. mid .. "&limit=1")
    assert.are.equal(200, code)
    assert.are.equal(1, #v.events)
    assert.is_true(v.events[1].seq > mid)
    -- follow: the kept ones after since, then new ones
    local out = H.sh(string.format("timeout 60 curl -sN --unix-socket %s %s | head -n 2", sq(h.sock),
      sq("http://localhost/v1/events?follow=1&since=" .. mid)))
    local seqs = {}
    for l in out:gmatch("[^\n]+") do seqs[#seqs + 1] = json.decode(l).seq end
    assert.are.same({ all[#all - 1].seq, all[#all].seq }, seqs)
    -- the backlog keeps 40: more events (restarts) push seq 1 out
    until_true(function()
      for _ = 1, 3 do post(h.sock, "/v1/tasks/worker/restart") end
      local _, e = get(h.sock, "/v1/events")
      return e.events[1].seq > 2
    end, "the backlog to move past seq 2")
    code, v = get(h.sock, "/v1/events?since=1")
    assert.are.equal(410, code)
    assert.are.equal("EGONE", v.error.code)
    local _, now = get(h.sock, "/v1/events")
    assert.is_true(v.oldest >= 3 and v.oldest <= now.events[1].seq)
    code = get(h.sock, "/v1/events?since=x")
    assert.are.equal(400, code)
  end)

  it("reopen, slots without a controller, a reload's dry run of the same file", function()
    local code, v = post(h.sock, "/v1/reopen")
    assert.are.equal(200, code)
    assert.is_true(v.ok)
    assert.is_true(v.files >= 1) -- talker.log
    code, v = get(h.sock, "/v1/slots")
    assert.are.equal(404, code)
    assert.are.equal("ENOENT", v.error.code)
    code, v = post(h.sock, "/v1/reload", '{"dry_run": true}')
    assert.are.equal(200, code)
    assert.is_true(v.ok)
    assert.is_true(v.dry_run)
    assert.are.equal(0, #v.plan.add + #v.plan.remove + #v.plan.restart + #v.plan.update)
    local seen = {}
    for _, n in ipairs(v.plan.unchanged) do seen[n] = true end
    assert.is_true(seen.web and seen.talker, "unchanged: " .. table.concat(v.plan.unchanged, ", "))
    code, v = post(h.sock, "/v1/reload", '{"dry_run": 1}')
    assert.are.equal(400, code)
    assert.are.equal("EINVAL", v.error.code)
  end)

  it("bad requests: malformed JSON 400, body over 64 KiB 413, unknown route / task 404, method 405", function()
    local code, v = post(h.sock, "/v1/tasks/talker/signal", '{"signal": ')
    assert.are.equal(400, code)
    assert.are.equal("EBADJSON", v.error.code)
    assert.truthy(v.error.message:find("line 1", 1, true))
    -- (the body is read and dropped before the answer: answering while the
    -- client still sent reset the connection now and then, curl saw no code)
    local big = string.rep("x", 65 * 1024)
    for _ = 1, 20 do
      code, v = post(h.sock, "/v1/tasks/web/stop", big)
      assert.are.equal(413, code)
      assert.are.equal("ETOOBIG", v.error.code)
    end
    -- chunked (no Content-Length), and one that asks first (Expect: 100-continue)
    code, v = curl(h.sock, "POST", "/v1/tasks/web/stop", big, "", "-H 'Transfer-Encoding: chunked' ")
    assert.are.equal(413, code)
    assert.are.equal("ETOOBIG", v.error.code)
    code, v = curl(h.sock, "POST", "/v1/tasks/web/stop", big, "", "-H 'Expect: 100-continue' ")
    assert.are.equal(413, code)
    assert.are.equal("request body over 65536 bytes", v.error.message)
    code, v = get(h.sock, "/v1/tasks/web")
    assert.are.equal("RUNNING", v.state) -- (none of them stopped it)
    code, v = get(h.sock, "/v1/nothing")
    assert.are.equal(404, code)
    assert.are.equal("ENOENT", v.error.code)
    code, v = get(h.sock, "/v1/tasks/nosuch")
    assert.are.equal(404, code)
    assert.are.equal("no task 'nosuch'", v.error.message)
    code, v = post(h.sock, "/v1/tasks/nosuch/stop")
    assert.are.equal(404, code)
    code, v = curl(h.sock, "DELETE", "/v1/host")
    assert.are.equal(405, code)
    assert.are.equal("EMETHOD", v.error.code)
    code, v = post(h.sock, "/v1/tasks/web/stop", '{"wait": "soon"}')
    assert.are.equal(400, code)
    assert.truthy(v.error.message:find("wait", 1, true))
  end)

  it("a client that connects and never sends is dropped; others are answered meanwhile", function()
    local py = [[
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(120)
print("dropped" if s.recv(1) == b"" else "answered")
]]
    local p = io.popen(string.format("python3 -c %s %s", sq(py), sq(h.sock)))
    assert.are.equal(200, (get(h.sock, "/v1/host")))
    assert.are.equal("dropped\n", p:read("a"))
    p:close()
    assert.are.equal(200, (get(h.sock, "/v1/host")))
  end)

  it("more than control.max_connections (64 here) connections: 503 EBUSY; the host goes on", function()
    local py = [[
import socket, sys
held = []
for i in range(66):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"GET /v1/host HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    c = s.recv(4096)
    if not c: break
    data += c
print(data.split(b"\r\n")[0].decode())
print(b"EBUSY" in data)
]]
    local out = H.sh(string.format("python3 -c %s %s", sq(py), sq(h.sock)))
    assert.are.equal("HTTP/1.1 503 Service Unavailable\nTrue\n", out)
    assert.are.equal(200, (get(h.sock, "/v1/host")))
  end)

  it("another uid gets 403 from the server itself (logged); the socket was reachable", function()
    os.execute("chmod 0666 " .. sq(h.sock)) -- (so only the server's SO_PEERCRED check refuses)
    local code, v = curl(h.sock, "GET", "/v1/host", nil, "setpriv --reuid=65534 --regid=65534 --clear-groups ")
    os.execute("chmod 0600 " .. sq(h.sock))
    assert.are.equal(403, code)
    assert.are.equal("EACCES", v.error.code)
    assert.truthy(read(h.err):find("refused GET /v1/host from uid 65534", 1, true))
  end)
end)

describe("the task views (rendered in C from the core's states)", function()
  it("escape every string as JSON: quotes, backslashes, control characters; bytes that are not UTF-8 as U+FFFD", function()
    local h = start([=[
      local tv = require("taskvisor")
      return tv.config{ tasks = {
        tv.task{ name = 'odd "q" \\ name', run = function(ctx) while ctx:sleep(10) do end end },
        tv.task{ name = "bad", restart = "always", backoff = { first = 30 },
          run = function() error('q" b\\ nl\n tab\t ctl\1 byte\255 end', 0) end },
      } }
    ]=])
    local t = until_state(h, "bad", "BACKOFF")
    assert.are.equal('execution failed: q" b\\ nl\n tab\t ctl\1 byte\239\191\189 end', t.last_exit.reason)
    local code, all, text = get(h.sock, "/v1/tasks")
    assert.are.equal(200, code)
    assert.are.equal('odd "q" \\ name', all.tasks[1].name)
    assert.are.equal("RUNNING", all.tasks[1].state)
    assert.are.equal("bad", all.tasks[2].name)
    local f = io.open(h.dir .. "/all.json", "w")
    f:write(text)
    f:close()
    assert.are.equal("2\n", H.sh("jq '.tasks | length' " .. sq(h.dir .. "/all.json")))
    stop(h)
  end)
end)

describe("a config task that has ended with no outcome kept (keep_outcomes = 0)", function()
  it("is still a task of the API: STOPPED, and it can be started again", function()
    local h = start([=[
      local tv = require("taskvisor")
      return tv.config{ supervisor = { keep_outcomes = 0 }, tasks = {
        tv.task{ name = "once", restart = "never", run = function() end },
        tv.task{ name = "stay", run = function(ctx) while ctx:sleep(10) do end end },
      } }
    ]=])
    local t = until_state(h, "once", "STOPPED")
    assert.are.equal("once", t.name)
    local code, v = post(h.sock, "/v1/tasks/once/start")
    assert.are.equal(200, code)
    assert.is_true(v.ok)
    local code2 = get(h.sock, "/v1/tasks/nobody")
    assert.are.equal(404, code2)
    stop(h)
  end)
end)

describe("the control socket", function()
  it("is made 0600 in a 0700 directory under $XDG_RUNTIME_DIR, named after the config; removed on exit", function()
    local dir = tmpdir()
    local h = start("return require('taskvisor').config{ tasks = { { name = 't', run = function() require('taskvisor').sleep(100) end } } }",
      { dir = dir, file = "site.lua", args = "", sock = dir .. "/taskvisor/site.sock",
        env = "XDG_RUNTIME_DIR=" .. sq(dir) .. " " })
    local mode = H.sh("stat -c %a " .. sq(dir .. "/taskvisor") .. " " .. sq(h.sock))
    assert.are.equal("700\n600\n", mode)
    stop(h)
  end)

  it("a stale socket is replaced; a live host of the same name is refused (exit 1, its pid)", function()
    local dir = tmpdir()
    local sock = dir .. "/ctl.sock"
    -- a socket file nobody listens on (its host died)
    assert.are.equal("", (H.sh(string.format("python3 -c %s", sq(
      "import socket; s = socket.socket(socket.AF_UNIX); s.bind('" .. sock .. "')")))))
    local code = [[return require('taskvisor').config{ tasks = { { name = 't', run = function() require('taskvisor').sleep(100) end } } }]]
    local h = start(code, { dir = dir, sock = sock })
    local second = start(code, { dir = dir, sock = sock, file = "other.lua", no_wait = true })
    assert.are.equal(1, exit_status(second))
    local err = read(second.err)
    assert.truthy(err:find(string.format("another host 'other' is running, pid %d", h.pid), 1, true), err)
    assert.are.equal(200, (get(sock, "/v1/host"))) -- the first still answers
    stop(h)
  end)

  it("control.group admits that group's members (another uid, SO_PEERCRED's gid); others still 403", function()
    local h = start([[return require('taskvisor').config{ control = { group = "nogroup" },
      tasks = { { name = 't', run = function() require('taskvisor').sleep(100) end } } }]])
    os.execute("chmod 0666 " .. sq(h.sock))
    local code, v = curl(h.sock, "GET", "/v1/host", nil, "setpriv --reuid=65534 --regid=65534 --clear-groups ")
    assert.are.equal(200, code)
    assert.are.equal(h.pid, v.pid)
    code = curl(h.sock, "GET", "/v1/host", nil, "setpriv --reuid=65534 --regid=65533 --clear-groups ")
    assert.are.equal(403, code)
    os.execute("chmod 0600 " .. sq(h.sock))
    stop(h)
  end)

  it("a control option that is wrong fails the start (exit 1, the field named)", function()
    local h = start([[return require('taskvisor').config{ control = { group = "no-such-group-x" }, tasks = {} }]],
      { no_wait = true })
    assert.are.equal(1, exit_status(h))
    assert.truthy(read(h.err):find("'control.group': no group named 'no-such-group-x'", 1, true), read(h.err))
    local h2 = start([[return require('taskvisor').config{ control = { idle = 1 }, tasks = {} }]], { no_wait = true })
    assert.are.equal(1, exit_status(h2))
    assert.truthy(read(h2.err):find("unknown option 'control.idle'", 1, true), read(h2.err))
    local h3 = start([[return require('taskvisor').config{ control = { max_connections = 0 }, tasks = {} }]], { no_wait = true })
    assert.are.equal(1, exit_status(h3))
    assert.truthy(read(h3.err):find("'control.max_connections' must be an integer in [1, 4096]", 1, true), read(h3.err))
    assert.is_nil(io.open(h.sock), "the socket is left behind")
    os.execute("rm -rf " .. sq(h.dir) .. " " .. sq(h2.dir) .. " " .. sq(h3.dir))
  end)

  it("taskvisor run SCRIPT (it runs its own supervisor) serves the API; reload says why not", function()
    local script = [[
local tv = require("taskvisor")
local sup = tv.supervisor{}
sup:add(tv.task{ name = "s", run = function() tv.sleep(1000) end })
assert(sup:run())
]]
    local h = start(script)
    local code, v = post(h.sock, "/v1/reload")
    assert.are.equal(409, code)
    assert.are.equal("ERELOAD", v.error.code)
    assert.truthy(v.error.message:find("sup:run() itself", 1, true))
    local t = until_state(h, "s", "RUNNING")
    assert.are.equal("task", t.kind)
    stop(h)
  end)

  it("plain 'taskvisor script.lua' serves nothing", function()
    local dir = tmpdir()
    local out, status = H.sh(string.format("XDG_RUNTIME_DIR=%s %s -e %s", sq(dir), sq(HOST),
      sq("local tv = require('taskvisor'); local s = tv.supervisor{}; s:add(tv.task{ name = 'x', run = function() end }); assert(s:run()); print(io.open(os.getenv('XDG_RUNTIME_DIR') .. '/taskvisor') == nil)")))
    assert.are.equal(0, status, out)
    assert.are.equal("true\n", out)
    os.execute("rm -rf " .. sq(dir))
  end)
end)
