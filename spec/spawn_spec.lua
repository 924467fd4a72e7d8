-- spawn_spec: what the child of a process task starts with, whatever the
-- spawn path (clone with CLONE_VM | CLONE_VFORK, into its cgroup at birth):
-- default signal dispositions and an empty signal mask, only fds 0-2, a
-- process group of its own, and restarts that reuse a cgroup are not killed
-- at birth.
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv

-- The TaskOutput lines of task `name`.
local function lines(events, name)
  local out = {}
  for _, ev in ipairs(events) do
    if ev.kind == "TaskOutput" and ev.task == name then out[#out + 1] = ev.line end
  end
  return out
end

describe("a spawned child", function()
  it("starts with no caught, ignored or blocked signal", function()
    local events = P.run({ tv.process({ name = "status", cmd = { "cat", "/proc/self/status" },
      stdout = "events", restart = "never" }) })
    local seen = {}
    for _, l in ipairs(lines(events, "status")) do
      local k, v = l:match("^(Sig%a%a%a):%s+(%x+)$")
      if k then seen[k] = v end
    end
    assert.equal("0000000000000000", seen.SigIgn)
    assert.equal("0000000000000000", seen.SigCgt)
    assert.equal("0000000000000000", seen.SigBlk)
  end)

  it("holds only fds 0-2, even with a file of the host's open without close-on-exec", function()
    local f = assert(io.open(P.tmpname(), "w")) -- (fopen: no O_CLOEXEC)
    local events = P.run({ tv.process({ name = "fds", cmd = { "ls", "-1", "/proc/self/fd" },
      stdout = "events", restart = "never" }) })
    f:close()
    -- 3 is ls's own listing of the directory
    assert.same({ "0", "1", "2", "3" }, lines(events, "fds"))
  end)

  it("leads a process group of its own, a child of the host", function()
    local events = P.run({ tv.process({ name = "stat", cmd = { "cat", "/proc/self/stat" },
      stdout = "events", restart = "never" }) })
    local l = lines(events, "stat")[1]
    local pid, ppid, pgrp = l:match("^(%d+) %b() %a (%d+) (%d+)")
    assert.equal(pid, pgrp)
    assert.equal(tostring(P.self_pid()), ppid)
    assert.equal(tonumber(pid), H.first(events, "TaskStarting", "stat").pid)
  end)

  it("restarts after an attempt whose tree was killed: every attempt runs to its own exit", function()
    -- each attempt leaves a member behind, which is SIGKILLed with its
    -- cgroup when the leader exits; the next attempt must not be born into
    -- a cgroup that was killed (Linux 6.18 kills such a child at birth)
    local events = P.run({ tv.process({ name = "leaver", cmd = { "/bin/sh", "-c", "sleep 5 & exit 3" },
      max_retries = 4, backoff = { first = 0 } }) })
    local codes = {}
    for _, ev in ipairs(events) do
      if ev.kind == "TaskFailed" and ev.task == "leaver" then codes[#codes + 1] = ev.exit_code or ev.signal end
    end
    assert.same({ 3, 3, 3, 3, 3 }, codes)
  end)

  it("restarts many times in a row, each attempt exiting with its own code", function()
    local events = P.run({ tv.process({ name = "quick", cmd = { "/bin/sh", "-c", "exit 4" },
      max_retries = 29, backoff = { first = 0 } }) })
    assert.equal(30, H.count(events, "TaskFailed", "quick"))
    for _, ev in ipairs(events) do
      if ev.kind == "TaskFailed" then assert.equal(4, ev.exit_code) end
    end
    assert.same({}, P.zombies())
  end)
end)
