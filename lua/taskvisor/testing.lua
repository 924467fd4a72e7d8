-- taskvisor.testing (tv.testing): policies in virtual time from users' own
-- specs. simulate(cfg, opts) runs a tv.config exactly as `taskvisor simulate`
-- does and returns what happened, so a busted spec can assert on it:
--   local r = tv.testing.simulate(cfg, { for_ = 3600, seed = 1, trace = { web = { { run = 5, exit = 1 } } } })
--   assert.equal(0, r.summary.tasks[1].escalations)
local S = require("taskvisor.simulate")
local R = require("taskvisor.simulate_report")

local M = {}

--- simulate(cfg, { for_ = seconds | "24h", seed = 1, trace = {...},
--- setup = function(sup) end (before the run: submit to its controller, add
--- tasks that need the supervisor) }):
--- { events = { ev, ... } (each with t, its virtual time in seconds),
---   lines = { "00:00:05.000 [007] [failed] ...", ... },
---   summary = { tasks = { { name, attempts, restarts, failures, up, down, backoff,
---     longest_outage, exhaustions, escalations, at_shutdown, final }, ... },
---     run = { attempts, restarts, failures, exhaustions, escalations, duration, events,
---     horizon, result } }, seed = n }.
--- Durations in seconds. Raises on a bad config, trace or option.
function M.simulate(cfg, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("tv.testing.simulate: 'opts' must be a table (got " .. type(opts) .. ")", 2) end
  local lines = {}
  local ok, res = pcall(S.run, cfg, { for_ = opts.for_, seed = opts.seed, trace = opts.trace,
    setup = opts.setup, keep_events = true, on_event = function(ev, ms) lines[#lines + 1] = R.line(ev, ms) end })
  if not ok then error(res, 2) end
  for _, ev in ipairs(res.events) do ev.t = ev.at end
  local tasks, by_name = {}, {}
  local function s(ms) return ms and ms / 1000 end
  for i, t in ipairs(res.summary.tasks) do
    tasks[i] = { name = t.name, attempts = t.attempts, restarts = t.restarts, failures = t.failures,
      up = s(t.up_ms), down = s(t.down_ms), backoff = s(t.backoff_ms), idle = s(t.idle_ms),
      longest_outage = s(t.longest_outage_ms), exhaustions = t.exhaustions, escalations = t.escalations,
      at_shutdown = t.at_shutdown, final = t.final }
    by_name[t.name] = tasks[i]
  end
  local r = res.summary.run
  return { events = res.events, lines = lines, seed = res.seed, task = by_name,
    summary = { tasks = tasks, run = { attempts = r.attempts, restarts = r.restarts, failures = r.failures,
      exhaustions = r.exhaustions, escalations = r.escalations, duration = s(r.duration_ms), events = r.events,
      shutdown = s(r.shutdown_at_ms), result = r.result } } }
end

--- kinds(events [, task]): the events' kinds in order (of one task's only,
--- when named): the sequence a spec compares.
function M.kinds(events, task)
  local out = {}
  for _, e in ipairs(events) do
    if task == nil or e.task == task then out[#out + 1] = e.kind end
  end
  return out
end

return M
