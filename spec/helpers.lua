-- spec/helpers.lua: shared helpers for the busted specs.
-- Specs schedule work, run the loop to completion with sup:run(), then assert
-- on what happened: events in order, fields, counts. Time is only ever
-- asserted with generous bounds.
local tv = require("taskvisor")

local H = { tv = tv }

--- A subscriber recording every event into the returned list.
function H.collect(sup, opts)
  local events = {}
  local ok, err = sup:subscribe({
    name = (opts and opts.name) or "collector",
    queue = (opts and opts.queue) or 65536,
    on_event = function(ev) events[#events + 1] = ev end,
  })
  assert(ok, err)
  return events
end

--- Events filtered by task (nil = all) and/or kind.
function H.only(events, task, kind)
  local out = {}
  for _, ev in ipairs(events) do
    if (task == nil or ev.task == task) and (kind == nil or ev.kind == kind) then
      out[#out + 1] = ev
    end
  end
  return out
end

--- "Kind" or "Kind#attempt" strings, for exact order assertions.
function H.trace(events, task)
  local out = {}
  for _, ev in ipairs(H.only(events, task)) do
    out[#out + 1] = ev.attempt and (ev.kind .. "#" .. ev.attempt) or ev.kind
  end
  return out
end

function H.count(events, kind, task)
  return #H.only(events, task, kind)
end

function H.first(events, kind, task)
  return H.only(events, task, kind)[1]
end

-- Runs `specs` on a fresh supervisor (options `opts`) to completion: the
-- collected events, every value run returned (packed), and the supervisor.
function H.run(specs, opts)
  local sup = tv.supervisor(opts or {})
  local events = H.collect(sup)
  local r = table.pack(sup:run(specs))
  return events, r, sup
end

-- The value of `field` in each of `events`, in order.
function H.field_list(events, field)
  local out = {}
  for i, ev in ipairs(events) do out[i] = ev[field] end
  return out
end

--- The kinds of `events`, in order.
function H.kinds(events)
  local out = {}
  for i, ev in ipairs(events) do out[i] = ev.kind end
  return out
end

--- Index of the first event of `kind` (about `task`, if given), or nil.
function H.index(events, kind, task)
  for i, ev in ipairs(events) do
    if ev.kind == kind and (task == nil or ev.task == task) then return i end
  end
  return nil
end

--- Inside a task or subscriber: sleeps in short steps until pred() is true
--- (returns true) or `secs` (default 60) pass (returns false). Specs wait for
--- the event they check this way, never for a fixed time; the long default
--- only fails a run that is truly stuck, however loaded the machine.
function H.wait_for(pred, secs)
  local deadline = tv.monotime() + (secs or 60)
  while not pred() do
    if tv.monotime() > deadline then return false end
    tv.sleep(0.005)
  end
  return true
end

--- A predicate: `events` (a collector's list) holds an event of `kind` about
--- `task` (and attempt `attempt`, if given).
function H.has(events, kind, task, attempt)
  return function()
    for _, ev in ipairs(events) do
      if ev.kind == kind and ev.task == task and (attempt == nil or ev.attempt == attempt) then
        return true
      end
    end
    return false
  end
end

--- A task that sleeps until it is cancelled, then returns.
function H.cooperative(name, restart)
  return tv.task({
    name = name,
    restart = restart or "always",
    run = function(ctx)
      while ctx:sleep(0.01) do end
    end,
  })
end

--- A task that ignores cancellation until force-stopped. opts: restart
--- (default "never"), style (how it keeps yielding: "sleep" (default),
--- "yield", "bare" coroutine.yield, "tv.sleep"), closed (a table; its <close>
--- variable sets closed[name] = true). It gives up by itself after 5 s, so a
--- supervisor that never force-stops fails the spec on its time bounds
--- instead of hanging it.
function H.stubborn(name, opts)
  opts = opts or {}
  return tv.task({
    name = name,
    restart = opts.restart or "never",
    run = function(ctx)
      local _ <close> = setmetatable({}, {
        __close = function() if opts.closed then opts.closed[name] = true end end,
      })
      local give_up = tv.monotime() + 5
      while tv.monotime() < give_up do
        if opts.style == "yield" then
          ctx:yield()
        elseif opts.style == "bare" then
          coroutine.yield()
        elseif opts.style == "tv.sleep" then
          tv.sleep(0.01)
        else
          ctx:sleep(0.01)
        end
      end
    end,
  })
end

--- A task that shuts the supervisor down after `delay` seconds.
function H.stopper(sup, delay, name)
  return tv.task({
    name = name or "stopper",
    restart = "never",
    run = function(ctx)
      ctx:sleep(delay)
      sup:shutdown()
    end,
  })
end

--- Runs a shell command; returns its output (stdout+stderr unless `split`),
--- its exit status and, with `split`, stderr separately.
function H.sh(cmd, split)
  local errfile = os.tmpname()
  local p = io.popen(cmd .. (split and (" 2>" .. errfile) or " 2>&1"), "r")
  local out = p:read("a")
  local ok, how, code = p:close()
  local err = ""
  if split then
    local f = io.open(errfile)
    err = f:read("a")
    f:close()
  end
  os.remove(errfile)
  if how == "signal" then code = 128 + code end
  return out, (ok and 0 or code), err
end

function H.host() return assert(os.getenv("TASKVISOR_HOST"), "TASKVISOR_HOST not set") end
function H.lua() return os.getenv("TASKVISOR_LUA") or "lua5.4" end

--- Writes `code` to a temporary .lua file and returns its path.
function H.script(code)
  local base = os.tmpname()
  os.remove(base)
  local path = base .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  return path
end

--- Runs Lua code through the host; returns stdout+stderr, exit status.
function H.host_run(code, args, split)
  local path = H.script(code)
  local out, status, err = H.sh(string.format("%q %q %s", H.host(), path, args or ""), split)
  os.remove(path)
  return out, status, err
end

function H.contains(list, value)
  for _, v in ipairs(list) do
    if v == value then return true end
  end
  return false
end

return H
