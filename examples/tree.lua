-- tree.lua: a two-level supervision tree with start order and readiness.
--
--   app (one_for_one)
--   ├── db       a process that says it is ready over $NOTIFY_SOCKET
--   │            (systemd's sd_notify protocol) after a slow start
--   ├── migrate  a one-shot that starts after db is ready; ready when it
--   │            completes (ready = "completed")
--   └── api (rest_for_one), after migrate
--       ├── cache
--       └── http  started after cache; restarted with it
--
-- The cache crashes once: rest_for_one restarts it and http (started after
-- it), in order; db and migrate are untouched. Once http has restarted, the
-- operator shuts the supervisor down: children stop in reverse order.
--
--   taskvisor examples/tree.lua
local tv = require("taskvisor")

local sup = tv.supervisor({ grace = 5 })
sup:subscribe(tv.log_writer())

local function serve(ctx)
  while ctx:sleep(0.1) do end
end

-- What a daemon does with sd_notify(0, "READY=1"), here from python3.
local NOTIFY = [[
import os, socket
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", addr)
]]

assert(sup:add(tv.group({
  name = "app",
  strategy = "one_for_one",
  intensity = { max_restarts = 3, within = 5 }, -- more: "app" fails (and restarts)
  children = {
    tv.process({ name = "db", ready = "notify",
      cmd = { "/bin/sh", "-c", "sleep 0.3; python3 -c \"$1\"; exec sleep 30", "db", NOTIFY } }),
    tv.once("migrate", function(ctx)
      print("migrate: schema up to date")
    end, { after = { "db" }, ready = "completed" }),
    tv.group({
      name = "api",
      strategy = "rest_for_one",
      after = { "migrate" },
      children = {
        tv.task({ name = "cache", restart = "always", backoff = { first = 0.2 },
          run = function(ctx)
            if ctx.attempt == 1 then
              ctx:sleep(0.5)
              error("cache crashed")
            end
            serve(ctx)
          end }),
        tv.task({ name = "http", restart = "always", run = serve }),
      },
    }),
  },
})))

-- The operator waits for http's second start (however slow the machine; at
-- most a minute), lets it run a moment, and shuts down.
local restarted = false
sup:subscribe({ name = "operator", on_event = function(ev)
  if ev.kind == "TaskStarting" and ev.task == "http" and ev.attempt == 2 then restarted = true end
end })
assert(sup:add(tv.once("operator", function(ctx)
  local give_up = tv.monotime() + 60
  while not restarted and tv.monotime() < give_up do ctx:sleep(0.05) end
  ctx:sleep(0.2)
  sup:shutdown()
end)))

-- sup:run() returns every task's final outcome, whatever the subscribers saw.
local ok, outcomes = sup:run()
if not ok then
  io.stderr:write(outcomes, "\n")
  os.exit(2)
end
for _, name in ipairs({ "db", "migrate", "cache", "http", "api", "app" }) do
  local o = outcomes[name]
  print(string.format("outcome %s: %s after %d attempt(s)", name, o.status, o.attempts))
end
