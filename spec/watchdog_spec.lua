-- watchdog_spec.lua: `watchdog = s` (systemd's WatchdogSec): an attempt that
-- gives no sign of life for s seconds fails (TimeoutHit with reason
-- "watchdog"), a Lua task through ctx:alive(), a process through sd_notify's
-- WATCHDOG=1 on the NOTIFY_SOCKET it is given, with WATCHDOG_USEC set.
local H = require("helpers")
local tv = H.tv

describe("watchdog", function()
  it("a Lua task that stops calling ctx:alive() fails with the watchdog's reason, and is retried", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert(sup:add(tv.task{ name = "hung", watchdog = 0.2, max_retries = 1, backoff = { first = 0.01 },
      run = function(ctx)
        for _ = 1, 3 do ctx:alive(); ctx:sleep(0.01) end
        ctx:sleep(60) -- stuck, not dead
      end }))
    assert.is_true(sup:run())
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TimeoutHit#1", "TaskFailed#1",
      "BackoffScheduled#1", "TaskStarting#2", "TimeoutHit#2", "TaskFailed#2", "ActorExhausted#2", "TaskRemoved" },
      H.trace(events, "hung"))
    local hit = H.first(events, "TimeoutHit", "hung")
    assert.equal("watchdog", hit.reason)
    assert.equal(200, hit.timeout_ms)
    assert.equal("watchdog timeout: no sign of life within 200ms", H.first(events, "TaskFailed", "hung").reason)
  end)

  it("a task that keeps giving signs of life is never stopped by it", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert(sup:add(tv.once("busy", function(ctx)
      for _ = 1, 20 do ctx:alive(); ctx:sleep(0.01) end
    end, { watchdog = 30 })))
    assert.is_true(sup:run())
    assert.equal(0, H.count(events, "TimeoutHit", "busy"))
    assert.equal("completed", sup:outcomes().busy.status)
  end)

  it("a process pinging WATCHDOG=1 stays up while it pings, and fails once it stops", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    -- 40 pings 0.1 s apart: without them the 3 s watchdog would stop it long
    -- before it says "sent". (ready = "notify": the watchdog starts at
    -- READY=1, as systemd's does, so a python slow to start on a busy
    -- machine is not taken for a hung one.)
    assert(sup:add(tv.process{ name = "p", watchdog = 3, restart = "never", stdout = "events", ready = "notify",
      cmd = { "python3", "-c", [[
import os, socket, time
addr = os.environ["NOTIFY_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
print("usec", os.environ.get("WATCHDOG_USEC"), flush=True)
s.sendto(b"READY=1", "\0" + addr[1:])
for i in range(40):
    s.sendto(b"WATCHDOG=1", "\0" + addr[1:])
    time.sleep(0.1)
print("sent", flush=True)
time.sleep(60)
]] } }))
    assert.is_true(sup:run())
    local lines = {}
    for _, ev in ipairs(H.only(events, "p", "TaskOutput")) do lines[#lines + 1] = ev.line end
    assert.same({ "usec 3000000", "sent" }, lines)
    assert.is_true(H.index(events, "TaskOutput", "p") < H.index(events, "TimeoutHit", "p"))
    local sent
    for i, ev in ipairs(events) do if ev.kind == "TaskOutput" and ev.line == "sent" then sent = i end end
    assert.is_true(sent < H.index(events, "TimeoutHit", "p"), "stopped while it was pinging")
    assert.equal("watchdog", H.first(events, "TimeoutHit", "p").reason)
    assert.equal("watchdog timeout: no sign of life within 3s", H.first(events, "TaskFailed", "p").reason)
  end)

  it("a task that says when it is ready is watched from then on: a start longer than the watchdog is no hang", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    -- 1.5 s to start against a 0.5 s watchdog; then no ping at all
    assert(sup:add(tv.process{ name = "slow", watchdog = 0.5, restart = "never", ready = "notify",
      cmd = { "python3", "-c", [[
import os, socket, time
addr = os.environ["NOTIFY_SOCKET"]
time.sleep(1.5)
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", "\0" + addr[1:])
time.sleep(60)
]] } }))
    assert.is_true(sup:run())
    local ready, hit = H.index(events, "TaskReady", "slow"), H.index(events, "TimeoutHit", "slow")
    assert.truthy(ready, "never ready: stopped while it started")
    assert.is_true(ready < hit)
    assert.equal("watchdog", events[hit].reason)
    assert.equal("watchdog timeout: no sign of life within 500ms", H.first(events, "TaskFailed", "slow").reason)
  end)

  it("bad values name the field; a group has none", function()
    for _, v in ipairs({ 0, -1, "5", 0.001, 1e6 }) do
      local ok, err = pcall(tv.task, { name = "x", watchdog = v, run = function() end })
      assert.is_false(ok)
      assert.matches("'watchdog'", err)
    end
    local ok, err = pcall(tv.group, { name = "g", watchdog = 1, children = { tv.once("c", function() end) } })
    assert.is_false(ok)
    assert.matches("unknown option 'watchdog'", err) -- (a group shows no sign of life of its own)
  end)
end)
