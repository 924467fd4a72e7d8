-- first_app.lua: your first Lua app. Lua functions as supervised tasks: a
-- fetch that fails twice and is retried with backoff, a report that waits
-- for it, a subscriber of your own, and the outcomes sup:run returns.
--
--   lua5.4 examples/first_app.lua       (taskvisor installed: see "Build and install")
--   taskvisor examples/first_app.lua
local tv = require("taskvisor")

local sup = tv.supervisor{}
local rows

assert(sup:add(tv.task{
  name = "fetch",                              -- restart = "on_failure" by default:
  max_retries = 3,                             -- retried after a failure, 3 times at most,
  backoff = { first = 0.1, factor = 2 },       -- 0.1 s, then 0.2 s, ... later
  run = function(ctx)
    ctx:sleep(0.1)                             -- stands for I/O: yields to the loop
    if ctx.attempt < 3 then error("connection refused") end
    rows = 42
  end,
}))

assert(sup:add(tv.task{
  name = "report",
  restart = "never",
  run = function()
    local outcome = assert(sup:wait("fetch"))  -- waits without blocking the loop
    print(string.format("report: fetch %s after %d attempts, %d rows", outcome.status,
      outcome.attempts, rows))
  end,
}))

assert(sup:subscribe(function(ev)              -- any function(event) is a subscriber
  if ev.kind == "TaskFailed" then print("failed: " .. ev.task .. " attempt " .. ev.attempt) end
end))

local outcomes = select(2, assert(sup:run()))  -- returns when every task has ended
for _, name in ipairs({ "fetch", "report" }) do
  print(name, outcomes[name].status, outcomes[name].attempts)
end
