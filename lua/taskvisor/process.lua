-- taskvisor.process: validation of process options (tv.process, ctx:exec)
-- into the normalized tables taskvisor.core reads. Errors name the field and
-- what was expected; checkers return the value or nil plus the message.
local V = require("taskvisor.validate")

local M = {}

local MAX_CODES = 256
local MAX_BACKUPS = 1000
local MODES = { inherit = true, null = true, events = true }

local bad = V.bad

--- A command: a non-empty list of strings (no NUL bytes, program not empty);
--- numbers are taken as strings, as tostring writes them.
function M.cmd(where, field, v)
  if type(v) == "string" and v ~= "" then -- a command line: no shell unless asked
    local _, err = bad(where, field, "a non-empty list of strings", v)
    return nil, string.format("%s; to run it through a shell: %s = { \"sh\", \"-c\", %s }", err, field,
      V.show(v))
  end
  if type(v) ~= "table" then return bad(where, field, "a non-empty list of strings", v) end
  local n = #v
  if n == 0 then return bad(where, field, "a non-empty list of strings", "empty list") end
  local out = {}
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      return nil, string.format("%s: '%s' must be a list (strings at 1..n; found key %s)", where,
        field, V.show(k))
    end
  end
  for i = 1, n do
    local s = v[i]
    if type(s) == "number" then s = tostring(s) end
    if type(s) ~= "string" or s:find("\0", 1, true) then
      return bad(where, string.format("%s[%d]", field, i), "a string or a number, without NUL bytes", s)
    end
    out[i] = s
  end
  if out[1] == "" then return bad(where, field .. "[1]", "a non-empty program name", "") end
  return out
end

local function cwd(where, v)
  if v == nil then return true end
  if type(v) ~= "string" or v == "" or v:find("\0", 1, true) then
    return bad(where, "cwd", "a non-empty directory path", v)
  end
  return v
end

local function env(where, v)
  if v == nil then return true end
  if type(v) ~= "table" then return bad(where, "env", "a table of NAME = value strings", v) end
  local out = {}
  for k, val in pairs(v) do
    if type(k) ~= "string" or k == "" or k:find("[=%z]") then
      return bad(where, "env", "a table with names (strings without '=') as keys", k)
    end
    if type(val) == "number" then val = tostring(val) end
    if type(val) ~= "string" or val:find("\0", 1, true) then
      return bad(where, "env." .. k, "a string or a number, without NUL bytes", val)
    end
    out[k] = val
  end
  return out
end

local function boolean(where, field, v)
  if v ~= nil and type(v) ~= "boolean" then return bad(where, field, "a boolean", v) end
  return true
end

-- cwd, env, inherit_env into out.
function M.environment(where, src, out)
  local v, err = cwd(where, src.cwd)
  if not v then return nil, err end
  out.cwd = src.cwd
  v, err = env(where, src.env)
  if not v then return nil, err end
  out.env = src.env ~= nil and v or nil
  v, err = boolean(where, "inherit_env", src.inherit_env)
  if not v then return nil, err end
  out.inherit_env = src.inherit_env ~= false
  return out
end

local READY_FIELDS = { { "every", V.seconds, false }, { "check_timeout", V.seconds, false },
  { "timeout", V.seconds, true } }
local ROTATION_FIELDS = { { "max_bytes", V.integer, 1, 1 << 53 }, { "backups", V.integer, 0, MAX_BACKUPS } }
local OUTPUT_KEYS = { "file", "max_bytes", "backups", "events", "timestamps", "compress", "rotate_every" }
local PERIODS = { hourly = 3600, daily = 86400, weekly = 604800 }

