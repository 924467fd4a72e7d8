-- spec/observe_metrics_spec.lua: GET /metrics (issue 16.2) on a real host's
-- control socket and on its --http listener: promtool accepts the text,
-- counters rise as a task crashes, failures are told apart by cause, label
-- values are escaped; and the TCP listener's guards (loopback only without
-- a token, Host and Origin checks, a token for any change).
local H = require("helpers")
local O = require("observe_helpers")
local sq = O.sq

-- name{labels} -> value for every sample of the exposition text.
local function parse(text)
  local s = {}
  for line in text:gmatch("[^\n]+") do
    if line:sub(1, 1) ~= "#" then
      local key, v = line:match("^(.-) (%S+)$")
      assert(key, "not a sample line: " .. line)
      s[key] = tonumber(v)
    end
  end
  return s
end

local function promtool(text)
  local f = os.tmpname()
  local h = io.open(f, "w")
  h:write(text)
  h:close()
  local out, status = H.sh("promtool check metrics < " .. sq(f))
  os.remove(f)
  return status, out
end

local function scrape(h, opts)
  local code, text = O.curl(h, "GET", "/metrics", opts)
  assert.are.equal(200, code, text)
  return text, parse(text)
end

local CONFIG = [[
local tv = require("taskvisor")
return tv.config{ tasks = {
  tv.process{ name = "crash", cmd = { "sh", "-c", "exit 3" }, restart = "always", backoff = { first = 0.05 } },
  tv.process{ name = "killed", cmd = { "sh", "-c", "kill -9 $$" }, restart = "always", backoff = { first = 0.05 } },
  tv.task{ name = "slow", timeout = 0.05, restart = "always", backoff = { first = 0.05 }, run = function() tv.sleep(10) end },
  tv.task{ name = "raises", restart = "always", backoff = { first = 0.05 }, run = function() error("no luck") end },
  tv.task{ name = 'odd "q" \\ name', run = function() tv.sleep(100) end },
} }
]]

describe("GET /metrics", function()
  it("is valid Prometheus text whose counters follow the tasks", function()
    local h = O.start(CONFIG)
    finally(function() O.stop(h) end)
    local s
    O.until_true(function()
      local _, v = scrape(h)
      s = v
      return (v['taskvisor_task_failures_total{task="crash",cause="exit_code"}'] or 0) >= 2
        and (v['taskvisor_task_failures_total{task="killed",cause="signal"}'] or 0) >= 1
        and (v['taskvisor_task_failures_total{task="slow",cause="timeout"}'] or 0) >= 1
        and (v['taskvisor_task_failures_total{task="raises",cause="error"}'] or 0) >= 1
    end, "a failure of each cause")
    local text, first = scrape(h)
    local status, out = promtool(text)
    assert.are.equal(0, status, out)
    -- each failure counted under its own cause only
    assert.are.equal(0, first['taskvisor_task_failures_total{task="crash",cause="signal"}'])
    assert.are.equal(0, first['taskvisor_task_failures_total{task="killed",cause="exit_code"}'])
    assert.are.equal(0, first['taskvisor_task_failures_total{task="slow",cause="error"}'])
    assert.are.equal(0, first['taskvisor_task_failures_total{task="raises",cause="timeout"}'])
    -- restarts rise after more crashes (a counter: never down)
    local r1 = first['taskvisor_task_restarts_total{task="crash"}']
    assert.is_true(r1 >= 1)
    assert.is_true(first['taskvisor_task_attempts_total{task="crash"}'] >= r1 + 1)
    O.until_true(function()
      local _, v = scrape(h)
      return v['taskvisor_task_restarts_total{task="crash"}'] > r1
    end, "more restarts")
    -- the hostile name: escaped per the text format, and up with an uptime
    local label = '{task="odd \\"q\\" \\\\ name"}'
    assert.are.equal(1, first["taskvisor_task_up" .. label])
    assert.are.equal(1, first["taskvisor_task_ready" .. label])
    assert.are.equal(0, first["taskvisor_task_restarts_total" .. label])
    assert.is_true(first["taskvisor_task_uptime_seconds" .. label] > 0)
    -- the tracker's subscriber: what it got, nothing dropped
    assert.is_true(first['taskvisor_subscriber_events_delivered_total{subscriber="taskvisor.control"}'] > 10)
    assert.are.equal(0, first['taskvisor_subscriber_events_dropped_total{subscriber="taskvisor.control"}'])
    assert.are.equal(5, first.taskvisor_tasks)
    assert.is_true(first.taskvisor_host_open_fds > 3)
    assert.is_true(first.taskvisor_host_resident_memory_bytes > 1e6)
    assert.is_true(first.taskvisor_events_published_total > 10)
    assert.are.equal(0, first.taskvisor_restart_budget_max)
    assert.truthy(text:find("# TYPE taskvisor_task_restarts_total counter\n", 1, true))
    assert.truthy(text:find("# HELP taskvisor_task_up ", 1, true))
    O.stop(h)
  end)
end)

