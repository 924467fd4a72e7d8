-- taskvisor.control_state: the control API's bounded, resumable event
-- backlog with its followers (a subscriber of the supervisor, as any Lua
-- subscriber). Task states are not kept here: they are the core's
-- (sup:status, the server's task views). Requires only the server's JSON
-- encoder (handed in).
local M = {}

local BACKLOG = 10000 -- events kept for ?since=
local QUEUE = 1 << 20 -- the subscriber's queue: the backlog must not miss events

local State = {}
State.__index = State

local function follow_write(self, ev)
  local line
  for s in pairs(self.followers) do
    line = line or (self.encode(ev) .. "\n")
    if not s:write(line) then
      self.followers[s] = nil
      s:close()
    end
  end
end

--- on_event(ev): the subscriber's function.
function State:on_event(ev)
  local n = self.n + 1
  self.n = n
  self.backlog[n % self.cap] = ev
  if n > self.cap then self.oldest = self.backlog[(n + 1) % self.cap].seq end
  self.last = ev.seq
  if self.oldest == nil then self.oldest = ev.seq end
  if next(self.followers) then follow_write(self, ev) end
end

--- events(since, limit): the kept events after seq `since` (oldest first),
--- the seq to ask for next; or nil, oldest when `since` fell out.
function State:events(since, limit)
  local out = setmetatable({}, self.array_mt)
  local n, cap = self.n, self.cap
  local first = n > cap and n - cap + 1 or 1
  if since and since > 0 and self.oldest and since < self.oldest - 1 then return nil, self.oldest end
  for i = first, n do
    local ev = self.backlog[i % cap]
    if not since or ev.seq > since then
      out[#out + 1] = ev
      if limit and #out >= limit then break end
    end
  end
  local next_seq = #out > 0 and out[#out].seq or since or self.last or 0
  return out, next_seq
end

function State:follow(stream) self.followers[stream] = true end

function State:close()
  for s in pairs(self.followers) do s:close() end
  self.followers = {}
end

--- new(sup, { encode =, array_mt =, backlog = }): the backlog, subscribed to
--- sup (before sup:run, so it sees every task's first events).
function M.new(sup, opts)
  local self = setmetatable({ backlog = {}, n = 0, cap = opts.backlog or BACKLOG,
    followers = {}, encode = opts.encode, array_mt = opts.array_mt }, State)
  local ok, err = sup:subscribe({ name = "taskvisor.control", queue = QUEUE,
    on_event = function(ev) self:on_event(ev) end })
  if not ok then return nil, err end
  return self
end

return M
