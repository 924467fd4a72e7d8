-- spec/observe_browser_spec.lua: the status page (issue 16.3-4) in a real
-- browser: Debian's chromium, headless, driven by spec/observe_browser.py
-- (python3-selenium + chromium-driver) against a running host. The page must
-- show the real states, a crashing task's restarts rising without a reload,
-- a hostile task name as text, a task's last events on click; its stop
-- button must stop the task, which is checked here through the control
-- socket. The screenshot is saved beside the test log
-- (BUILD/Testing/Temporary/status-page.png).
local H = require("helpers")
local O = require("observe_helpers")
local sq = O.sq

local CONFIG = [[
local tv = require("taskvisor")
local tasks = {
  tv.process{ name = "web", cmd = { "sleep", "1000" } },
  tv.process{ name = "crash", cmd = { "sh", "-c", "sleep 0.2; exit 3" }, restart = "always", backoff = { first = 0.2 } },
  tv.task{ name = "worker", run = function() tv.sleep(1000) end },
  tv.process{ name = "<script>alert(1)</script>", cmd = { "sleep", "1000" } },
  tv.group{ name = "jobs", children = {
    tv.task{ name = "jobs.a", run = function() tv.sleep(1000) end },
    tv.task{ name = "jobs.b", run = function() tv.sleep(1000) end },
  } },
}
-- rows far below the viewport: filled in only once scrolled near
for i = 1, 40 do tasks[#tasks + 1] = tv.task{ name = "idle-" .. i, run = function() tv.sleep(1000) end } end
return tv.config{ tasks = tasks }
]]

local function shot_path()
  local module = os.getenv("TASKVISOR_MODULE") or ""
  local build = module:match("^(.*)/lib/taskvisor/[^/]+$")
  if build then
    os.execute("mkdir -p " .. sq(build .. "/Testing/Temporary"))
    return build .. "/Testing/Temporary/status-page.png"
  end
  return os.tmpname() .. ".png"
end

describe("the status page in headless chromium", function()
  it("shows live states, restarts rising, names as text; its stop button stops the task", function()
    local h = O.start(CONFIG, "--http 127.0.0.1:0")
    finally(function() O.stop(h) end)
    h.port = O.until_true(function()
      return tonumber(O.read(h.err):match("serving on http://127%.0%.0%.1:(%d+)/"))
    end, "the listener's port")
    local token = O.read(h.sock:gsub("%.sock$", "") .. ".http-token"):match("^(%x+)")
    -- (this run's own file, renamed over status-page.png once checked: the
    -- memcheck copy of this spec runs at the same time and would remove or
    -- overwrite a shared one)
    local final = shot_path()
    local shot = final:gsub("%.png$", "") .. "." .. tostring(h.pid or os.time()) .. ".png"
    os.remove(shot)
    local url = string.format("http://127.0.0.1:%d/#token=%s", h.port, token)
    local out, status = H.sh("timeout 240 /usr/bin/python3 spec/observe_browser.py " .. sq(url) .. " " .. sq(shot))
    io.stderr:write(out)
    assert.are.equal(0, status, out)
    for _, check in ipairs({ "table shows worker RUNNING", "without a reload", "has a restarts plot",
        "the hostile name renders as text", "shows its last events", "the stop button stopped worker",
        "a row far below is filled in once scrolled to" }) do
      assert.truthy(out:find(check, 1, true), check)
    end
    -- the stop, as the control API has it
    local code, t = O.curl(h, "GET", "/v1/tasks/worker")
    assert.are.equal(200, code)
    assert.truthy(t:find('"state":"STOPPED"', 1, true), t)
    assert.truthy(t:find('"operator_stopped":true', 1, true), t)
    -- and the others untouched
    _, t = O.curl(h, "GET", "/v1/tasks/web")
    assert.truthy(t:find('"state":"RUNNING"', 1, true), t)
    local f = assert(io.open(shot, "rb"), "no screenshot at " .. shot)
    assert.are.equal("\137PNG", f:read(4))
    f:close()
    assert(os.rename(shot, final))
    O.stop(h)
  end)
end)
