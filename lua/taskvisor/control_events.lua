-- taskvisor.control_events: GET /v1/events (docs/control-api.md). The
-- backlog and its followers are C (src/control/backlog.c, bound as
-- S.backlog): the newest events kept by the supervisor's bus itself, each
-- answer and each followed line encoded from the C event, never a Lua value
-- per event. This file parses the query and answers.
local S = require("taskvisor.control.server")

local M = {}
local BACKLOG = 10000 -- events kept for ?since= (control.backlog)

local Events = {}
Events.__index = Events

--- new(sup, cap | nil): the backlog of sup's events (subscribed before
--- sup:run, so it sees every task's first events), or nil and a message.
function M.new(sup, cap)
  local b, err = S.backlog(sup.core, cap or BACKLOG)
  if not b then return nil, err end
  return setmetatable({ b = b }, Events)
end

local function fail(status, code, fmt, ...)
  return status, { error = { code = code, message = string.format(fmt, ...) } }
end

--- get(req): GET /v1/events?since=&limit=&follow= (control_routes).
function Events:get(req)
  local q = req.query
  local since, limit
  if q.since then
    since = math.tointeger(tonumber(q.since[1]))
    if not since or since < 0 then return fail(400, "EINVAL", "'since' must be an event seq (an integer >= 0)") end
  end
  if q.limit then
    limit = math.tointeger(tonumber(q.limit[1]))
    if not limit or limit < 1 then return fail(400, "EINVAL", "'limit' must be an integer >= 1") end
  end
  local oldest = self.b:gone(since)
  if oldest then
    return 410, { error = { code = "EGONE", message = string.format(
      "events after seq %d are no longer kept: the oldest kept is %d", since, oldest) }, oldest = oldest }
  end
  if not (q.follow and q.follow[1] ~= "0") then
    return 200, assert(self.b:events(since, limit)), "application/json"
  end
  local b = self.b
  return 200, S.STREAM, "application/x-ndjson", function(s) assert(b:follow(s, since, limit)) end
end

--- last(): the seq of the newest event kept (0: none yet).
function Events:last() return self.b:last() end
--- followers(): the streams following now.
function Events:followers() return self.b:followers() end

--- close(): ends every follower's stream, unsubscribes (idempotent).
function Events:close() self.b:close() end

return M
