-- taskvisor: supervised Lua tasks with restart, backoff and timeout policies,
-- typed lifecycle events, subscribers and graceful shutdown, on libuv.
-- This file is the public face: it gathers the pieces and wraps
-- taskvisor.core (C). The modules, each requiring only those before it:
--   validate -> process, lifecycle, preflight -> group -> spec (tv.task, tv.process,
--   policies) -> supervisor (tv.supervisor, add, run) -> waits (outcomes,
--   sup:wait*), controller (sup:submit, slots), children (sup:add_child,
--   start_child, remove_child), embed (sup:start, tv.step) -> init; log_writer
--   on demand.
local core = require("taskvisor.core")
local V = require("taskvisor.validate")
local P = require("taskvisor.process")
local L = require("taskvisor.lifecycle")
local G = require("taskvisor.group")
local S = require("taskvisor.spec")
local Sup = require("taskvisor.supervisor")
require("taskvisor.waits")
require("taskvisor.controller")
require("taskvisor.operator")
require("taskvisor.children")
local E = require("taskvisor.embed")

local tv = {
  version = core.version,
  EVENT_KINDS = core.event_kinds,
  sleep = core.sleep,
  monotime = core.monotime,
  task = S.task,
  process = S.process,
  once = S.once,
  restartable = S.restartable,
  supervisor = Sup.new,
  config = require("taskvisor.config").config,
  step = E.step,
  backend = E.backend,
}

-- ctx:exec(cmd [, opts]): runs a command to completion without blocking the
-- loop: code, stdout, stderr, truncated; or nil, err [, stdout, stderr].
core.ctx_methods.exec = function(ctx, cmd, opts)
  local c, o = P.exec_args("ctx:exec", cmd, opts)
  if not c then error(o, 2) end
  return ctx:_exec(c, o)
end

local function failure(fatal, where, msg, exit_code)
  if type(msg) ~= "string" and type(msg) ~= "number" then
    error(string.format("%s: 'message' must be a string or a number (got %s)", where, V.show(msg)), 3)
  end
  if exit_code ~= nil then
    local code, err = V.integer(where, "exit_code", exit_code, -2147483648, 2147483647)
    if not code then error(err, 3) end
    exit_code = code
  end
  error(setmetatable({ message = tostring(msg), exit_code = exit_code, fatal = fatal }, core.failure_mt), 0)
end

--- tv.fail(msg [, exit_code]): a retryable failure carrying an exit code.
function tv.fail(msg, exit_code) failure(false, "tv.fail", msg, exit_code) end
--- tv.fatal(msg [, exit_code]): a failure that ends the task (ActorDead).
function tv.fatal(msg, exit_code) failure(true, "tv.fatal", msg, exit_code) end

--- tv.log_writer([opts]): a subscriber printing the reference LogWriter lines.
function tv.log_writer(opts)
  local writer = require("taskvisor.log_writer").new(opts)
  return writer
end

--- tv.json_writer([opts]): a subscriber writing each event as a JSON line.
function tv.json_writer(opts)
  return require("taskvisor.json_writer").new(opts)
end

G.bind(tv, { core = core, any_spec = S.any_spec, resolve = S.resolve, core_task = S.core_task,
  spec_common = S.spec_common, freeze = S.freeze, read_only = S.read_only, spec_fields = S.spec_fields,
  add_opts = L.add_opts })

-- tv.testing (simulations for users' specs), loaded on first use: it
-- requires this module itself.
setmetatable(tv, { __index = function(t, k)
  if k ~= "testing" then return nil end
  local m = require("taskvisor.testing")
  rawset(t, k, m)
  return m
end })

return tv
