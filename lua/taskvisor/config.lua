-- config: declarative configs, for `taskvisor run | check | simulate`.
-- A config file returns its specs instead of running them:
--   local tv = require("taskvisor")
--   return tv.config{ supervisor = { grace = 5 }, tasks = { tv.process{...}, tv.task{...} } }
-- so the host can check it without starting anything, build a supervisor
-- from it, diff it against a running one (reload) and run it in virtual time.
-- Requires only validate; the supervisor module is handed in by build().
local V = require("taskvisor.validate")

local M = {}

local CONFIG_KEYS = { "supervisor", "tasks", "control", "subscribers" }
local config_mt = { __name = "taskvisor.config" }

-- Where each spec was made, while a config file loads (load sets recording;
-- spec.lua notes each made spec): "file:line", so that errors found only when
-- the config is built (a program not in PATH, an 'after' cycle, a plain spec
-- table's bad field) still name a line. A plain table has no line of its
-- own: it gets the line of the tv.config call.
M.recording = false
local made_at = setmetatable({}, { __mode = "k" })

--- note_line(spec, level): spec.lua, as it makes a spec: remember the line
--- of the function `level` frames up (the config's call of tv.task etc.).
function M.note_line(spec, level)
  local info = debug.getinfo(level, "Sl")
  if info and info.currentline and info.currentline > 0 then
    made_at[spec] = info.short_src .. ":" .. info.currentline
  end
end

local function check(v, err)
  if v == nil and err then error(err, 3) end
  return v
end

--- tv.config{ supervisor =, tasks =, control =, subscribers = }: a validated
--- config. supervisor: the options of tv.supervisor; tasks: a list of specs
--- (tv.task / tv.process / tv.group results, or their plain tables);
--- control: the control API's options ({ group = "ops" }); subscribers: a list
--- of subscribers as sup:subscribe takes them. Spec fields are checked when
--- the supervisor is built (sup:add), with every error reported.
function M.config(t)
  if type(t) ~= "table" then
    error(string.format("tv.config: expected a table { supervisor = ..., tasks = ... } (got %s)", V.show(t)), 2)
  end
  check(V.known_keys("tv.config", "", t, CONFIG_KEYS))
  if t.supervisor ~= nil then check(V.table("tv.config", "supervisor", t.supervisor)) end
  if t.control ~= nil then check(V.table("tv.config", "control", t.control)) end
  local tasks = t.tasks == nil and {} or check(V.list("tv.config", "tasks", t.tasks, "task specs"))
  local n = #tasks
  -- (`return tv.config{...}` is a tail call: then the caller's frame is gone,
  -- and load() places the plain tables by their names in the file)
  local info = debug.getinfo(2, "Sl")
  local here = info and info.currentline > 0 and (info.short_src .. ":" .. info.currentline) or nil
  local list, names, lines = {}, {}, {}
  for i = 1, n do
    local s = tasks[i]
    if type(s) ~= "table" then
      error(string.format("tv.config: tasks[%d] must be a spec (tv.task, tv.process, tv.group or a table) (got %s)",
        i, V.show(s)), 2)
    end
    local name = s.name
    if type(name) == "string" then
      if names[name] then
        error(string.format("tv.config: tasks[%d]: name '%s' is already used by tasks[%d]", i, name, names[name]), 2)
      end
      names[name] = i
    end
    list[i] = s
    lines[i] = made_at[s] or here or false
  end
  local subs = {}
  if t.subscribers ~= nil then
    for i, s in ipairs(check(V.table("tv.config", "subscribers", t.subscribers))) do subs[i] = s end
  end
  return setmetatable({ supervisor = t.supervisor or {}, tasks = list, control = t.control or {},
    subscribers = subs, lines = lines, at = here }, config_mt)
end

function M.is_config(v) return getmetatable(v) == config_mt end

-- A plain spec table has no line of its own: the first line of the file
-- that gives its name (name = "web") stands for it, else the file.
local function place(cfg, path)
  local text
  cfg.at = cfg.at or path
  for i, s in ipairs(cfg.tasks) do
    if not cfg.lines[i] then
      if text == nil then
        local f = io.open(path, "r")
        text = f and f:read("a") or false
        if f then f:close() end
      end
      local line = nil
      if text and type(s.name) == "string" then
        local n = 0
        for l in (text .. "\n"):gmatch("([^\n]*)\n") do
          n = n + 1
          for q in l:gmatch("name%s*=%s*([\"'][^\"']*[\"'])") do
            if q:sub(2, -2) == s.name then line = n break end
          end
          if line then break end
        end
      end
      cfg.lines[i] = line and (path .. ":" .. line) or path
    end
  end
end

--- load(path): runs the config file and returns its config, or nil and the
--- error (with file:line) when it raises or does not return tv.config{...}.
--- A script that runs its own supervisor (sup:run()) instead returns
--- nothing: then nil, "not a declarative config ...", "script".
function M.load(path, ...)
  local chunk, err = loadfile(path, "t")
  if not chunk then return nil, err end
  M.recording = true
  local ok, res = pcall(chunk, ...)
  M.recording = false
  if not ok then return nil, tostring(res) end
  if M.is_config(res) then place(res, path) end
  if not M.is_config(res) then
    return nil, string.format("%s: does not return a declarative config: end it with 'return tv.config{ supervisor = {...}, tasks = {...} }' (it returned %s)",
      path, V.show(res)), "script"
  end
  return res
end

--- where(cfg, i): "file:line" of task i of cfg (where its spec was made, else
--- the tv.config call).
function M.where(cfg, i) return cfg.lines and cfg.lines[i] or cfg.at or "tv.config" end

-- An error raised by the library already names a line when it was raised at
-- the config's own code; a message of sup:add does not.
local function strip_where(msg)
  return (tostring(msg):gsub("^[^:\n]*taskvisor/[%w_]+%.lua:%d+: ", ""))
end

--- build(cfg, new_supervisor): a supervisor with every task of cfg added, or
--- nil and the list of errors, each at its file:line ("cfg.lua:7: tasks[2]
--- (web): ENOENT: ..."). Nothing runs: tasks start when the supervisor runs.
function M.build(cfg, new_supervisor)
  local ok, sup = pcall(new_supervisor, cfg.supervisor)
  if not ok then return nil, { string.format("%s: supervisor: %s", cfg.at or "tv.config", strip_where(sup)) } end
  local errs = {}
  for i, s in ipairs(cfg.subscribers) do
    local sok, r, e = pcall(sup.subscribe, sup, s)
    if not sok or not r then
      errs[#errs + 1] = string.format("%s: subscribers[%d]: %s", cfg.at or "tv.config", i,
        strip_where(sok and e or r))
    end
  end
  local S = require("taskvisor.spec") -- (loaded by now; it requires this file)
  for i, s in ipairs(cfg.tasks) do
    local made = S.made(s) -- (an invalid one: sup:add says why)
    if made then cfg.tasks[i], s = made, made end
    local aok, r, e = pcall(sup.add, sup, s)
    if not aok or not r then
      local name = type(s.name) == "string" and " (" .. s.name .. ")" or ""
      errs[#errs + 1] = string.format("%s: tasks[%d]%s: %s", M.where(cfg, i), i, name,
        strip_where(aok and e or r))
    end
  end
  -- (sup:run would refuse an `after` naming no task: said here, before it runs)
  local known = {}
  local function names(list)
    for _, s in ipairs(list) do
      if type(s) == "table" then
        if type(s.name) == "string" then known[s.name] = true end
        if type(s.children) == "table" then names(s.children) end
      end
    end
  end
  names(cfg.tasks)
  for i, s in ipairs(cfg.tasks) do
    for _, d in ipairs(type(s.after) == "table" and s.after or {}) do
      if not known[d] then
        errs[#errs + 1] = string.format("%s: tasks[%d] (%s): 'after' names '%s', which is no task of "
          .. "this config", M.where(cfg, i), i, tostring(s.name), tostring(d))
      end
    end
  end
  if #errs > 0 then return nil, errs, sup end
  return sup
end

return M