--- stdout / stderr: "inherit" | "null" | "events" | "path/to/file" |
--- { file =, max_bytes =, backups =, events = }, into { mode =, file =,
--- max_bytes =, backups =, events = }.
function M.output(where, field, v)
  local expected = '"inherit", "null", "events", a file path (with a "/" or a ".") or '
    .. "a { file =, max_bytes =, backups =, events = } table"
  if v == nil or v == "inherit" or v == "null" then return { mode = v or "inherit" } end
  if v == "events" then return { mode = "pipe", events = true } end
  if type(v) == "string" then
    if v:find("\0", 1, true) or not v:find("[/.]") then return bad(where, field, expected, v) end
    return { mode = "pipe", file = v }
  end
  if type(v) ~= "table" then return bad(where, field, expected, v) end
  local ok, err = V.known_keys(where, field .. ".", v, OUTPUT_KEYS)
  if not ok then return nil, err end
  local out = { mode = "pipe" }
  if v.file ~= nil then
    if type(v.file) ~= "string" or v.file == "" or v.file:find("\0", 1, true) then
      return bad(where, field .. ".file", "a non-empty file path", v.file)
    end
    out.file = v.file
  end
  ok, err = boolean(where, field .. ".events", v.events)
  if not ok then return nil, err end
  out.events = v.events == true
  if not out.file and not out.events then
    return nil, string.format("%s: '%s' needs a 'file' or events = true", where, field)
  end
  ok, err = V.optional(where, field .. ".", v, out, ROTATION_FIELDS)
  if not ok then return nil, err end
  if (out.max_bytes or out.backups) and not out.file then
    return nil, string.format("%s: '%s.max_bytes' and '%s.backups' need '%s.file'", where, field,
      field, field)
  end
  if out.backups and not (out.max_bytes or v.rotate_every ~= nil) then
    return nil, string.format("%s: '%s.backups' needs '%s.max_bytes' or '%s.rotate_every' (the rotation)",
      where, field, field, field)
  end
  for _, flag in ipairs({ "timestamps", "compress" }) do
    ok, err = boolean(where, field .. "." .. flag, v[flag])
    if not ok then return nil, err end
    out[flag] = v[flag] == true or nil
  end
  if v.rotate_every ~= nil then
    local every = PERIODS[v.rotate_every] or v.rotate_every
    if math.type(every) ~= "integer" and not (type(every) == "number" and every == math.floor(every)) then
      return bad(where, field .. ".rotate_every", '"hourly", "daily", "weekly" or whole seconds', v.rotate_every)
    end
    if every < 60 or every > 31 * 86400 then
      return bad(where, field .. ".rotate_every", "a period from 60 s to 31 days", v.rotate_every)
    end
    out.rotate_every = math.tointeger(every)
  end
  if (out.timestamps or out.compress or out.rotate_every) and not out.file then
    return nil, string.format("%s: '%s.timestamps', '.compress' and '.rotate_every' need '%s.file'",
      where, field, field)
  end
  if out.compress and not (out.max_bytes or out.rotate_every) then
    return nil, string.format("%s: '%s.compress' needs rotation ('%s.max_bytes' or '%s.rotate_every')",
      where, field, field, field)
  end
  if (out.max_bytes or out.rotate_every) and not out.backups then out.backups = 5 end
  return out
end

--- A signal: "TERM", "SIGTERM" or a number, into its number.
function M.signal(where, field, v, signum)
  local n = (type(v) == "string" or math.type(v) == "integer") and signum(v) or nil
  if not n then
    return bad(where, field, 'a signal name such as "TERM" or "SIGHUP", or its number', v)
  end
  return n
end

local function codes(where, field, v)
  if type(v) ~= "table" then return bad(where, field, "a list of exit codes (0..255)", v) end
  if #v > MAX_CODES then return bad(where, field, "a list of at most 256 exit codes", #v .. " codes") end
  local out = {}
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then
      return bad(where, field, "a list of exit codes (0..255)", "a table with key " .. V.show(k))
    end
  end
  for i = 1, #v do
    local c, err = V.integer(where, string.format("%s[%d]", field, i), v[i], 0, 255)
    if not c then return nil, err end
    out[i] = c
  end
  return out
end

-- A command given as a list, or as a string run by /bin/sh -c.
local function shell_cmd(where, field, v)
  if type(v) == "string" then
    if v == "" then return bad(where, field, "a non-empty list of strings or a shell command", v) end
    v = { "/bin/sh", "-c", v }
  end
  return M.cmd(where, field, v)
end