describe("taskvisor run --http", function()
  local function port_of(h)
    return O.until_true(function()
      return tonumber(O.read(h.err):match("serving on http://127%.0%.0%.1:(%d+)/"))
    end, "the listener's port")
  end

  it("serves /metrics, the page and the API on loopback, with Host, Origin and token checks", function()
    local h = O.start(CONFIG, "--http 127.0.0.1:0")
    finally(function() O.stop(h) end)
    h.port = port_of(h)
    local tokfile = h.sock:gsub("%.sock$", "") .. ".http-token"
    local token = O.read(tokfile):match("^(%x+)\n$")
    assert.are.equal(64, #token)
    assert.are.equal("600", (H.sh("stat -c %a " .. sq(tokfile)):match("%d+")))
    local text = scrape(h, { tcp = true })
    assert.are.equal(0, (promtool(text)))
    local code, page = O.curl(h, "GET", "/", { tcp = true })
    assert.are.equal(200, code)
    assert.truthy(page:find('<script src="/status.js"></script>', 1, true))
    assert.are.equal(200, (O.curl(h, "GET", "/status.js", { tcp = true })))
    -- DNS rebinding: another name for this address is refused, even for a GET
    code = O.curl(h, "GET", "/metrics", { tcp = true, headers = { "Host: attacker.example:" .. h.port } })
    assert.are.equal(421, code)
    -- a change needs the token; a foreign Origin is refused even with it
    local body
    code, body = O.curl(h, "POST", "/v1/tasks/raises/stop", { tcp = true })
    assert.are.equal(401, code)
    assert.truthy(body:find("ETOKEN", 1, true))
    code = O.curl(h, "POST", "/v1/tasks/raises/stop", { tcp = true,
      headers = { "X-Taskvisor-Token: " .. token, "Origin: http://attacker.example" } })
    assert.are.equal(403, code)
    code = O.curl(h, "POST", "/v1/tasks/raises/stop", { tcp = true, headers = { "X-Taskvisor-Token: " .. ("0"):rep(64) } })
    assert.are.equal(401, code)
    -- nothing was stopped by those
    local _, t = O.curl(h, "GET", "/v1/tasks/raises")
    assert.falsy(t:find('"operator_stopped":true', 1, true))
    code = O.curl(h, "POST", "/v1/tasks/raises/stop", { tcp = true,
      headers = { "X-Taskvisor-Token: " .. token, "Origin: http://127.0.0.1:" .. h.port } })
    assert.are.equal(200, code)
    O.until_true(function()
      local _, tt = O.curl(h, "GET", "/v1/tasks/raises")
      return tt:find('"state":"STOPPED"', 1, true)
    end, "raises stopped (seen on the control socket)")
    O.stop(h)
    assert.is_nil(io.open(tokfile)) -- (removed with the listener)
  end)

  it("sends the page's feed a first line of every task even when it is over the stream's 1 MB", function()
    -- (1,500 tasks with 240-byte names: the line is 1.2 MB; 10,000 tasks
    -- make 3 MB. The limit is for bytes piled up unread.)
    local h = O.start([[
local tv = require("taskvisor")
local tasks = {}
for i = 1, 1500 do tasks[i] = tv.task{ name = ("n"):rep(240) .. i, run = function() tv.sleep(1000) end } end
return tv.config{ tasks = tasks }
]], "--http 127.0.0.1:0")
    finally(function() O.stop(h) end)
    h.port = port_of(h)
    local line = H.sh(string.format("curl -sN http://127.0.0.1:%d/observe/tasks | head -n 1", h.port))
    assert.is_true(#line > 1024 * 1024, "the first line has " .. #line .. " bytes")
    local n = 0
    for _ in line:gmatch('"path":"n+%d+"') do n = n + 1 end
    assert.are.equal(1500, n)
    O.stop(h)
  end)

  it("refuses a non-loopback address without a token, and bad addresses, naming them", function()
    local cfg = H.script('local tv = require("taskvisor") return tv.config{ tasks = {} }')
    local out, status = H.sh(string.format("env -u TASKVISOR_HTTP_TOKEN %s run --control %s --http 0.0.0.0:0 %s",
      sq(H.host()), sq(cfg .. ".sock"), sq(cfg)))
    assert.are.equal(1, status)
    assert.truthy(out:find("'0.0.0.0' is not a loopback address: serving beyond this machine needs a token", 1, true), out)
    out, status = H.sh(string.format("%s run --control %s --http nonsense %s", sq(H.host()), sq(cfg .. ".sock"), sq(cfg)))
    assert.are.equal(1, status)
    assert.truthy(out:find("'--http': expected ADDR:PORT", 1, true), out)
    os.remove(cfg)
  end)
end)
