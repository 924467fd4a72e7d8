-- taskvisor.control_state: what the control API knows of a running
-- supervisor beyond its registry: each task's state in supervisord's
-- vocabulary with the time it entered it (from the events a subscriber of
-- the supervisor receives, as any Lua subscriber would), and the bounded,
-- resumable event backlog with its followers. Requires only the server's
-- JSON encoder (handed in).
local M = {}

local BACKLOG = 10000 -- events kept for ?since=
local QUEUE = 1 << 20 -- the subscriber's queue: the backlog must not miss events

local State = {}
State.__index = State

-- The states a task goes through (supervisord's words); "final" ones stay
-- until the task is added again.
local FINAL = { STOPPED = true, EXITED = true, FATAL = true }
M.FINAL = FINAL

local function record(self, name, at)
  local r = self.tasks[name]
  if not r then
    r = { name = name, state = "STARTING", since = at, attempt = 0, ready = false,
      operator_stopped = false }
    self.tasks[name] = r
    self.order[#self.order + 1] = name
  end
  return r
end

local function set(r, state, at)
  if r.state ~= state then r.state, r.since = state, at end
end

-- One event: the task's record moves on.
local handlers = {
  TaskAdded = function(self, r, ev)
    r.operator_stopped, r.pid, r.next_retry_at = false, nil, nil
    r.gone = nil
    set(r, "STARTING", ev.at)
    r.since = ev.at
  end,
  TaskStarting = function(self, r, ev)
    r.attempt, r.pid, r.started_at, r.ready, r.next_retry_at = ev.attempt, ev.pid, ev.at, false, nil
    if self.explicit_ready(r.name) then
      set(r, "STARTING", ev.at)
      r.since = ev.at
    else -- ready as it starts (no TaskReady comes)
      r.ready = true
      set(r, "RUNNING", ev.at)
      r.since = ev.at
    end
  end,
  TaskReady = function(self, r, ev)
    r.ready = true
    set(r, "RUNNING", ev.at)
  end,
  TaskFailed = function(self, r, ev)
    r.last_exit = { code = ev.exit_code, signal = ev.signal, reason = ev.reason, at = ev.at }
    r.pid, r.ready = nil, false
  end,
  TaskStopped = function(self, r, ev)
    r.last_exit = { code = r.pid and 0 or nil, reason = "stopped", at = ev.at }
    r.pid, r.ready = nil, false
  end,
  BackoffScheduled = function(self, r, ev)
    r.next_retry_at = ev.at + (ev.delay_ms or 0) / 1000
    set(r, "BACKOFF", ev.at)
  end,
  TaskRemoveRequested = function(self, r, ev)
    if not FINAL[r.state] then set(r, "STOPPING", ev.at) end
  end,
  ActorExhausted = function(self, r, ev)
    local ok = ev.reason == "policy_exhausted_success"
    if not ok and ev.exit_code then r.last_exit.code = r.last_exit.code or ev.exit_code end
    set(r, ok and "EXITED" or "FATAL", ev.at)
  end,
  ActorDead = function(self, r, ev) set(r, "FATAL", ev.at) end,
  TaskRemoved = function(self, r, ev)
    r.pid, r.ready, r.next_retry_at, r.gone = nil, false, nil, true
    if not FINAL[r.state] then set(r, "STOPPED", ev.at) end
  end,
}

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
  local name = ev.task
  if name and ev.kind ~= "TaskAddFailed" and ev.kind ~= "TaskAddRequested" and handlers[ev.kind]
    and not ev.slot_only then
    local r = record(self, name, ev.at)
    handlers[ev.kind](self, r, ev)
    local hook = self.on_task_event
    if hook then hook(name, ev, r) end
  elseif ev.kind == "ShutdownRequested" then
    self.shutdown_at = ev.at
  end
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

--- new(sup, { encode =, explicit_ready = fn(name), array_mt = }): the tracker,
--- subscribed to sup (before sup:run, so it sees every task's first events).
function M.new(sup, opts)
  local self = setmetatable({ tasks = {}, order = {}, backlog = {}, n = 0, cap = opts.backlog or BACKLOG,
    followers = {}, encode = opts.encode, explicit_ready = opts.explicit_ready or function() return false end,
    array_mt = opts.array_mt }, State)
  local ok, err = sup:subscribe({ name = "taskvisor.control", queue = QUEUE,
    on_event = function(ev) self:on_event(ev) end })
  if not ok then return nil, err end
  return self
end

return M
