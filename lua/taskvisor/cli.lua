-- cli: the host's subcommands that run configs (`taskvisor run | check`).
-- The host calls main(cmd, argv) with the words after the subcommand and
-- exits with what it returns. `ctl` is C (src/host), not here.
local tv = require("taskvisor")
local C = require("taskvisor.config")
local Sup = require("taskvisor.supervisor")
local Cal = require("taskvisor.calendar")

local M = {}

local function err(fmt, ...) io.stderr:write("taskvisor: ", string.format(fmt, ...), "\n") end

-- Reads the option at argv[i] (--key VALUE or --key=VALUE) into opts.
-- Returns the index after it; nil, message for a bad one; or false when
-- it is not one of `known` and `lenient` (the caller keeps the word).
local function take_option(cmd, argv, i, known, opts, lenient)
  local a = argv[i]
  local key, val = a:match("^%-%-([%w-]+)=(.*)$")
  key = key or a:sub(3)
  local kind = known[key]
  if kind == nil then
    if lenient then return false end
    return nil, string.format("%s: unknown option '--%s' (see 'taskvisor help %s')", cmd, key, cmd)
  end
  if kind == "flag" then
    if val then return nil, string.format("%s: '--%s' takes no value", cmd, key) end
    opts[key] = true
  else
    if not val then
      i = i + 1
      val = argv[i]
      if val == nil then return nil, string.format("%s: '--%s' needs a value (%s)", cmd, key, kind) end
    end
    opts[key] = val
  end
  return i + 1
end

