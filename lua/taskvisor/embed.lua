-- taskvisor.embed: taskvisor inside another program's loop. sup:start adds
-- the specs and returns at once (the tasks run while the app turns the loop:
-- luv's uv.run() when luv was loaded first, or tv.step() from any other
-- loop); sup:done / sup:result tell its end. tv.step and tv.backend drive
-- the loop from outside libuv. Requires validate and supervisor.
local core = require("taskvisor.core")
local V = require("taskvisor.validate")
local Sup = require("taskvisor.supervisor")

local Supervisor, self_check = Sup.Supervisor, Sup.self_check
local check = V.check

local M = {}

local START_KEYS = { "signals", "on_done", "external_loop" }

-- The error of a start that no loop of the app would drive.
local function luv_after(why)
  return "sup:start: luv is loaded, but taskvisor is not on its loop (" .. why .. "), so uv.run() "
    .. "would not run these tasks: require('luv') before require('taskvisor'), or pass "
    .. "external_loop = true and drive taskvisor with tv.step()"
end

-- Packs what sup:run() returns, with the outcomes, as sup:result() gives it.
local function result(c)
  local ok, msg, stuck = c:_result()
  local outcomes = c:outcomes() -- (as sup:outcomes)
  if ok then return true, outcomes end
  return nil, msg, stuck or {}, outcomes
end

--- sup:start([specs] [, opts]): adds `specs` as sup:run does (all or none)
--- and returns at once: true, or nil + err. The tasks run while the loop
--- turns. opts (may come first when there are no specs): signals = true
--- handles SIGINT / SIGTERM / SIGQUIT (shutdown), SIGHUP / SIGUSR1 (reopen
--- logs), SIGUSR2 (status) while it runs (default: no handler, the app's
--- signals stay the app's); on_done is called once, on the loop, after it
--- stopped, with what sup:run() would have returned (true, outcomes; or nil,
--- err, stuck, outcomes);
--- external_loop = true: luv is loaded but this program drives taskvisor's
--- loop itself (tv.step).
function Supervisor:start(specs, opts)
  local c = self_check(self, "start")
  if opts == nil and type(specs) == "table" and getmetatable(specs) == nil and specs[1] == nil
      and next(specs) ~= nil then
    specs, opts = nil, specs -- sup:start{ signals = true }
  end
  if opts == nil then opts = {} end
  check(V.table("sup:start", "opts", opts))
  check(V.known_keys("sup:start", "", opts, START_KEYS))
  for _, k in ipairs({ "signals", "external_loop" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
      error(string.format("sup:start: '%s' must be a boolean (got %s)", k, V.show(opts[k])), 2)
    end
  end
  local on_done = opts.on_done
  if on_done ~= nil and not V.callable(on_done) then
    error(string.format("sup:start: 'on_done' must be a function or a callable (got %s)",
      V.show(on_done)), 2)
  end
  if package.loaded.luv ~= nil and not opts.external_loop then
    local _, _, loop = core.backend()
    if loop ~= "luv" then error(luv_after("it was loaded after taskvisor, or is another build"), 2) end
  end
  if self.started then return nil, "EALREADY: sup:start: this supervisor was started already" end
  if c:state() == "closed" then return nil, "ESHUTDOWN: this supervisor has already stopped" end
  local added, err = Sup.add_batch(self, c, "sup:start", specs)
  if not added then return nil, err end
  self.started = true
  local done
  if on_done ~= nil then
    done = function()
      local ok, msg = xpcall(on_done, debug.traceback, result(c))
      if not ok then error(msg, 0) end -- (told on stderr; the loop goes on)
    end
  end
  c:_start(opts.signals == true, done)
  return true
end

--- sup:done(): whether this supervisor has stopped (sup:result() is ready).
function Supervisor:done() return self_check(self, "done"):state() == "closed" end

--- sup:result(): once stopped, what sup:run() returns: true, outcomes; or
--- nil, "GraceExceeded: ..." | "ESCALATED: ...", stuck, outcomes. Before:
--- nil, "EBUSY: the supervisor is still ...".
function Supervisor:result()
  local c = self_check(self, "result")
  if c:state() ~= "closed" then return c:_result() end
  return result(c)
end

--- tv.step(): one pass of taskvisor's loop that does not wait: due timers,
--- ready I/O, deferred work. Whether the loop has work or handles left.
--- For a program whose loop is not libuv (with luv, uv.run() does this).
function M.step() return core.step() end

--- tv.backend(): fd, timeout, loop. Wait until fd (libuv's epoll fd) is
--- readable or timeout seconds passed (nil: no deadline), then tv.step().
--- loop: "luv" (taskvisor runs on luv's loop) or "default".
function M.backend() return core.backend() end

return M
