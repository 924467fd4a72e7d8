-- bench/backlog.lua [TASKS] [ATTEMPTS] [none|c|lua]: what keeping the control
-- API's event backlog costs a restart storm. Run through the host
-- (`taskvisor bench/backlog.lua ...`: it needs taskvisor.control.server).
-- TASKS tasks with restart = "always" whose run returns at once, stopped
-- after ATTEMPTS attempts, beside:
--   none  no backlog
--   c     the backlog of 10,000 events in C (S.backlog: the bus's own ring)
--   lua   a Lua subscriber keeping the newest 10,000 events in a table, as
--         lua/taskvisor/control_state.lua did before the backlog was C
-- Prints attempts per second; `valgrind --tool=callgrind` at two ATTEMPTS
-- gives instructions per attempt (BENCHMARKS.md, the control API).
local tv = require("taskvisor")
local S = require("taskvisor.control.server")

local ntasks = tonumber(arg[1]) or 1000
local total = tonumber(arg[2]) or 1000000
local mode = arg[3] or "none"
local CAP = 10000

local sup = tv.supervisor({ grace = 5 })
local backlog
if mode == "c" then
  backlog = assert(S.backlog(sup.core, CAP))
elseif mode == "lua" then
  local ring, n = {}, 0
  assert(sup:subscribe({ name = "backlog", queue = 1 << 20, on_event = function(ev)
    n = n + 1
    ring[n % CAP] = ev
  end }))
elseif mode ~= "none" then
  error("bench/backlog.lua: mode must be none, c or lua (got " .. mode .. ")")
end

local attempts, t0, t1 = 0, nil, nil
local function run()
  attempts = attempts + 1
  if attempts == total then
    t1 = tv.monotime()
    sup:shutdown()
  end
end
for i = 1, ntasks do
  assert(sup:add(tv.task({ name = "t" .. i, restart = "always", run = run })))
end
t0 = tv.monotime()
assert(sup:run())
if backlog then backlog:close() end
local dt = t1 - t0
print(string.format("backlog=%s tasks=%d attempts=%d time=%.3fs attempts/s=%.0f", mode, ntasks, attempts, dt,
  total / dt))
