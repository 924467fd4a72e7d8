-- taskvisor.validate: option checking with messages that name the field and
-- what was expected, e.g.
--   tv.task: 'backoff.factor' must be a number >= 0 (got "x")
-- Checkers return the value, or nil plus the message; the public functions
-- raise at their caller's level.
local M = {}

local MAX_SECONDS = 1e9      -- about 31 years: anything longer is a mistake
local MAX_NAME = 256

-- How a bad value is shown in "(got ...)".
function M.show(v)
  local t = type(v)
  if t == "string" then
    if #v > 40 then v = v:sub(1, 37) .. "..." end
    return string.format("%q", v)
  elseif t == "number" then
    if v ~= v then return "nan" end
    return tostring(v)
  elseif t == "boolean" then
    return tostring(v)
  end
  return t
end

--- nil and "where: 'field' must be expected (got v)".
function M.bad(where, field, expected, v)
  return nil, string.format("%s: '%s' must be %s (got %s)", where, field, expected, M.show(v))
end
local bad = M.bad

--- Returns `v`, or raises `err` at the caller of the public function that
--- called check (level 3: check, the public function, its caller).
function M.check(v, err)
  if v == nil then error(err, 3) end
  return v
end

function M.callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and type(rawget(mt, "__call")) == "function"
end

function M.seconds(where, field, v, allow_zero)
  if type(v) ~= "number" or v ~= v or v < 0 or v > MAX_SECONDS or (not allow_zero and v == 0) then
    return bad(where, field, string.format("a number of seconds %s 0 and at most %g",
      allow_zero and ">=" or ">", MAX_SECONDS), v)
  end
  return v
end

function M.integer(where, field, v, min, max)
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)
      and v >= -2^53 and v <= 2^53) then
    return bad(where, field, string.format("an integer >= %d", min), v)
  end
  v = math.tointeger(v)
  if v < min or (max and v > max) then
    return bad(where, field, max and string.format("an integer between %d and %d", min, max)
      or string.format("an integer >= %d", min), v)
  end
  return v
end

--- An integer between min and max, or false (meaning "no limit").
function M.limit(where, field, v, min, max)
  if v == false then return v end
  if type(v) ~= "number" or v ~= v or v ~= math.floor(v) or v < min or v > max then
    return bad(where, field, string.format("an integer between %d and %d, or false", min, max), v)
  end
  return math.tointeger(v)
end

function M.number(where, field, v, min)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge or v < min then
    return bad(where, field, string.format("a finite number >= %g", min), v)
  end
  return v
end

function M.one_of(where, field, v, choices)
  for _, c in ipairs(choices) do
    if v == c then return v end
  end
  local quoted = {}
  for i, c in ipairs(choices) do quoted[i] = string.format("%q", c) end
  return bad(where, field, "one of " .. table.concat(quoted, ", "), v)
end

-- Names that passed M.name lately: a controller checks the same few slot
-- names on every submission. Bounded: emptied when it fills.
local good_names, ngood = {}, 0

function M.name(where, field, v)
  if good_names[v] then return v end
  if type(v) ~= "string" or v == "" then
    return bad(where, field, "a non-empty string", v)
  end
  if #v > MAX_NAME then
    return nil, string.format("%s: '%s' must be at most %d bytes (got %d bytes)", where, field,
      MAX_NAME, #v)
  end
  if v:find("[%c]") then
    return bad(where, field, "a string without control characters", v)
  end
  if ngood >= 1024 then good_names, ngood = {}, 0 end
  good_names[v], ngood = true, ngood + 1
  return v
end

-- Damerau-free edit distance, for "did you mean" hints.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- The set of each list of known keys, built on first use (the lists are
-- constants of the callers).
local key_sets = setmetatable({}, { __mode = "k" })

-- Names other tools use for an option, and ours (hinted when it is known
-- where the key was given).
local ALIASES = { command = "cmd", argv = "cmd", args = "cmd", environment = "env",
  dir = "cwd", workdir = "cwd", working_dir = "cwd", directory = "cwd", depends_on = "after",
  requires = "after", retries = "max_retries", stop_grace = "stop_timeout" }

-- Rejects keys not in `known` (a list), suggesting the closest one.
function M.known_keys(where, prefix, t, known)
  local set = key_sets[known]
  if not set then
    set = {}
    for _, name in ipairs(known) do set[name] = true end
    key_sets[known] = set
  end
  for k in pairs(t) do
    if not set[k] then
      if type(k) ~= "string" then
        if prefix == "" then
          return nil, string.format("%s: option keys must be strings (got %s key)", where, type(k))
        end
        -- a nested table ({3, 5} for intensity): name it and its keys
        return nil, string.format("%s: '%s' must be a table of named options (got %s key %s; "
          .. "known: %s)", where, prefix:sub(1, -2), type(k), M.show(k), table.concat(known, ", "))
      end
      local best, bestd = nil, 3
      local alias = ALIASES[k]
      if alias and set[alias] then best, bestd = alias, 0 end
      for _, name in ipairs(known) do
        -- the distance is at least the length difference: skip hopeless
        -- names (a long key took seconds: the table is O(#k * #name))
        if math.abs(#k - #name) < bestd then
          local d = distance(k, name)
          if d < bestd then best, bestd = name, d end
        end
      end
      local hint = best and string.format("; did you mean '%s%s'?", prefix, best) or
        string.format("; known: %s", table.concat(known, ", "))
      return nil, string.format("%s: unknown option '%s%s'%s", where, prefix, k, hint)
    end
  end
  return t
end

--- Checks the optional fields of `src` into `out`: `fields` is a list of
--- { key, checker, extra args... }; each set key is validated by
--- checker(where, prefix .. key, value, extra args...). true, or nil + error.
function M.optional(where, prefix, src, out, fields)
  for _, f in ipairs(fields) do
    local key = f[1]
    if src[key] ~= nil then
      local v, err = f[2](where, prefix .. key, src[key], table.unpack(f, 3))
      if v == nil then return nil, err end
      out[key] = v
    end
  end
  return true
end

function M.table(where, field, v)
  if type(v) ~= "table" then return bad(where, field, "a table", v) end
  return v
end

--- A plain list (keys 1..n only): a single item or a keyed table given where
--- a list belongs would otherwise read as an empty list.
function M.list(where, field, v, of)
  local expected = "a list of " .. of
  if type(v) ~= "table" then return bad(where, field, "a table", v) end
  if getmetatable(v) ~= nil then
    return nil, string.format("%s: '%s' must be %s (got one object, not a list: wrap it in { })",
      where, field, expected)
  end
  local n = #v
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      return nil, string.format("%s: '%s' must be %s (found key %s)", where, field, expected, M.show(k))
    end
  end
  for i = 1, n do -- a hole would end ipairs early and drop the items after it
    if v[i] == nil then
      return nil, string.format("%s: '%s' must be %s (nothing at [%d])", where, field, expected, i)
    end
  end
  return v
end

return M
