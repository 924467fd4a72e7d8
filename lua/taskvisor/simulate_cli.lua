-- taskvisor.simulate_cli: `taskvisor simulate CONFIG [--for 24h] [--seed N]
-- [--trace TRACE.lua] [--json] [--svg FILE]`: the event lines with virtual
-- timestamps, then the summary (or all of it as JSON); the same inputs give
-- byte-identical output.
local Cli = require("taskvisor.cli")
local C = require("taskvisor.config")
local S = require("taskvisor.simulate")
local R = require("taskvisor.simulate_report")

local M = {}

local function err(fmt, ...) io.stderr:write("taskvisor: ", string.format(fmt, ...), "\n") end

-- The trace file's table and its text (for line numbers in errors).
local function load_trace(path)
  local f, e = io.open(path, "r")
  if not f then return nil, "simulate: cannot read the trace: " .. tostring(e) end
  local src = f:read("a")
  f:close()
  local chunk, cerr = load(src, "@" .. path, "t")
  if not chunk then return nil, cerr end
  local ok, res = pcall(chunk)
  if not ok then return nil, tostring(res) end
  if type(res) ~= "table" then
    return nil, string.format("%s: a trace must return a table { task_name = { {run = 30, exit = 1}, ... } } (it returned %s)",
      path, type(res))
  end
  return res, src
end

-- JSON with every object's keys in sorted order (dkjson, Debian's lua-dkjson),
-- so that the output repeats byte for byte.
local function ordered(v)
  if type(v) ~= "table" then return v end
  local out, keys, n = {}, {}, #v
  for k, x in pairs(v) do
    out[k] = ordered(x)
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  if n == 0 or #keys > 0 then return setmetatable(out, { __jsonorder = keys, __jsontype = n == 0 and "object" or nil }) end
  return out
end

local function seconds_of(ms) return ms and ms / 1000 end

local function json_summary(sum)
  local tasks = {}
  for i, t in ipairs(sum.tasks) do
    tasks[i] = { name = t.name, attempts = t.attempts, restarts = t.restarts, failures = t.failures,
      up = seconds_of(t.up_ms), down = seconds_of(t.down_ms), backoff = seconds_of(t.backoff_ms),
      idle = seconds_of(t.idle_ms), longest_outage = seconds_of(t.longest_outage_ms), exhaustions = t.exhaustions,
      escalations = t.escalations, at_shutdown = t.at_shutdown, final = t.final }
  end
  local r = sum.run
  return { tasks = tasks, run = { attempts = r.attempts, restarts = r.restarts, failures = r.failures,
    exhaustions = r.exhaustions, escalations = r.escalations, duration = seconds_of(r.duration_ms),
    events = r.events, shutdown = seconds_of(r.shutdown_at_ms), result = r.result,
    subscriber_overflows = r.subscriber_overflows } }
end

local KNOWN = { ["for"] = "DURATION", seed = "N", trace = "TRACE.lua", json = "flag", svg = "FILE" }

-- Options may come before or after CONFIG (the usage puts them after); the
-- config's own arguments follow a "--". Returns argv in the order Cli.parse
-- reads: options, "--", CONFIG, the config's arguments.
local function reorder(argv)
  local front, back, i = {}, {}, 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      table.move(argv, i + 1, #argv, #back + 1, back)
      break
    elseif a:sub(1, 2) == "--" then
      front[#front + 1] = a
      local key = a:match("^%-%-([%w-]+)$")
      if key and KNOWN[key] and KNOWN[key] ~= "flag" and argv[i + 1] then
        i = i + 1
        front[#front + 1] = argv[i]
      end
    else
      back[#back + 1] = a
    end
    i = i + 1
  end
  front[#front + 1] = "--"
  return table.move(back, 1, #back, #front + 1, front)
end

function M.main(argv)
  local opts, config, rest = Cli.parse("simulate", reorder(argv), KNOWN)
  if not opts then err("%s", config) return 1 end
  local secs, e = S.duration(opts["for"] or "24h", "simulate: '--for'")
  if not secs then err("%s", e) return 1 end
  local seed = 1
  if opts.seed then
    seed = math.tointeger(tonumber(opts.seed))
    if not seed then err("simulate: '--seed' must be an integer (got %q)", opts.seed) return 1 end
  end
  local trace, src
  if opts.trace then
    trace, src = load_trace(opts.trace)
    if not trace then err("%s", src) return 1 end
  end
  local cfg, lerr = C.load(config, table.unpack(rest))
  if not cfg then err("%s", lerr) return 1 end
  local out = io.stdout
  local json = opts.json and require("dkjson")
  local events = {}
  local kinds = S.task_kinds(cfg.tasks, {})
  if not json then
    out:write(string.format("simulate: %s for %s, seed %d%s\n", config, R.dur(math.floor(secs * 1000 + 0.5)), seed,
      opts.trace and ", trace " .. opts.trace or ""))
  end
  local ok, res = pcall(S.run, cfg, { for_ = secs, seed = seed, trace = trace, trace_file = opts.trace,
    trace_src = src, columns = opts.svg and 800 or 0,
    on_event = function(ev, ms)
      if json then
        local copy = {}
        for k, v in pairs(ev) do copy[k] = v end
        -- (a traced process has no Lua traceback: the one its stand-in made says nothing)
        if kinds[ev.task] == "process" then copy.traceback = nil end
        events[#events + 1] = copy
      else
        out:write(R.line(ev, ms), "\n")
      end
    end })
  if not ok then err("%s", tostring(res)) return 1 end
  for _, l in ipairs(json and {} or R.text(res.summary)) do out:write(l, "\n") end
  if json then
    out:write(json.encode(ordered({ config = config, seed = seed, ["for"] = secs, events = events,
      summary = json_summary(res.summary) }), { indent = false }), "\n")
  end
  if opts.svg then
    local f, ferr = io.open(opts.svg, "w")
    if not f then err("simulate: cannot write --svg: %s", tostring(ferr)) return 1 end
    f:write(R.svg(res.acc, res.summary, string.format("taskvisor simulate %s --for %s --seed %d", config,
      opts["for"] or "24h", seed)))
    f:close()
  end
  return 0
end

return M