-- Options of the form --name VALUE / --name=VALUE and one positional CONFIG.
-- The command's own options may also follow CONFIG (`run CONFIG --control
-- PATH`, as the issue and most CLIs write it); every other word after
-- CONFIG, and everything after a "--", is the config's own arguments (its
-- `...`). Returns opts, config, rest; or nil, message.
local function parse(cmd, argv, known)
  local opts, i, ended = {}, 1, false
  while i <= #argv do
    local a = argv[i]
    if a == "--" then i, ended = i + 1, true break end
    if a:sub(1, 2) ~= "--" then break end
    local nexti, e = take_option(cmd, argv, i, known, opts, false)
    if not nexti then return nil, e end
    i = nexti
  end
  local config = argv[i]
  if not config then return nil, string.format("%s: missing CONFIG (a Lua file returning tv.config{...})", cmd) end
  local rest = {}
  i = i + 1
  while i <= #argv do
    local a = argv[i]
    if ended then
      rest[#rest + 1] = a
      i = i + 1
    elseif a == "--" then
      ended, i = true, i + 1
    else
      local nexti, e = false, nil
      if a:sub(1, 2) == "--" then nexti, e = take_option(cmd, argv, i, known, opts, true) end
      if nexti == nil then return nil, e end
      if nexti then
        i = nexti
      else
        rest[#rest + 1] = a
        i = i + 1
      end
    end
  end
  return opts, config, rest
end
M.parse = parse

-- The task tree as `check` prints it: one line per task, children indented
-- under their group, in the order they start (`after` named).
local function tree_lines(specs, depth, out)
  for _, s in ipairs(specs) do
    local kind = s.kind or (s.children and "group") or (s.cmd and "process") or "task"
    local extra = {}
    if s.strategy then extra[#extra + 1] = "strategy=" .. s.strategy end
    if s.after and #s.after > 0 then extra[#extra + 1] = "after=" .. table.concat(s.after, ",") end
    if s.restart then extra[#extra + 1] = "restart=" .. tostring(s.restart) end
    local next_runs
    if type(s.calendar) == "string" then
      local cal = Cal.parse(s.calendar)
      if cal then
        local times = {}
        for i, t in ipairs(cal:upcoming(os.time(), 3)) do times[i] = cal:format(t) end
        extra[#extra + 1] = string.format("calendar=%q", s.calendar)
        next_runs = "next runs: " .. table.concat(times, ", ")
      end
    end
    if s.cmd then
      local cmd = type(s.cmd) == "table" and table.concat(s.cmd, " ") or tostring(s.cmd)
      extra[#extra + 1] = "cmd=" .. cmd
    end
    out[#out + 1] = string.format("%s%s  %s%s", string.rep("  ", depth), tostring(s.name), kind,
      #extra > 0 and "  " .. table.concat(extra, "  ") or "")
    if next_runs then out[#out + 1] = string.rep("  ", depth + 1) .. next_runs end
    if s.children then tree_lines(s.children, depth + 1, out) end
  end
  return out
end
M.tree_lines = tree_lines

-- The order in which the top-level tasks start: each after the tasks its
-- `after` names (else in config order); a group's children start one after
-- the other, each once the previous is ready. Lines "1. db", "2. web (after
-- db)", "3. workers: a, b". (The config was built: `after` has no cycle.)
local function start_order(specs)
  local by, done, out = {}, {}, {}
  for _, s in ipairs(specs) do by[s.name] = s end
  local function children(s)
    local names = {}
    for _, c in ipairs(s.children or {}) do
      names[#names + 1] = c.children and string.format("%s [%s]", c.name, children(c)) or c.name
    end
    return table.concat(names, ", ")
  end
  local left = #specs
  while left > 0 do
    local progressed = false
    for _, s in ipairs(specs) do
      local ready = not done[s.name]
      for _, d in ipairs(s.after or {}) do
        if by[d] and not done[d] then ready = false end
      end
      if ready then
        done[s.name], left, progressed = true, left - 1, true
        local line = string.format("%d. %s", #out + 1, s.name)
        if s.after and #s.after > 0 then line = line .. " (after " .. table.concat(s.after, ", ") .. ")" end
        if s.children then line = line .. ": " .. children(s) end
        out[#out + 1] = line
        break -- (again from the top: the first task in config order that may start)
      end
    end
    if not progressed then break end
  end
  return out
end
M.start_order = start_order

local function check(argv)
  local opts, config, rest = parse("check", argv, {})
  if not opts then err("%s", config) return 1 end
  local cfg, e = C.load(config, table.unpack(rest))
  if not cfg then err("%s", e) return 1 end
  local sup, errs, partial = C.build(cfg, tv.supervisor)
  if sup or partial then Sup.discard(sup or partial) end
  if not sup then
    for _, m in ipairs(errs) do err("%s", m) end
    err("%s: %d error%s; nothing was started", config, #errs, #errs == 1 and "" or "s")
    return 1
  end
  local lines = tree_lines(cfg.tasks, 0, {})
  io.stdout:write(string.format("%s: ok, %d top-level task%s\n", config, #cfg.tasks, #cfg.tasks == 1 and "" or "s"))
  for _, l in ipairs(lines) do io.stdout:write(l, "\n") end
  io.stdout:write("start order:\n")
  for _, l in ipairs(start_order(cfg.tasks)) do io.stdout:write("  ", l, "\n") end
  return 0
end

-- The control API of a run (taskvisor.control): the socket is bound before
-- the config runs (a live host of the same name refuses the start); a
-- declarative config's supervisor gets it as it is built, a script that runs
-- its own supervisor at its first sup:run() (through Sup.run_hook).
local NOT_RELOADABLE = "this host runs a script that calls sup:run() itself, not a declarative config"

local function run(argv)
  local opts, config, rest = parse("run", argv, { name = "NAME", control = "PATH",
    ["events-json"] = "FILE|-", http = "ADDR:PORT", ["http-token-file"] = "PATH" })
  if not opts then err("%s", config) return 1 end
  local obs, oerr = require("taskvisor.observe").new(opts) -- (--events-json, --http: issue 16)
  if not obs then err("%s", oerr) return 1 end
  local Control = require("taskvisor.control")
  local name = opts.name or Control.name_of(config)
  if name == "" or name:find("/") then err("run: '--name' must be a non-empty name without '/' (got %q)", name) return 1 end
  local ctl, cerr = Control.open({ name = name, control = opts.control, config = config })
  if not ctl then err("%s", cerr) return 1 end
  ctl.args = rest
  Sup.run_hook = function(sup)
    Sup.run_hook = nil -- (the first run only)
    local ok, e = ctl:attach(sup, nil, NOT_RELOADABLE)
    if ok then ok, e = obs:attach(sup, ctl) end
    if not ok then err("%s", e) obs:close() ctl:close() return nil end
    return function() obs:close() ctl:close() end
  end
  local cfg, e, kind = C.load(config, table.unpack(rest))
  Sup.run_hook = nil
  if not cfg then
    ctl:close()
    if kind == "script" then return nil end -- it ran its own supervisor: the host's usual exit
    err("%s", e)
    return 1
  end
  local copts, oerr = Control.control_opts(cfg.control)
  if not copts then ctl:close() err("%s: %s", config, oerr) return 1 end
  local attach_err
  local sup, errs = C.build(cfg, function(o)
    local s = tv.supervisor(o)
    local ok, ae = ctl:attach(s, cfg)
    if ok then ok, ae = obs:attach(s, ctl) end
    if not ok then attach_err = ae end
    return s
  end)
  if attach_err then
    obs:close()
    ctl:close()
    err("%s", attach_err)
    if sup then Sup.discard(sup) end
    return 1
  end
  if not sup then
    obs:close()
    ctl:close()
    for _, m in ipairs(errs) do err("%s", m) end
    return 1
  end
  local ok, msg = sup:run()
  obs:close()
  ctl:close()
  if not ok then err("%s", msg) end
  return nil -- the host's exit status from the run (0, 2 grace exceeded, 3 escalated)
end

M.commands = { run = run, check = check,
  simulate = function(argv) return require("taskvisor.simulate_cli").main(argv) end }

--- main(cmd, argv): the exit status, or nil for the host's default (the
--- status of the last run).
function M.main(cmd, argv)
  local f = M.commands[cmd]
  if not f then err("unknown command '%s'", cmd) return 1 end
  return f(argv)
end

return M