local SIZE_EXPECTED = 'a size: bytes (an integer > 0) or a string such as "200M" (K, M, G, T: powers of 1024)'
local UNITS = { [""] = 1, K = 1 << 10, M = 1 << 20, G = 1 << 30, T = 1 << 40 }
local MEMORY_EVERY = 1 -- seconds between samples of the tree's memory (memtree.h)

local function size(where, field, v)
  if math.type(v) == "integer" and v > 0 then return v end
  if type(v) == "string" then
    local num, unit = v:match("^(%d+%.?%d*)%s*([KkMmGgTt]?)i?[Bb]?$")
    local n = num and tonumber(num) * UNITS[unit:upper()]
    if n and n >= 1 and n < 2 ^ 62 then return math.floor(n) end
  end
  return bad(where, field, SIZE_EXPECTED, v)
end

--- max_memory = size | { limit = size, every = s }, into { bytes =, every = }.
function M.max_memory(where, v)
  if type(v) ~= "table" then
    local n, err = size(where, "max_memory", v)
    if not n then return nil, err end
    return { bytes = n, every = MEMORY_EVERY }
  end
  local ok, err = V.known_keys(where, "max_memory.", v, { "limit", "every" })
  if not ok then return nil, err end
  local out = { every = MEMORY_EVERY }
  out.bytes, err = size(where, "max_memory.limit", v.limit)
  if not out.bytes then return nil, err end
  ok, err = V.optional(where, "max_memory.", v, out, { { "every", V.seconds, false } })
  if not ok then return nil, err end
  if out.every < 0.01 then -- (a sample is a few /proc reads: not a busy loop)
    return bad(where, "max_memory.every", "a number of seconds >= 0.01", v.every)
  end
  return out
end

local READY_KEYS = { "notify", "check", "every", "check_timeout", "timeout" }
local READY_TIMEOUT = 90 -- like systemd's DefaultTimeoutStartSec
local READY_EXPECTED = '"started", "notify", or a table { notify = true | check = cmd, every =, check_timeout =, timeout = }'

--- ready = "started" | "notify" | { notify = true, timeout = s } |
--- { check = cmd, every = s, check_timeout = s, timeout = s }, into nil (started) or
--- { mode = "notify"|"check", timeout = s (0: none), check = argv, every = s,
--- check_timeout = s }.
function M.ready(where, v, src_env)
  if v == nil or v == "started" then return true end
  local out = { timeout = READY_TIMEOUT }
  if v == "notify" then
    out.mode = "notify"
  elseif type(v) ~= "table" then
    return bad(where, "ready", READY_EXPECTED, v)
  else
    local ok, err = V.known_keys(where, "ready.", v, READY_KEYS)
    if not ok then return nil, err end
    ok, err = boolean(where, "ready.notify", v.notify)
    if not ok then return nil, err end
    if v.notify and v.check ~= nil then
      return nil, string.format("%s: 'ready' takes notify = true or a check, not both", where)
    end
    if v.notify then
      out.mode = "notify"
      for _, k in ipairs({ "every", "check_timeout" }) do
        if v[k] ~= nil then
          return nil, string.format("%s: 'ready.%s' only applies to 'ready.check'", where, k)
        end
      end
    elseif v.check ~= nil then
      -- a check's own kill timeout (Docker's HEALTHCHECK --timeout): `every`
      -- is how often, not how long a healthy check may take
      out.mode, out.every, out.check_timeout = "check", 1, 5
      out.check, err = shell_cmd(where, "ready.check", v.check)
      if not out.check then return nil, err end
    else
      return nil, string.format("%s: 'ready' needs notify = true or check = {cmd...} "
        .. "(a table with neither says nothing)", where)
    end
    ok, err = V.optional(where, "ready.", v, out, READY_FIELDS)
    if not ok then return nil, err end
  end
  if out.mode == "notify" and src_env and src_env.NOTIFY_SOCKET ~= nil then
    return nil, string.format("%s: 'env.NOTIFY_SOCKET' cannot be set with ready = \"notify\" "
      .. "(taskvisor sets it to the attempt's socket)", where)
  end
  return out
