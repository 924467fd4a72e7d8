-- memlimit_spec: max_memory (PM2's max_memory_restart, systemd's MemoryMax=):
-- an attempt whose tree keeps more resident memory than the limit is stopped
-- and fails with the reason, like any failure (backoff, max_retries); one
-- under the limit is left alone. The memory is held by a grandchild (a Lua
-- interpreter under sh), so the whole tree is what is measured: through
-- the cgroup's members where there is one, through the leader's
-- descendants without (a host with TASKVISOR_CGROUP=off).
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv

-- sh, whose child holds `mib` MiB resident until it is killed.
local function hog(mib)
  return { "/bin/sh", "-c", string.format("%q -e \"local t = string.rep('x', %d << 20); os.execute('sleep 60')\"; exit 0",
    H.lua(), mib) }
end

describe("max_memory", function()
  it("stops an attempt over the limit and fails it with the reason; retries count it", function()
    local events = P.run({
      tv.process({ name = "hog", cmd = hog(64), max_memory = { limit = "32M", every = 0.05 }, max_retries = 1,
        backoff = { first = 0.01 }, stop_timeout = 2 }),
      tv.process({ name = "lean", cmd = { "sleep", "0.3" }, max_memory = { limit = "1G", every = 0.05 },
        restart = "never" }),
    })
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1", "BackoffScheduled#1",
      "TaskStarting#2", "TaskFailed#2", "ActorExhausted#2", "TaskRemoved" }, H.trace(events, "hog"))
    for _, ev in ipairs(H.only(events, "hog", "TaskFailed")) do
      local seen = ev.reason:match("^execution failed: memory limit exceeded: ([%d.]+) MiB > 32 MiB$")
      assert.is_truthy(seen, ev.reason)
      assert.is_true(tonumber(seen) >= 32) -- (over 32 MiB, shown rounded to 0.1)
      assert.is_nil(ev.exit_code) -- (sh exits 0 on SIGTERM's way out: not what counts)
    end
    assert.equal("failure", H.first(events, "BackoffScheduled", "hog").backoff_source)
    assert.equal(1, H.count(events, "TaskStopped", "lean"))
    assert.equal(0, H.count(events, "TaskFailed", "lean"))
    assert.same({}, P.zombies())
  end)

  it("measures the leader's descendants when there is no cgroup", function()
    local path = H.script(string.format([[
local tv = require("taskvisor")
local sup = tv.supervisor({})
sup:subscribe(function(ev) if ev.kind == "TaskFailed" then print(ev.reason) end end)
assert(sup:run({ tv.process({ name = "hog", cmd = %s, max_memory = { limit = 32 << 20, every = 0.05 },
  restart = "never", stop_timeout = 2 }) }))
print("done")
]], string.format("{ %q, %q, %q }", table.unpack(hog(64)))))
    -- (TASKVISOR_CGROUP is read by the host's reaper when it starts)
    local out, status = H.sh(string.format("TASKVISOR_CGROUP=off %q %q", H.host(), path))
    os.remove(path)
    assert.equal(0, status)
    assert.matches("^execution failed: memory limit exceeded: [%d.]+ MiB > 32 MiB\ndone\n$", out)
  end)
end)
