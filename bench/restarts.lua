-- bench/restarts.lua [TASKS] [ATTEMPTS] [sub]: restart throughput.
-- TASKS tasks with restart = "always" whose run returns at once; stops after
-- ATTEMPTS attempts in total. With "sub", one Lua subscriber counts events.
-- Prints attempts per second (and events per second delivered).
local tv = require("taskvisor")

local ntasks = tonumber(arg[1]) or 1000
local total = tonumber(arg[2]) or 1000000
local with_sub = arg[3] == "sub"

local sup = tv.supervisor({ grace = 5 })
local events = 0
if with_sub then
  assert(sup:subscribe({ name = "count", queue = 4096, on_event = function() events = events + 1 end }))
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
local events_before = events
t0 = tv.monotime()
assert(sup:run())
local dt = t1 - t0
print(string.format("restarts: tasks=%d attempts=%d subscriber=%s time=%.3fs attempts/s=%.0f%s",
  ntasks, attempts, with_sub and "yes" or "no", dt, total / dt,
  with_sub and string.format(" events_delivered=%d", events - events_before) or ""))
