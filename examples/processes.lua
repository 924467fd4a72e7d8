-- processes.lua: OS processes under the same policies and events as Lua
-- tasks. A small web server (restarted if it crashes), a flaky worker script
-- retried with exponential backoff, and a one-shot job; their output lines
-- are events, printed by the log writer with everything else.
--
--   taskvisor examples/processes.lua        (stop it with Ctrl+C)
local tv = require("taskvisor")

local sup = tv.supervisor({ grace = 5 })
sup:subscribe(tv.log_writer())

-- python3 -u: unbuffered, so its lines arrive as they are written. Port 0
-- lets the kernel pick a free port (printed in the first line).
assert(sup:add(tv.process({
  name = "web",
  cmd = { "python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", "/tmp" },
  stdout = "events", stderr = "events",
  restart = "on_failure",
  backoff = { first = 1, max = 10, factor = 2 },
  stop_timeout = 2,
})))

-- Works for a moment, then fails about half of the time.
assert(sup:add(tv.process({
  name = "worker",
  cmd = { "/bin/sh", "-c", "echo working on batch $$; sleep 0.5; [ $(($$ % 2)) -eq 0 ] || { echo batch $$ failed >&2; exit 1; }" },
  stdout = "events", stderr = "events",
  restart = "always",
  backoff = { first = 0.5, max = 4, factor = 2, jitter = "equal" },
})))

-- Runs once; a non-zero exit would be retried up to twice.
assert(sup:add(tv.process({
  name = "job",
  cmd = { "/bin/sh", "-c", "echo job started; uname -sr; echo job done" },
  stdout = "events",
  max_retries = 2,
  restart = "never",
})))

local ok, err = sup:run()
if not ok then
  io.stderr:write(err, "\n")
  os.exit(2)
end
