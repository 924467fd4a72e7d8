-- shutdown_spec.lua: graceful shutdown on request and on signals: the event
-- narrative, the one shared grace deadline (enforced: stubborn tasks are
-- force-stopped and named), run()'s return values and the host's exit status.
local H = require("helpers")
local tv = H.tv

local cooperative = H.cooperative
local function stubborn(name, style, closed)
  return H.stubborn(name, { restart = "always", style = style, closed = closed })
end
local index_of, kinds = H.index, H.kinds

-- Runs `code` with the host in the background, sends it `signals` (a list of
-- {delay_seconds, "TERM"}), waits for it; returns output, exit status, seconds.
local function host_with_signals(code, signals)
  local path = H.script(code)
  local steps = {}
  for _, s in ipairs(signals) do
    steps[#steps + 1] = string.format("sleep %s; kill -%s $pid", s[1], s[2])
  end
  local cmd = string.format("sh -c '%s %s & pid=$!; %s; wait $pid; echo status=$?'",
    H.host(), path, table.concat(steps, "; "))
  local t0 = tv.monotime()
  local out = H.sh(cmd)
  local elapsed = tv.monotime() - t0
  os.remove(path)
  return out, tonumber(out:match("status=(%d+)")), elapsed
end

-- A host config: events printed one per line as "EV kind task reason".
local function config(grace, tasks_code)
  return string.format([[
local tv = require("taskvisor")
io.stdout:setvbuf("line")
local sup = tv.supervisor({ grace = %s })
sup:subscribe(function(ev)
  print(string.format("EV %%s %%s %%s", ev.kind, ev.task or "-", ev.reason or "-"))
end)
%s
-- a watchdog: if signals are not handled, exit with a distinct status
sup:add(tv.once("~watchdog", function(ctx)
  if ctx:sleep(8) then print("WATCHDOG"); os.exit(3) end
end))
local ok, err, stuck = sup:run()
print("RUN", tostring(ok), tostring(err), stuck and table.concat(stuck, ",") or "-")
]], grace, tasks_code)
end

local COOP_CODE = [[
sup:add(tv.task({ name = "w", restart = "always",
  run = function(ctx) while ctx:sleep(0.05) do end end }))
sup:add(tv.task({ name = "v", restart = "always",
  run = function(ctx) while ctx:sleep(0.05) do end end }))
]]

local STUBBORN_CODE = [[
sup:add(tv.task({ name = "mule", restart = "always",
  run = function(ctx)
    local give_up = tv.monotime() + 10
    while tv.monotime() < give_up do ctx:sleep(0.05) end
  end }))
sup:add(tv.task({ name = "w", restart = "always",
  run = function(ctx) while ctx:sleep(0.05) do end end }))
]]

-- Checks the host output of a cooperative config stopped by `signame`.
local function assert_signal_run(out, status, signame)
  assert.equal(0, status, out)
  assert.matches("EV ShutdownRequested %- signal " .. signame .. "\n", out)
  local lines = {}
  for line in out:gmatch("EV [^\n]+") do lines[#lines + 1] = line end
  local sr
  for i, l in ipairs(lines) do
    if l:match("^EV ShutdownRequested") then sr = i end
  end
  assert.is_not_nil(sr, out)
  local after = table.concat(lines, "\n", sr)
  assert.matches("EV TaskStopped w", after)
  assert.matches("EV TaskRemoved w", after)
  assert.matches("EV TaskStopped v", after)
  assert.matches("EV TaskRemoved v", after)
  assert.equal("EV AllStoppedWithinGrace - -", lines[#lines])
  assert.matches("RUN\ttrue\ttable: [^\t]+\t%-", out)
end

describe("shutdown", function()
  it("with cooperative tasks: ShutdownRequested, each TaskStopped + TaskRemoved, AllStoppedWithinGrace last; run returns true", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    for _, name in ipairs({ "a", "b", "c" }) do assert(sup:add(cooperative(name))) end
    assert(sup:add(H.stopper(sup, 0.1)))
    local t0 = tv.monotime()
    local results = table.pack(sup:run())
    local elapsed = tv.monotime() - t0
    assert.equal(2, results.n)
    assert.is_true(results[1])
    for _, name in ipairs({ "a", "b", "c" }) do
      assert.same({ status = "cancelled", attempts = 1 }, results[2][name])
    end
    assert.is_true(elapsed < 5, "took " .. elapsed) -- within the grace
    assert.equal("closed", sup:state())
    local sr = index_of(events, "ShutdownRequested")
    assert.is_not_nil(sr)
    assert.equal(1, H.count(events, "ShutdownRequested"))
    assert.equal("requested", events[sr].reason)
    for _, name in ipairs({ "a", "b", "c" }) do
      assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "TaskRemoved" },
        H.trace(events, name))
      assert.is_true(index_of(events, "TaskStopped", name) > sr)
      assert.is_nil(H.first(events, "TaskStopped", name).reason)
      assert.is_nil(H.first(events, "TaskRemoved", name).reason)
    end
    assert.equal("AllStoppedWithinGrace", events[#events].kind)
    assert.equal(1, H.count(events, "AllStoppedWithinGrace"))
    assert.equal(0, H.count(events, "GraceExceeded"))
    assert.equal(0, H.count(events, "TaskRemoveRequested")) -- shutdown is not a remove
  end)

  it("a task ignoring cancellation under grace = 0.2: GraceExceeded names only the stubborn tasks", function()
    local sup = tv.supervisor({ grace = 0.2 })
    local events = H.collect(sup)
    local closed = {}
    assert(sup:add(cooperative("coop1")))
    assert(sup:add(stubborn("zeta", "sleep", closed)))
    assert(sup:add(cooperative("coop2")))
    assert(sup:add(stubborn("yank", "sleep", closed)))
    assert(sup:add(H.stopper(sup, 0.05)))
    local t0 = tv.monotime()
    local ok, err, stuck = sup:run()
    local elapsed = tv.monotime() - t0
    assert.is_nil(ok)
    assert.is_string(err)
    assert.matches("^GraceExceeded: ", err)
    assert.matches("stuck: yank, zeta$", err)
    assert.same({ "yank", "zeta" }, stuck)
    -- (the stubborn ones give up by themselves after 5 s: under that, they were force-stopped)
    assert.is_true(elapsed >= 0.2 and elapsed < 4, "took " .. elapsed)
    local last = events[#events]
    assert.equal("GraceExceeded", last.kind)
    assert.matches("shutdown timeout .* exceeded; stuck: yank, zeta$", last.reason)
    assert.equal(1, H.count(events, "GraceExceeded"))
    assert.equal(0, H.count(events, "AllStoppedWithinGrace"))
    for _, name in ipairs({ "coop1", "coop2" }) do
      assert.is_nil(H.first(events, "TaskRemoved", name).reason)
      assert.is_nil(H.first(events, "TaskStopped", name).reason)
    end
    for _, name in ipairs({ "zeta", "yank" }) do
      assert.matches("^force_stopped", H.first(events, "TaskStopped", name).reason)
      assert.equal("force_stopped", H.first(events, "TaskRemoved", name).reason)
      assert.is_true(closed[name], name .. "'s <close> variable ran")
      assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "TaskRemoved" },
        H.trace(events, name))
    end
    -- the cooperative ones were gone long before the deadline
    assert.is_true(index_of(events, "TaskRemoved", "coop1") < index_of(events, "TaskStopped", "zeta"))
  end)

  it("grace = 0 force-stops at once", function()
    local sup = tv.supervisor({ grace = 0 })
    local events = H.collect(sup)
    local shutdown_at
    assert(sup:add(stubborn("s", "sleep")))
    assert(sup:add(tv.once("stopper", function(ctx)
      ctx:sleep(0.05)
      shutdown_at = tv.monotime()
      sup:shutdown()
    end)))
    local ok, err, stuck = sup:run()
    local after = tv.monotime() - shutdown_at
    assert.is_nil(ok)
    assert.matches("^GraceExceeded: .*stuck: s$", err)
    assert.same({ "s" }, stuck)
    -- at once: well before the stubborn task's own 5 s give-up
    assert.is_true(after < 4, "took " .. after .. " s after shutdown")
    assert.equal("GraceExceeded", events[#events].kind)
    assert.equal("force_stopped", H.first(events, "TaskRemoved", "s").reason)
  end)

  it("shutdown with nothing registered: ShutdownRequested, AllStoppedWithinGrace; run returns true", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert.is_true(sup:shutdown())
    local t0 = tv.monotime()
    local results = table.pack(sup:run())
    assert.is_true(tv.monotime() - t0 < 1)
    assert.same({ n = 2, true, {} }, results)
    assert.same({ "ShutdownRequested", "AllStoppedWithinGrace" }, kinds(events))
    assert.equal("requested", events[1].reason)
    assert.equal("closed", sup:state())
  end)

  it("sup:shutdown() twice: the second returns nil, 'ESHUTDOWN: ...' and publishes nothing", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    local first, second, state
    assert(sup:add(cooperative("w")))
    assert(sup:add(tv.once("ctl", function(ctx)
      ctx:sleep(0.05)
      first = { sup:shutdown() }
      state = sup:state()
      second = { sup:shutdown() }
    end)))
    assert.is_true(sup:run())
    assert.same({ true }, first)
    assert.equal("stopping", state)
    assert.is_nil(second[1])
    assert.matches("^ESHUTDOWN", second[2])
    assert.equal(1, H.count(events, "ShutdownRequested"))
    -- and once more after the run
    local again = { sup:shutdown() }
    assert.is_nil(again[1])
    assert.matches("^ESHUTDOWN", again[2])
  end)

  it("shutdown requested before run: run completes at once and returns true; no task starts", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    local ran = false
    assert(sup:add(tv.task({ name = "a", restart = "always", run = function() ran = true end })))
    assert(sup:add(cooperative("b")))
    assert.is_true(sup:shutdown())
    local second = { sup:shutdown() }
    local t0 = tv.monotime()
    assert.is_true(sup:run())
    assert.is_true(tv.monotime() - t0 < 1)
    assert.is_nil(second[1])
    assert.matches("^ESHUTDOWN", second[2])
    assert.is_false(ran)
    assert.equal(0, H.count(events, "TaskStarting"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskRemoved" }, H.trace(events, "a"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskRemoved" }, H.trace(events, "b"))
    assert.equal("AllStoppedWithinGrace", events[#events].kind)
    assert.equal(1, H.count(events, "ShutdownRequested"))
  end)

  it("a task calling sup:shutdown() about itself stops (TaskStopped, TaskRemoved) and is not restarted", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    local res, cancelled, slept
    assert(sup:add(tv.task({
      name = "self",
      restart = "always",
      run = function(ctx)
        ctx:sleep(0.05)
        res = { sup:shutdown() }
        cancelled = ctx:cancelled()
        slept = ctx:sleep(5) -- wakes at once: this task is being cancelled
      end,
    })))
    local t0 = tv.monotime()
    assert.is_true(sup:run())
    assert.is_true(tv.monotime() - t0 < 4) -- not the 5 s sleep
    assert.same({ true }, res)
    assert.is_true(cancelled)
    assert.is_false(slept)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "TaskRemoved" },
      H.trace(events, "self"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "ShutdownRequested",
      "TaskStopped#1", "TaskRemoved", "AllStoppedWithinGrace" }, H.trace(events))
  end)

  it("queued and backing-off tasks are cancelled without attempt events", function()
    local sup = tv.supervisor({ grace = 5, max_concurrent = 1 })
    local events = H.collect(sup)
    local runs = { backing = 0, q1 = 0, q2 = 0 }
    assert(sup:add(tv.task({
      name = "backing",
      backoff = { first = 10 },
      run = function()
        runs.backing = runs.backing + 1
        error("boom")
      end,
    })))
    assert(sup:add(cooperative("holder")))
    for _, name in ipairs({ "q1", "q2" }) do
      assert(sup:add(tv.once(name, function() runs[name] = runs[name] + 1 end)))
    end
    -- the stopper would need a permit too: shut down from a subscriber instead
    assert(sup:subscribe({
      name = "trigger",
      on_event = function(ev)
        if ev.kind == "TaskStarting" and ev.task == "holder" then
          tv.sleep(0.05)
          sup:shutdown()
        end
      end,
    }))
    local t0 = tv.monotime()
    assert.is_true(sup:run())
    assert.is_true(tv.monotime() - t0 < 5) -- within the grace, not the 10 s backoff
    assert.same({ backing = 1, q1 = 0, q2 = 0 }, runs)
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskFailed#1",
      "BackoffScheduled#1", "TaskRemoved" }, H.trace(events, "backing"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskRemoved" }, H.trace(events, "q1"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskRemoved" }, H.trace(events, "q2"))
    assert.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "TaskRemoved" },
      H.trace(events, "holder"))
    assert.equal("AllStoppedWithinGrace", events[#events].kind)
  end)

  it("natural completion publishes no shutdown events", function()
    local sup = tv.supervisor({ grace = 5 })
    local events = H.collect(sup)
    assert(sup:add(tv.once("one", function(ctx) ctx:sleep(0.02) end)))
    assert(sup:add(tv.task({ name = "two", max_retries = 1, backoff = { first = 0.01 },
      run = function() error("nope", 0) end })))
    local results = table.pack(sup:run())
    assert.same({ n = 2, true, {
      one = { status = "completed", attempts = 1, reason = "policy_exhausted_success" },
      two = { status = "exhausted", attempts = 2,
        reason = "max_retries_exceeded(1/1): execution failed: nope" },
    } }, results)
    for _, kind in ipairs({ "ShutdownRequested", "AllStoppedWithinGrace", "GraceExceeded" }) do
      assert.equal(0, H.count(events, kind), kind)
    end
    assert.equal("TaskRemoved", events[#events].kind)
    assert.equal(2, H.count(events, "TaskRemoved"))
    assert.equal("closed", sup:state())
  end)

  it("shutdown is bounded: stubborn tasks of every kind under grace 0.3 end run() in well under 3 s", function()
    local sup = tv.supervisor({ grace = 0.3 })
    local events = H.collect(sup)
    local closed = {}
    for _, style in ipairs({ "sleep", "yield", "bare", "tv.sleep" }) do
      assert(sup:add(stubborn("stuck-" .. style, style, closed)))
    end
    assert(sup:add(H.stopper(sup, 0.05)))
    local t0 = tv.monotime()
    local ok, err, stuck = sup:run()
    local elapsed = tv.monotime() - t0
    assert.is_true(elapsed < 3, "took " .. elapsed)
    assert.is_true(elapsed >= 0.3, "took " .. elapsed)
    assert.is_nil(ok)
    assert.matches("^GraceExceeded: ", err)
    assert.same({ "stuck-bare", "stuck-sleep", "stuck-tv.sleep", "stuck-yield" }, stuck)
    assert.same({ ["stuck-bare"] = true, ["stuck-sleep"] = true, ["stuck-tv.sleep"] = true,
      ["stuck-yield"] = true }, closed)
    assert.equal("GraceExceeded", events[#events].kind)
    assert.same({}, sup:list())
  end)

  describe("signals through the host", function()
    it("SIGTERM leads to ShutdownRequested (signal SIGTERM) ... AllStoppedWithinGrace and exit status 0", function()
      local out, status = host_with_signals(config(5, COOP_CODE), { { 0.5, "TERM" } })
      assert_signal_run(out, status, "SIGTERM")
    end)

    it("SIGINT leads to ShutdownRequested (signal SIGINT) ... AllStoppedWithinGrace and exit status 0", function()
      local out, status = host_with_signals(config(5, COOP_CODE), { { 0.5, "INT" } })
      assert_signal_run(out, status, "SIGINT")
    end)

    it("SIGQUIT leads to ShutdownRequested (signal SIGQUIT) and exit status 0", function()
      local out, status = host_with_signals(config(5, COOP_CODE), { { 0.5, "QUIT" } })
      assert_signal_run(out, status, "SIGQUIT")
    end)

    it("a second SIGINT while a stubborn task holds shutdown forces it at once (GraceExceeded, status 2)", function()
      local out, status, elapsed = host_with_signals(config(10, STUBBORN_CODE),
        { { 0.5, "INT" }, { 0.3, "INT" } })
      assert.equal(2, status, out)
      assert.is_true(elapsed < 4, "took " .. elapsed .. " s with grace 10 s")
      assert.equal(1, select(2, out:gsub("EV ShutdownRequested", "")))
      assert.matches("EV ShutdownRequested %- signal SIGINT", out)
      assert.matches("EV TaskRemoved w %-", out)
      assert.matches("EV TaskRemoved mule force_stopped", out)
      -- it says what happened: forced, not a timeout that ran out
      assert.matches("EV GraceExceeded %- shutdown forced by a second signal %(before its 10s timeout%); stuck: mule\n", out)
      assert.matches("RUN\tnil\tGraceExceeded: shutdown forced by a second signal [^\n]*stuck: mule\tmule", out)
      assert.is_nil(out:find("AllStoppedWithinGrace", 1, true))
    end)

    it("a config whose run ends with GraceExceeded exits 2", function()
      local out, status = H.host_run(config(0.2, STUBBORN_CODE .. [[
sup:add(tv.once("stopper", function(ctx) ctx:sleep(0.05); sup:shutdown() end))
]]))
      assert.equal(2, status, out)
      assert.matches("EV GraceExceeded %- [^\n]*stuck: mule\n", out)
      assert.matches("RUN\tnil\tGraceExceeded: ", out)
    end)

    it("a config whose shutdown stays within grace exits 0", function()
      local out, status = H.host_run(config(5, COOP_CODE .. [[
sup:add(tv.once("stopper", function(ctx) ctx:sleep(0.05); sup:shutdown() end))
]]))
      assert.equal(0, status, out)
      assert.matches("EV AllStoppedWithinGrace", out)
      assert.matches("RUN\ttrue", out)
    end)
  end)

  it("a task force-stopped by its own earlier removal's deadline is not stuck in a shutdown", function()
    local sup = tv.supervisor({ grace = 0.5 })
    local events = H.collect(sup)
    assert(sup:add(stubborn("stubborn")))
    assert(sup:add(tv.once("ctl", function(ctx)
      ctx:sleep(0.01)
      assert(sup:remove("stubborn")) -- force-stopped at +0.5 s
      ctx:sleep(0.4)
      sup:shutdown() -- its deadline would be +0.9 s
    end)))
    assert.is_true(sup:run())
    local removed = H.first(events, "TaskRemoved", "stubborn")
    assert.equal("force_stopped", removed.reason)
    assert.equal(0, H.count(events, "GraceExceeded"))
    assert.equal(1, H.count(events, "AllStoppedWithinGrace"))
  end)
end)
