-- spec/ctl_spec.lua: `taskvisor ctl` against a real host (`taskvisor run
-- --control SOCK cfg.lua` in the background): the status table and its
-- values (PIDs as the host reports them and as /proc has them), --json read
-- with jq, start/stop/restart as docs/control-api.md says (an operator stop is
-- not restarted), tail -n, events --since and the gap (410), the socket
-- rules (--name, the only socket), and the exit statuses 0/1/2/3.
-- Every wait is for a state or an event, polled; never a fixed sleep.
local H = require("helpers")
local P = require("proc_helpers")

local HOST = H.host()

local function sq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function has(s, sub) return s:find(sub, 1, true) ~= nil end

local dir = P.tmpname()
os.execute("mkdir -p " .. sq(dir) .. " && chmod 700 " .. sq(dir))
local SOCK = dir .. "/h.sock"

-- ctl(args[, env]) -> stdout, exit status, stderr.
local function ctl(args, env)
  return H.sh((env or "") .. sq(HOST) .. " ctl " .. args, true)
end
local function ctl_s(args) return ctl("--socket " .. sq(SOCK) .. " " .. args) end

-- jq(json, filter) -> its raw output (or its error) without the last newline.
local function jq(json, filter)
  local f = P.tmpname()
  local h = assert(io.open(f, "w"))
  h:write(json)
  h:close()
  local out, status = H.sh("jq -r " .. sq(filter) .. " " .. sq(f) .. " 2>&1")
  os.remove(f)
  return (out:gsub("\n$", ""))
end

-- Polls fn() (each try costs a ctl round trip or a short sleep) until it
-- returns a true value, for at most `secs` (default 60: only a stuck run fails).
local function until_true(fn, secs)
  local deadline = os.time() + (secs or 60)
  repeat
    local v = fn()
    if v then return v end
    os.execute("sleep 0.05")
  until os.time() > deadline
  return nil
end

-- The task named `name` in `status --json`, as a table of the fields used here.
local function task(name)
  local out, status = ctl_s("--json status")
  if status ~= 0 then return nil end
  local line = jq(out, string.format(
    '.tasks[] | select(.name == "%s") | [.state, (.pid // "null"), .restarts, (.operator_stopped // false)] | @tsv', name))
  local state, pid, restarts, stopped = line:match("^(%S+)\t(%S+)\t(%S+)\t(%S+)$")
  if not state then return nil end
  return { state = state, pid = tonumber(pid), restarts = tonumber(restarts), operator_stopped = stopped == "true" }
end

