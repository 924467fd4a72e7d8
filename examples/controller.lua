-- controller.lua: one deploy at a time. A "deploy" slot receives v1, then v2
-- (queue: waits behind v1), v3 (replace: stops v1, displaces v2 from the
-- queue), v4 (drop_if_running: rejected, a deploy is running), and two
-- submissions decided by an admission function written in Lua: replace the
-- running deploy only once it has run for at least a second.
--
--   taskvisor examples/controller.lua
local tv = require("taskvisor")

local sup = tv.supervisor({ grace = 5, controller = { max_slot_queue = 10 } })

-- What the controller decided, as events (the other kinds are left out).
sup:subscribe(function(ev)
  if ev.kind:find("^Controller") or ev.kind == "TaskRemoveRequested" then
    print(string.format("    %-24s %-10s %s", ev.kind, ev.task or "", ev.reason or ""))
  end
end)

local function deploy(version, seconds)
  return tv.task({
    name = "deploy-" .. version,
    slot = "deploy",
    restart = "never",
    run = function(ctx)
      print("  " .. ctx.name .. " started")
      if ctx:sleep(seconds) then
        print("  " .. ctx.name .. " finished")
      else
        print("  " .. ctx.name .. " stopped (replaced)")
      end
    end,
  })
end

local function submit(what, req)
  local ok, err = sup:submit(req)
  print(string.format("submit %-28s -> %s", what, ok and "admitted" or err))
end

-- The admission function: sees the slot (status, running task, how long it has
-- run, queue depth) and the request; answers start/queue/replace/reject.
local function replace_if_older_than(seconds)
  return function(slot, request)
    if slot.status == "idle" then return "start" end
    if slot.running_for >= seconds then return "replace" end
    return "reject", string.format("%s has run %.1fs, less than %gs; %s not deployed",
      slot.running, slot.running_for, seconds, request.task)
  end
end

assert(sup:add(tv.once("operator", function(ctx)
  submit("v1 (queue)", { task = deploy("v1", 5) })
  submit("v2 (queue)", { task = deploy("v2", 0.2), admission = "queue" })
  ctx:sleep(0.2)
  submit("v3 (replace)", { task = deploy("v3", 5), admission = "replace" })
  submit("v4 (drop_if_running)", { task = deploy("v4", 0.2), admission = "drop_if_running" })
  ctx:sleep(0.2)
  local slot = sup:slot("deploy")
  print(string.format("slot deploy: %s, running %s, queue depth %d", slot.status, slot.running,
    slot.queue_depth))
  submit("v5 (function, 1s rule)", { task = deploy("v5", 0.2), admission = replace_if_older_than(1) })
  ctx:sleep(1.2)
  submit("v6 (function, 1s rule)", { task = deploy("v6", 0.2), admission = replace_if_older_than(1) })
end)))

assert(sup:run()) -- returns when the operator is done and the slot is idle
print("done")