end

--- The options only a process spec has (init.lua adds the shared ones).
M.KEYS = { "cmd", "cwd", "env", "inherit_env", "stdin", "stdout", "stderr",
  "stop_signal", "stop_timeout", "success_codes", "fatal_codes", "ready", "max_memory" }
-- user, group, groups, umask, nice, limits: taskvisor.creds, loaded by the
-- first spec that sets one (a config without them does not carry it)
M.CREDS_KEYS = { "user", "group", "groups", "umask", "nice", "limits" }
for _, k in ipairs(M.CREDS_KEYS) do M.KEYS[#M.KEYS + 1] = k end

--- Whether options table t sets any of M.CREDS_KEYS.
function M.has_creds(t)
  for _, k in ipairs(M.CREDS_KEYS) do
    if t[k] ~= nil then return true end
  end
  return false
end

--- The process-specific options of a tv.process spec, into out (the table
--- core.process reads).
function M.options(where, src, out, signum)
  local v, err
  out.cmd, err = M.cmd(where, "cmd", src.cmd)
  if not out.cmd then return nil, err end
  v, err = M.environment(where, src, out)
  if not v then return nil, err end
  if src.stdin ~= nil and src.stdin ~= "null" and src.stdin ~= "inherit" then
    return bad(where, "stdin", 'one of "null", "inherit"', src.stdin)
  end
  out.stdin = src.stdin or "null"
  for _, k in ipairs({ "stdout", "stderr" }) do
    out[k], err = M.output(where, k, src[k])
    if not out[k] then return nil, err end
  end
  out.stop_signal, err = M.signal(where, "stop_signal", src.stop_signal or "TERM", signum)
  if not out.stop_signal then return nil, err end
  out.stop_timeout = 10
  v, err = V.optional(where, "", src, out, { { "stop_timeout", V.seconds, true } })
  if not v then return nil, err end
  out.success_codes, err = codes(where, "success_codes", src.success_codes or { 0 })
  if not out.success_codes then return nil, err end
  out.fatal_codes, err = codes(where, "fatal_codes", src.fatal_codes or {})
  if not out.fatal_codes then return nil, err end
  v, err = M.ready(where, src.ready, src.env)
  if not v then return nil, err end
  out.ready = v ~= true and v or nil
  if M.has_creds(src) then
    v, err = require("taskvisor.creds").options(where, src, out)
    if not v then return nil, err end
  end
  if src.max_memory ~= nil then
    out.max_memory, err = M.max_memory(where, src.max_memory)
    if not out.max_memory then return nil, err end
  end
  for _, c in ipairs(out.fatal_codes) do
    for _, s in ipairs(out.success_codes) do
      if c == s then
        return nil, string.format("%s: exit code %d is in both 'success_codes' and 'fatal_codes'",
          where, c)
      end
    end
  end
  return out
end

local EXEC_KEYS = { "cwd", "env", "inherit_env", "stdin", "timeout", "max_output", "stop_timeout" }
local EXEC_FIELDS = {
  { "timeout", V.seconds, false },
  { "stop_timeout", V.seconds, true },
  { "max_output", V.integer, 0, 1 << 40 },
}

--- ctx:exec(cmd [, opts]) arguments: cmd a list, or a string run by /bin/sh -c.
function M.exec_args(where, cmd, opts)
  local err
  cmd, err = shell_cmd(where, "cmd", cmd)
  if not cmd then return nil, err end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then return bad(where, "opts", "a table", opts) end
  local ok
  ok, err = V.known_keys(where, "", opts, EXEC_KEYS)
  if not ok then return nil, err end
  local out = {}
  ok, err = M.environment(where, opts, out)
  if not ok then return nil, err end
  if opts.stdin ~= nil then
    if type(opts.stdin) ~= "string" then return bad(where, "stdin", "a string (fed to the command)", opts.stdin) end
    out.stdin = opts.stdin
  end
  ok, err = V.optional(where, "", opts, out, EXEC_FIELDS)
  if not ok then return nil, err end
  return cmd, out
end

return M
