-- examples/luv_app.lua: taskvisor inside a luv app. luv is loaded first, so
-- taskvisor runs on luv's loop: one uv.run() serves the app's TCP echo server
-- and client and taskvisor's tasks together. sup:start returns at once; the
-- app shuts the supervisor down when its client is done, and on_done gets
-- what sup:run would have returned. Run: lua5.4 examples/luv_app.lua
local uv = require("luv") -- first: taskvisor then runs on luv's loop
local tv = require("taskvisor")

-- The app: an echo server on 127.0.0.1 (a free port) ...
local server = uv.new_tcp()
assert(server:bind("127.0.0.1", 0))
assert(server:listen(8, function(err)
  assert(not err, err)
  local conn = uv.new_tcp()
  server:accept(conn)
  conn:read_start(function(rerr, data)
    assert(not rerr, rerr)
    if data then conn:write(data) else conn:close() end
  end)
end))

-- ... and taskvisor's tasks on the same loop: a heartbeat, and a job that
-- fails twice before it succeeds (restarted with backoff meanwhile).
local sup = tv.supervisor{ grace = 5 }
-- the app stops the tasks once its client is done and the job has ended
local client_done, job_done = false, false
local function maybe_stop()
  if client_done and job_done then sup:shutdown() end
end
sup:subscribe(function(ev)
  if ev.kind == "TaskFailed" then print(string.format("taskvisor: %s attempt %d failed", ev.task, ev.attempt)) end
  if ev.kind == "TaskRemoved" and ev.task == "job" then job_done = true; maybe_stop() end
end)
local beats = 0
local ok, err = sup:start({
  tv.task{ name = "heartbeat", run = function()
    while tv.sleep(0.05) ~= false do beats = beats + 1 end -- false: cancelled
  end },
  tv.task{ name = "job", restart = "on_failure", backoff = { first = 0.05 }, run = function(ctx)
    if ctx.attempt < 3 then error("not yet") end
    print("taskvisor: job done on attempt " .. ctx.attempt)
  end },
}, {
  -- signals = true would also make SIGINT/SIGTERM shut it down; a luv app
  -- keeps its signals by default
  on_done = function(all_ok, outcomes)
    print("supervisor done: " .. tostring(all_ok))
    for _, name in ipairs({ "heartbeat", "job" }) do
      local o = outcomes[name]
      print(string.format("outcome %s: %s after %d attempt(s)", name, o.status, o.attempts))
    end
    server:close() -- nothing left open: uv.run() returns
  end,
})
assert(ok, err)
print("sup:start returned; tasks run while uv.run() runs")

-- The app's client: three messages, one after the other.
local client = uv.new_tcp()
local left = { "one", "two", "three" }
client:connect("127.0.0.1", server:getsockname().port, function(cerr)
  assert(not cerr, cerr)
  client:read_start(function(rerr, data)
    assert(not rerr, rerr)
    print("echo: " .. data)
    table.remove(left, 1)
    if left[1] then
      client:write(left[1])
    else
      client:close()
      client_done = true
      maybe_stop()
    end
  end)
  client:write(left[1])
end)

uv.run() -- the app's loop; taskvisor's tasks run in it
print("uv.run() returned after " .. beats .. " heartbeats")