-- "seq kind" of each event about `name` after seq `since`, in order.
local function events_of(name, since)
  local out, status, err = ctl_s("--json events --since " .. since)
  assert.are.equal(0, status, err)
  local list = {}
  local lines = jq(out, string.format('select(.task == "%s") | "\\(.seq) \\(.kind)"', name))
  for l in lines:gmatch("[^\n]+") do list[#list + 1] = l end
  return list
end

-- The newest seq: the last event after `from` (itself when none came since).
local function newest_seq(from)
  local out, status, err = ctl_s("--json events" .. (from and " --since " .. from or ""))
  if status ~= 0 and from and err:find("no longer kept", 1, true) then
    -- (a slow machine: more than the backlog's 1,000 events came since `from`)
    out, status, err = ctl_s("--json events")
  end
  assert.are.equal(0, status, err)
  local last = out:match("([^\n]+)\n?$")
  return last and tonumber(jq(last, ".seq")) or from or 0
end
local cursor -- a recent seq (newest_seq from it stays cheap)

local CONFIG = [[
local tv = require("taskvisor")
local dir = ...
return tv.config{
  supervisor = { grace = 5 },
  control = { backlog = 1000 },
  tasks = {
    tv.process{ name = "web", restart = "always", backoff = { first = 0.05 },
      cmd = { "sh", "-c", "for i in 1 2 3 4 5; do echo out$i; done; exec sleep 600" },
      stdout = dir .. "/web.log" },
    tv.task{ name = "worker", restart = "always", run = function(ctx) while ctx:sleep(0.05) do end end },
    -- a steady source of events: fails, backs off 0.1 s, starts again
    tv.task{ name = "tick", restart = "on_failure", backoff = { first = 0.1 },
      run = function() error("tick") end },
    tv.group{ name = "grp", children = {
      tv.process{ name = "child", restart = "always", cmd = { "sleep", "600" } },
    } },
    -- ignores SIGTERM (an ignored signal stays ignored across exec): a stop
    -- needs its stop_timeout (1 s), then SIGKILL
    tv.process{ name = "stubborn", restart = "never", stop_timeout = 1,
      cmd = { "sh", "-c", "trap '' TERM; exec sleep 600" } },
    -- 5,000 TaskOutput events at start: more than the event backlog keeps
    tv.process{ name = "burst", restart = "never", cmd = { "seq", "1", "5000" }, stdout = "events" },
  },
}
]]

-- Starts `taskvisor run cfg.lua [opts] dir` in the background (the options
-- after CONFIG, as the issue writes them; the config's own argument `dir`
-- after them); returns its pid. (control_spec puts them before CONFIG.)
local function start_host(opts, env)
  local cfg = dir .. "/cfg.lua"
  local f = assert(io.open(cfg, "w"))
  f:write(CONFIG)
  f:close()
  local out = H.sh(string.format("%s%s run %s %s %s >%s 2>&1 & echo $!", env or "", sq(HOST), sq(cfg), opts,
    sq(dir), sq(dir .. "/host.log")))
  return assert(tonumber(out:match("%d+")), out)
end

local function host_log()
  local f = io.open(dir .. "/host.log")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local host_pid

describe("taskvisor ctl against a running host", function()
  setup(function()
    host_pid = start_host("--control " .. sq(SOCK))
    assert(until_true(function() return select(2, ctl_s("host")) == 0 end),
      "the host's control socket never answered:\n" .. host_log())
    assert(until_true(function()
      local w, c, b = task("web"), task("child"), task("burst")
      return w and w.state == "RUNNING" and w.pid and c and c.pid and b and b.state == "EXITED"
    end), "web and child never RUNNING, burst never EXITED:\n" .. host_log())
    cursor = newest_seq()
  end)

  teardown(function()
    if host_pid and P.alive(host_pid) then
      os.execute("kill -TERM " .. host_pid)
      until_true(function() return not P.alive(host_pid) end, 30)
    end
  end)

  it("status prints NAME STATE PID UPTIME RESTARTS LAST-EXIT, the group's child indented, the host's PIDs", function()
    local out, status, err = ctl_s("status")
    assert.are.equal(0, status, err)
    assert.are.equal("", err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.is_truthy(lines[1]:match("^NAME +STATE +PID +UPTIME +RESTARTS +LAST%-EXIT$"), lines[1])
    assert.is_falsy(has(out, "\27["), "colour on a pipe") -- stdout is not a terminal here
    local rows = {}
    for i = 2, #lines do
      local indent, name, state, pid, up, restarts, last = lines[i]:match("^( *)(%S+) +(%u+) +(%S+) +(%S+) +(%S+) +(.-)$")
      assert(name, "unexpected row: " .. lines[i])
      rows[name] = { indent = #indent, state = state, pid = pid, restarts = restarts, last = last, at = i }
    end
    for _, n in ipairs({ "web", "worker", "tick", "grp", "child", "burst" }) do assert(rows[n], n .. " missing:\n" .. out) end
    assert.are.equal(0, rows.web.indent)
    assert.are.equal(0, rows.grp.indent)
    assert.are.equal(2, rows.child.indent)
    assert.are.equal(rows.grp.at + 1, rows.child.at)
    assert.are.equal("RUNNING", rows.web.state)
    -- the PID column is what the API reports, and that process is alive
    local json = ctl_s("--json status")
    local web_pid = tonumber(jq(json, '.tasks[] | select(.name == "web") | .pid'))
    local child_pid = tonumber(jq(json, '.tasks[] | select(.name == "child") | .pid'))
    assert.are.equal(tostring(web_pid), rows.web.pid)
    assert.are.equal(tostring(child_pid), rows.child.pid)
    assert.is_true(P.alive(web_pid))
    assert.are.equal("-", rows.worker.pid) -- a Lua task has no pid
    assert.are.equal("EXITED", rows.burst.state)
    assert.are.equal("exit 0", rows.burst.last)
  end)

  it("status NAME shows only those; an unknown NAME exits 1 with the message", function()
    local out, status = ctl_s("status web")
    assert.are.equal(0, status)
    local n = select(2, out:gsub("\n", ""))
    assert.are.equal(2, n, out)
    local _, status2, err2 = ctl_s("status web nope")
    assert.are.equal(1, status2)
    assert.is_truthy(err2:match("^taskvisor ctl: .*nope"), err2)
  end)

  it("--json prints the API's JSON (jq reads it) on every command", function()
    local out, status = ctl_s("--json status")
    assert.are.equal(0, status)
    assert.are.equal("true", jq(out, '.tasks | length >= 6'))
    assert.are.equal("process", jq(out, '.tasks[] | select(.name == "web") | .kind'))
    local host = ctl_s("host --json")
    assert.are.equal(tostring(host_pid), jq(host, ".pid"))
    assert.are.equal("open", jq(host, ".state"))
  end)

  it("tail -n N prints the last N lines of the task's output", function()
    local out = until_true(function()
      local o, s = ctl_s("tail -n 3 web")
      return s == 0 and o:match("out5\n$") and o
    end, 30)
    assert.are.equal("out3\nout4\nout5\n", out)
    local j = ctl_s("--json tail -n 2 web")
    assert.are.equal('["out4","out5"]', jq(j, ".lines | tojson"))
  end)

  it("restart gives a new pid, the old process gone", function()
    local before = task("web")
    local out, status, err = ctl_s("restart web")
    assert.are.equal(0, status, err)
    assert.is_truthy(has(out, "web: restarted"), out)
    local after = until_true(function()
      local t = task("web")
      return t and t.state == "RUNNING" and t.pid and t.pid ~= before.pid and t
    end)
    assert(after, "no new pid after restart")
    assert.is_true(P.alive(after.pid))
    assert(until_true(function() return not P.alive(before.pid) end), "the old process lives on")
  end)

  it("an operator stop stays stopped (no restart) until start, which gives a new pid", function()
    local before = task("web")
    local out, status, err = ctl_s("--json stop web")
    assert.are.equal(0, status, err)
    assert.are.equal("true", jq(out, ".ok"))
    local stopped = until_true(function()
      local t = task("web")
      return t and t.state == "STOPPED" and t
    end)
    assert(stopped, "web never STOPPED")
    assert.is_nil(stopped.pid)
    assert.is_true(stopped.operator_stopped)
    assert(until_true(function() return not P.alive(before.pid) end), "the process outlived its stop")
    -- web's backoff is 0.05 s; tick restarts every 0.1 s: after tick has
    -- started three more times, an automatic restart of web would have come.
    cursor = newest_seq(cursor)
    local last_web = cursor -- web's own events (its TaskStopped) are before this
    assert(until_true(function()
      local n = 0
      for _, e in ipairs(events_of("tick", last_web)) do if e:match(" TaskStarting$") then n = n + 1 end end
      return n >= 3
    end), "tick stopped restarting")
    for _, e in ipairs(events_of("web", last_web)) do
      assert.is_falsy(e:match(" TaskStarting$"), "web restarted after an operator stop: " .. e)
    end
    assert.are.equal("STOPPED", task("web").state)
    -- stopping it again is refused (409), with the message
    local _, status2, err2 = ctl_s("stop web")
    assert.are.equal(1, status2)
    assert.is_truthy(err2:match("^taskvisor ctl: "), err2)

    local out3, status3, err3 = ctl_s("start web")
    assert.are.equal(0, status3, err3)
    assert.is_truthy(has(out3, "web: started"), out3)
    local t = until_true(function()
      local x = task("web")
      return x and x.state == "RUNNING" and x.pid and x
    end)
    assert(t, "web never RUNNING again")
    assert.are_not.equal(before.pid, t.pid)
    assert.is_false(t.operator_stopped)
  end)

  it("stop --wait answers once the task is gone, or exits 1 when it is not gone in time", function()
    local out, status, err = ctl_s("stop --wait 60 worker")
    assert.are.equal(0, status, err)
    assert.are.equal("worker: stopped (STOPPED)\n", out)
    assert.are.equal("STOPPED", task("worker").state) -- at once: no polling
    assert.are.equal(0, select(2, ctl_s("start worker")))
    assert(until_true(function() local t = task("worker") return t and t.state == "RUNNING" end))

    local pid = task("stubborn").pid
    local out2, status2, err2 = ctl_s("stop --wait 0.1 stubborn")
    assert.are.equal(1, status2, out2)
    assert.is_truthy(err2:match("^taskvisor ctl: stubborn: "), err2)
    assert.are.equal("", out2)
    -- its stop goes on: SIGKILL after stop_timeout
    assert(until_true(function() return not P.alive(pid) end), "stubborn never ended")
    local j, s3 = ctl_s("--json stop --wait 1 web nope")
    assert.are.equal(1, s3)
    assert.are.equal("true", jq(j, ".ok"))
    assert.are.equal(0, select(2, ctl_s("start web")))
    assert(until_true(function() local t = task("web") return t and t.state == "RUNNING" and t.pid end))
  end)

  it("an unknown task exits 1 with the API's message; the others in the list still go", function()
    local out, status, err = ctl_s("restart nope worker")
    assert.are.equal(1, status)
    assert.is_truthy(err:match("^taskvisor ctl: [^\n]*nope"), err)
    assert.is_truthy(has(out, "worker: restarted"), out)
    local _, s2, e2 = ctl_s("tail nope")
    assert.are.equal(1, s2)
    assert.is_truthy(has(e2, "nope"), e2)
  end)

  it("signal sends to a process task (0) and refuses a Lua task (1, with the API's message)", function()
    local before = task("child")
    local out, status, err = ctl_s("signal CONT child")
    assert.are.equal(0, status, err)
    assert.are.equal("child: signalled CONT\n", out)
    assert.are.equal(before.pid, task("child").pid) -- SIGCONT leaves sleep running
    local _, s2, e2 = ctl_s("signal HUP worker")
    assert.are.equal(1, s2)
    assert.is_truthy(e2:match("^taskvisor ctl: [^\n]*worker"), e2)
    local _, s3, e3 = ctl_s("signal NOSUCH child")
    assert.are.equal(1, s3)
    assert.is_truthy(has(e3, "NOSUCH"), e3)
  end)

  it("events --since SEQ gives the events after SEQ, one line each; a seq out of the backlog is reported (410)", function()
    -- tick adds an event every few hundredths of a second: wait for 4 past the cursor
    local last = until_true(function()
      local n = newest_seq(cursor)
      return n >= cursor + 4 and n
    end)
    assert(last, "no new events")
    cursor = last
    local since = last - 3
    local out, status = ctl_s("--json events --since " .. since)
    assert.are.equal(0, status)
    for line in out:gmatch("[^\n]+") do
      assert.is_true(tonumber(jq(line, ".seq")) > since, line)
    end
    local text = ctl_s("events --since " .. since)
    local first = text:match("^%[(%d+)%] %[[%w-]+%] ")
    assert(first, text)
    assert.is_true(tonumber(first) > since)
    -- burst's 5,000 lines pushed seq 1 out of the 1,000 kept: --since 1 is a gap
    local _, gstatus, gerr = ctl_s("events --since 1")
    assert.are.equal(1, gstatus, gerr)
    assert.is_truthy(gerr:match("^taskvisor ctl: events: "), gerr)
    assert.is_truthy(gerr:match("oldest"), gerr)
  end)

  it("events -f streams new events as they happen", function()
    local log = dir .. "/follow.ndjson"
    cursor = newest_seq(cursor)
    local pid = tonumber(H.sh(string.format("%s ctl --socket %s --json events -f --since %d >%s 2>&1 & echo $!",
      sq(HOST), sq(SOCK), cursor, sq(log))):match("%d+"))
    -- the stream is up once tick's events reach the file
    assert(until_true(function() return has(P.read(log) or "", '"tick"') end),
      "no event streamed: " .. (P.read(log) or ""):sub(-500))
    assert.are.equal(0, select(2, ctl_s("restart worker")))
    assert(until_true(function()
      for line in (P.read(log) or ""):gmatch("[^\n]+") do
        if jq(line, 'select(.task == "worker" and .kind == "TaskStarting") | .kind') == "TaskStarting" then return true end
      end
    end), "worker's restart never streamed")
    os.execute("kill " .. pid)
  end)

  it("events -f without --since streams the whole backlog first, then new events", function()
    -- (docs/control-api.md: a follower with more than 1 MiB unread is cut off,
    -- so this holds for a backlog that fits: 1,000 events here.)
    local log = dir .. "/backlog.ndjson"
    cursor = newest_seq(cursor)
    local pid = tonumber(H.sh(string.format("%s ctl --socket %s --json events -f >%s 2>&1 & echo $!", sq(HOST),
      sq(SOCK), sq(log))):match("%d+"))
    assert(until_true(function() return has(P.read(log) or "", '"tick"') end),
      "no event streamed: " .. (P.read(log) or ""):sub(-500))
    assert.are.equal(0, select(2, ctl_s("restart worker")))
    local seqs
    assert(until_true(function()
      local text = P.read(log) or ""
      seqs = jq(text, ".seq")
      return jq(text, 'select(.task == "worker" and .kind == "TaskStarting") | .kind'):find("TaskStarting") and seqs
    end), "worker's restart never streamed")
    os.execute("kill " .. pid)
    local list = {}
    for n in seqs:gmatch("%d+") do list[#list + 1] = tonumber(n) end
    assert.is_true(list[1] < cursor, "the stream began at " .. list[1] .. ", not with the backlog (before " .. cursor .. ")")
    assert.is_true(#list >= 900, #list .. " events streamed")
    for i = 2, #list do assert.is_true(list[i] > list[i - 1], "seq out of order at " .. list[i]) end
  end)

  it("usage errors exit 2 and name the problem", function()
    local cases = {
      { "", "usage:" }, { "bogus", "unknown command 'bogus'" }, { "status --bogus", "'--bogus'" },
      { "tail", "missing NAME" }, { "events --since x", "--since" }, { "tail -n -1 web", "-n" },
      { "signal", "missing SIG" }, { "start", "missing NAME" }, { "reload extra", "extra" },
    }
    for _, c in ipairs(cases) do
      local _, status, err = ctl_s(c[1])
      assert.are.equal(2, status, c[1] .. ": " .. err)
      assert.is_truthy(has(err, c[2]), c[1] .. ": " .. err)
    end
    local out, status = ctl_s("status --help")
    assert.are.equal(0, status)
    assert.is_truthy(has(out, "usage: taskvisor ctl"), out)
    local out2, status2 = H.sh(sq(HOST) .. " help ctl")
    assert.are.equal(0, status2)
    assert.is_truthy(has(out2, "Exit status"), out2)
  end)

  it("shutdown stops the host; then ctl exits 3 naming the socket", function()
    local out, status, err = ctl_s("shutdown")
    assert.are.equal(0, status, err)
    assert.is_truthy(has(out, "shutting down"), out)
    assert(until_true(function() return not P.alive(host_pid) end), "the host did not end")
    local _, s2, e2 = ctl_s("status")
    assert.are.equal(3, s2, e2)
    assert.is_truthy(has(e2, SOCK), e2)
  end)
end)

describe("taskvisor ctl without a host", function()
  teardown(function() os.execute("rm -rf " .. sq(dir)) end)

  it("exits 3 for a missing socket and for one nobody listens on, naming it", function()
    local missing = dir .. "-none.sock"
    local _, status, err = ctl("--socket " .. sq(missing) .. " status")
    assert.are.equal(3, status)
    assert.is_truthy(has(err, missing) and has(err, "no host running"), err)
    local stale = P.tmpname() .. ".sock" -- bound, then its process ended: ECONNREFUSED
    H.sh(string.format("python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' %s",
      sq(stale)))
    local _, status2, err2 = ctl("--socket " .. sq(stale) .. " start web")
    os.remove(stale)
    assert.are.equal(3, status2, err2)
    assert.is_truthy(has(err2, stale) and has(err2, "refuses"), err2)
  end)

  it("finds the socket as the host makes it: --name, or the only one in the directory", function()
    local xdg = P.tmpname()
    os.execute("mkdir -p " .. sq(xdg) .. " && chmod 700 " .. sq(xdg))
    local env = "XDG_RUNTIME_DIR=" .. sq(xdg) .. " "
    local _, none, enone = ctl("status", env)
    assert.are.equal(3, none, enone)
    assert.is_truthy(has(enone, xdg .. "/taskvisor"), enone)
    local pid = start_host("--name alpha", env)
    local ok = until_true(function() return select(2, ctl("--name alpha host", env)) == 0 end)
    local out, status = ctl("--json host", env) -- the only socket there
    local _, wrong, ewrong = ctl("--name beta host", env)
    os.execute("kill -TERM " .. pid)
    until_true(function() return not P.alive(pid) end, 30)
    os.execute("rm -rf " .. sq(xdg))
    assert(ok, "no socket at $XDG_RUNTIME_DIR/taskvisor/alpha.sock:\n" .. host_log())
    assert.are.equal(0, status)
    assert.are.equal("alpha", jq(out, ".name"))
    assert.are.equal(3, wrong)
    assert.is_truthy(has(ewrong, xdg .. "/taskvisor/beta.sock"), ewrong)
  end)
end)
