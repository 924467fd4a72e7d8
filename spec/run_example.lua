-- spec/run_example.lua NAME: runs examples/NAME.lua through the host the way
-- its test needs (some run until interrupted) and checks what it printed and
-- how it exited. Each example is one CTest test.
local name = assert(arg[1], "usage: run_example.lua NAME")
local host = assert(os.getenv("TASKVISOR_HOST"), "TASKVISOR_HOST not set")

-- expectations: seconds to run before SIGINT (nil = runs to completion),
-- `logs` (the example writes log files into $LOG_DIR, a fresh directory here,
-- and takes PORT=0: file -> pattern it must hold), `lua` (run in stock lua5.4
-- with the built module instead of the host),
-- exit status, patterns that must appear (in order), patterns that must
-- appear anywhere (`anywhere`: lines of another coroutine, such as a
-- subscriber, whose interleaving is not the point), patterns that must not.
local expect = {
  quickstart = {
    interrupt_after = 4, status = 0,
    -- demo fails at random: whether an attempt stops or fails before the
    -- interrupt varies, the start and the graceful shutdown do not
    patterns = { "%[task%-added%] task=demo", "%[starting%] task=demo attempt=1",
      "%[shutdown%-requested%]", "%[task%-removed%] task=demo", "%[all%-stopped%-within%-grace%]" },
  },
  subscriber = {
    status = 0,
    patterns = { "ActorExhausted%s+1\n", "BackoffScheduled%s+3\n", "TaskFailed%s+3\n",
      "TaskStarting%s+4\n", "TaskStopped%s+1\n", "starts=4 stops=1 failures=3 retries=3" },
  },
  controller = {
    status = 0,
    patterns = { "submit v1 %(queue%)%s+%-> admitted", "submit v2 %(queue%)%s+%-> admitted",
      "deploy%-v1 started", "submit v3 %(replace%)%s+%-> admitted",
      "submit v4 %(drop_if_running%)%s+%-> EBUSY: slot_busy: status=terminating running=deploy%-v1",
      "deploy%-v1 stopped %(replaced%)", "deploy%-v3 started",
      "slot deploy: running, running deploy%-v3, queue depth 0",
      "submit v5 %(function, 1s rule%)%s+%-> EREJECTED: rejected: deploy%-v3 has run 0%.%ds, less than 1s",
      "submit v6 %(function, 1s rule%)%s+%-> admitted", "deploy%-v3 stopped %(replaced%)",
      "deploy%-v6 started", "deploy%-v6 finished", "done" },
    anywhere = { "ControllerRejected%s+deploy%-v2%s+superseded: replaced at the head of the queue by 'deploy%-v3'",
      "ControllerSlotTransition deploy%-v1%s+running\u{2192}terminating %(replace%)",
      "ControllerSubmitted%s+deploy%-v6%s+admission=function%(replace%) status=terminating depth=1",
      "ControllerSlotTransition deploy%-v6%s+running\u{2192}idle" },
    absent = { "deploy%-v2 started", "deploy%-v4 started", "deploy%-v5 started" },
  },
  processes = {
    interrupt_after = 4, status = 0,
    patterns = { "%[task%-added%] task=web", "%[starting%] task=job attempt=1",
      '%[output%] task=job stream=stdout line="job started"', '%[output%] task=job stream=stdout line="job done"',
      "%[stopped%] task=job", "%[shutdown%-requested%]", "%[all%-stopped%-within%-grace%]" },
  },
  tree = {
    status = 0,
    patterns = { "%[starting%] task=db attempt=1", "%[ready%] task=db attempt=1",
      "%[starting%] task=migrate attempt=1", "%[actor%-exhausted%] task=migrate",
      "%[starting%] task=api attempt=1", "%[starting%] task=cache attempt=1",
      "%[starting%] task=http attempt=1", "%[ready%] task=app attempt=1",
      "%[failed%] task=cache", "%[stopped%] task=http",
      "%[starting%] task=cache attempt=2", "%[starting%] task=http attempt=2",
      "%[shutdown%-requested%]", "%[task%-removed%] task=http", "%[task%-removed%] task=cache",
      "%[task%-removed%] task=api", "%[task%-removed%] task=db", "%[task%-removed%] task=app",
      "%[all%-stopped%-within%-grace%]", "outcome db: cancelled after 1 attempt",
      "outcome migrate: completed after 1 attempt", "outcome cache: cancelled after 2 attempt",
      "outcome http: cancelled after 2 attempt" },
    absent = { "%[starting%] task=db attempt=2", "%[starting%] task=migrate attempt=2",
      "%[actor%-dead%]" },
  },
  policies = {
    status = 0,
    patterns = { "flaky: attempt 1 failed with exit code 75", "backoff after attempt 1: 0.05s",
      "flaky: attempt 2 failed with exit code 75", "backoff after attempt 2: 0.1s",
      "flaky: attempt 3 failed with exit code 2", "restart%? no: exit code 2 is not temporary",
      "outcome crashloop: exhausted after 4 attempts", "outcome flaky: exhausted after 3 attempts",
      "outcome steady: completed after 1 attempts" },
    anywhere = { "crashloop: restart intensity exceeded: more than 3 restarts within 10s %(the task's budget%)" },
  },
  first_config = {
    interrupt_after = 5, status = 0,
    patterns = { "%[001%] %[task%-add%-requested%] task=web\n%[002%] %[task%-added%] task=web\n",
      "%[task%-added%] task=worker", "%[starting%] task=web attempt=1",
      "%[stopped%] task=worker\n", "%[backoff%] task=worker source=success delay=2s after_attempt=1\n",
      "%[starting%] task=worker attempt=2", "%[shutdown%-requested%]", "%[all%-stopped%-within%-grace%]" },
    anywhere = { "%[task%-removed%] task=web", "%[task%-removed%] task=worker" },
    absent = { "%[failed%]", "%[task%-add%-failed%]", "reason=\"none\"" },
    logs = { ["web.log"] = "Serving HTTP on 127%.0%.0%.1 port %d+", ["worker.log"] = "processing a batch\nbatch done\n" },
  },
  first_app = {
    status = 0, lua = true,
    patterns = { "report: fetch completed after 3 attempts, 42 rows\n", "fetch\tcompleted\t3\n",
      "report\tcompleted\t1\n" },
    anywhere = { "failed: fetch attempt 1\n", "failed: fetch attempt 2\n" },
    absent = { "attempt 3\n" },
  },
  otp_pool = {
    status = 0,
    patterns = { "%[starting%] task=jobs attempt=1", "started jobs/1, jobs/2, jobs/3",
      "%[starting%] task=jobs/2 attempt=2", "jobs/2: completed after 2 attempt%(s%)",
      "%[task%-removed%] task=batch",
      "%[auto%-shutdown%] task=none reason=\"auto_shutdown = any_significant: significant child 'batch' ended %(completed%)\"",
      "%[shutdown%-requested%]", "%[task%-removed%] task=jobs", "%[all%-stopped%-within%-grace%]",
      "run returned\ttrue", "outcome batch: completed", "outcome jobs: cancelled" },
    anywhere = { "job 1 %(resize%) done on attempt 1", "job 2 %(thumbnail%) done on attempt 2",
      "job 3 %(upload%) done on attempt 1" },
    absent = { "%[starting%] task=jobs/1 attempt=2", "%[starting%] task=jobs/3 attempt=2" },
  },
  control = {
    status = 0,
    patterns = { "list: operator, worker%-a, worker%-b", "removed worker%-a",
      "worker%-a stopped after %d ticks", "list: operator, worker%-b, worker%-c",
      "worker%-b stopped after %d ticks", "cancel worker%-b: true", "worker%-b alive: false",
      "list: operator, worker%-c", "worker%-c stopped after %d ticks", "done" },
  },
  policy_spec = {
    status = 0,
    patterns = { "api: %d+ restarts, up %d+%.%d%% of the day, longest outage %d+%.%d s\n",
      "ok %- rides out a crash every 5 minutes for a day without escalating\n",
      "crash loop: ESCALATED: task 'api': restart intensity exceeded",
      "ok %- escalates a crash loop within the first minute\n" },
  },
  luv_app = { -- (luv's loop: examples/luv_app.lua)
    status = 0, lua = true,
    patterns = { "sup:start returned; tasks run while uv%.run%(%) runs\n", "echo: one\n", "echo: two\n",
      "echo: three\n", "supervisor done: true\n", "outcome heartbeat: cancelled after 1 attempt",
      "outcome job: completed after 3 attempt", "uv%.run%(%) returned after %d+ heartbeats\n" },
    anywhere = { "taskvisor: job attempt 1 failed\n", "taskvisor: job attempt 2 failed\n",
      "taskvisor: job done on attempt 3\n" },
    absent = { "attempt 3 failed", "Uncaught Error" },
  },
  luv_step = { -- (tv.step from another loop: examples/luv_step.lua)
    status = 0, lua = true,
    patterns = { "counter: tick 1\n", "counter: tick 2\n", "counter: tick 3\n",
      "done: true; counter completed, child completed\n", "the other loop ended; several tv%.step%(%) passes\n" },
    anywhere = { "child: hello\n" },
  },
}

local e = assert(expect[name], "no expectations for example " .. name)
-- (a sanitizer build's module cannot load into stock lua5.4: the host then)
local runner = e.lua and not os.getenv("TASKVISOR_SANITIZED")
  and assert(os.getenv("TASKVISOR_LUA"), "TASKVISOR_LUA not set") or host
local cmd = string.format("%q examples/%s.lua", runner, name)
local logdir
if e.logs then
  logdir = os.tmpname()
  os.remove(logdir)
  assert(os.execute("mkdir " .. logdir))
  cmd = string.format("env LOG_DIR=%q PORT=0 %s", logdir, cmd)
end
if e.interrupt_after then
  -- --foreground: one SIGINT to the host only, as Ctrl+C would send (without
  -- it, timeout signals the process and then its whole group: twice)
  cmd = string.format("timeout --foreground --preserve-status -s INT %d %s", e.interrupt_after, cmd)
end
local p = io.popen(cmd .. " 2>&1")
local out = p:read("a")
local _, how, code = p:close()
if how == "signal" then code = 128 + code end
io.write(out)

local failures = {}
if code ~= e.status then
  failures[#failures + 1] = string.format("exit status %s, expected %d", tostring(code), e.status)
end
local pos = 1
for _, pat in ipairs(e.patterns) do
  local s, f = out:find(pat, pos)
  if not s then
    failures[#failures + 1] = "missing (in order): " .. pat
  else
    pos = f + 1
  end
end
for _, pat in ipairs(e.anywhere or {}) do
  if not out:find(pat) then failures[#failures + 1] = "missing: " .. pat end
end
for _, pat in ipairs(e.absent or {}) do
  if out:find(pat) then failures[#failures + 1] = "unexpected: " .. pat end
end
for file, pat in pairs(e.logs or {}) do
  local f = io.open(logdir .. "/" .. file)
  local text = f and f:read("a") or ""
  if f then f:close() end
  if not text:find(pat) then failures[#failures + 1] = string.format("log %s lacks %s (has %q)", file, pat, text) end
  os.remove(logdir .. "/" .. file)
end
if logdir then os.remove(logdir) end
if #failures > 0 then
  io.stderr:write("example " .. name .. " FAILED:\n  " .. table.concat(failures, "\n  ") .. "\n")
  os.exit(1)
end
print("example " .. name .. " ok")
