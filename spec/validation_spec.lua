-- spec/validation_spec.lua: every public entry point rejects bad input with an
-- error naming the function, the field and what was expected, raised at the
-- caller's line; a rejected call harms nothing already running; accepted edge
-- values (timeout = 0, max_retries = 0, factor = 0, grace = 0, 256-byte names) work.
local H = require("helpers")
local tv = H.tv

-- The name error positions use for this file ("spec/validation_spec.lua" when
-- busted is given a relative path, the absolute path under CTest).
local SRC = debug.getinfo(1, "S").short_src

local NIL = setmetatable({}, { __name = "NIL" }) -- "remove this field" in overrides
local function noop() end
local LONG300 = string.rep("n", 300)
local LONG256 = string.rep("n", 256)
local NAN = 0 / 0

local function closed_file()
  local f = assert(io.tmpfile())
  f:close()
  return f
end

-- A fresh good task spec with `over` applied (NIL deletes a field).
local function spec_with(over)
  local s = { name = "t", run = noop }
  for k, v in pairs(over or {}) do
    if v == NIL then s[k] = nil else s[k] = v end
  end
  return s
end

local function has(s, sub) return s:find(sub, 1, true) ~= nil end

-- Calls `f` (a function in this file making one bad call) and returns the
-- error message; fails the test if nothing (or a non-string) was raised.
local function raised(f)
  local ok, err = pcall(f)
  if ok then error("expected an error, but the call succeeded", 2) end
  if type(err) ~= "string" then
    error("expected an error message string, got a " .. type(err) .. " error value", 2)
  end
  return err
end

-- The message without its "file:line: " position, if it has one.
local function body_of(err)
  return (err:gsub("^[^\n]-:%d+: ", "", 1))
end

-- Asserts that `err` (raised by `f`) says `where: ...` and contains every part.
local function check_message(err, where, parts)
  local body = body_of(err)
  assert(body:sub(1, #where + 2) == where .. ": ",
    string.format("message should start with %q (after its position); got: %s", where .. ": ", err))
  for _, p in ipairs(parts) do
    assert(has(body, p), string.format("message lacks %q; got: %s", p, err))
  end
end

-- nil, or why `err` does not point at a line inside `f` in this file.
local function position_problem(err, f)
  local info = debug.getinfo(f, "S")
  local prefix = SRC .. ":"
  if err:sub(1, #prefix) ~= prefix then
    return string.format("does not start with %q: %s", prefix .. "<line>: ", err)
  end
  local line = tonumber(err:sub(#prefix + 1):match("^(%d+): "))
  if not line or line < info.linedefined or line > info.lastlinedefined then
    return string.format("points at line %s, not at the call (lines %d-%d): %s", tostring(line),
      info.linedefined, info.lastlinedefined, err)
  end
  return nil
end

-- Registers one `it` per case checking the message, and one `it` checking that
-- every case's error position is the caller's line. `entry` = { where =,
-- call = function(case) -> function making the bad call, skip = fn(case)? }.
local function table_driven(label, entry, cases)
  for _, c in ipairs(cases) do
    if not (entry.skip and entry.skip(c)) then
      it(label .. ": " .. c[1], function()
        local where = c.where or entry.where
        check_message(raised(entry.call(c)), where, c[2])
      end)
    end
  end
  it(label .. ": every error above points at the caller's line (" .. SRC .. ":<line>:)", function()
    local problems = {}
    for _, c in ipairs(cases) do
      if not (entry.skip and entry.skip(c)) then
        local f = entry.call(c)
        local ok, err = pcall(f)
        if not ok and type(err) == "string" then
          local p = position_problem(err, f)
          if p then problems[#problems + 1] = c[1] .. ": " .. p end
        end
      end
    end
    assert(#problems == 0, string.format("%d of %d errors are not positioned at the caller:\n  %s",
      #problems, #cases, table.concat(problems, "\n  ", 1, math.min(#problems, 8))))
  end)
end

-- ---- task specs -------------------------------------------------------------

local SECONDS = "must be a number of seconds >= 0"

local function duration_cases(field, over_of)
  local out = {}
  local bad = {
    { "-1", -1, "(got -1)" }, { "-0.5", -0.5, "(got -0.5)" }, { "NaN (0/0)", NAN, "(got nan)" },
    { "math.huge", math.huge, "(got inf)" }, { "-math.huge", -math.huge, "(got -inf)" },
    { "1e300", 1e300, "(got 1e+300)" }, { "a string", "1", '(got "1")' },
    { "a boolean", true, "(got true)" }, { "a table", {}, "(got table)" },
    { "a function", noop, "(got function)" },
  }
  for _, b in ipairs(bad) do
    out[#out + 1] = { string.format("'%s' = %s", field, b[1]), { "'" .. field .. "' " .. SECONDS, b[3] },
      spec = spec_with(over_of(b[2])) }
  end
  return out
end

local TASK_CASES = {
  -- the spec itself
  { "spec is nil", { "expected a task spec table (got nil)" }, spec = nil, nospec = true },
  { "spec is a number", { "expected a task spec table (got 42)" }, spec = 42 },
  { "spec is a string", { 'expected a task spec table (got "t")' }, spec = "t" },
  { "spec is a function", { "expected a task spec table (got function)" }, spec = noop },
  { "spec is a boolean", { "expected a task spec table (got false)" }, spec = false },
  -- name
  { "missing name", { "'name' must be a non-empty string (got nil)" }, spec = spec_with{ name = NIL } },
  { "name is a number", { "'name' must be a non-empty string (got 42)" }, spec = spec_with{ name = 42 } },
  { "name is a table", { "'name' must be a non-empty string (got table)" }, spec = spec_with{ name = {} } },
  { "name is a boolean", { "'name' must be a non-empty string (got true)" }, spec = spec_with{ name = true } },
  { "name is a function", { "'name' must be a non-empty string (got function)" },
    spec = spec_with{ name = noop } },
  { "empty name", { "'name' must be a non-empty string (got \"\")" }, spec = spec_with{ name = "" } },
  { "a 300-byte name", { "'name' must be at most 256 bytes (got 300 bytes)" },
    spec = spec_with{ name = LONG300 } },
  { "a name with a newline", { "'name' must be a string without control characters" },
    spec = spec_with{ name = "a\nb" } },
  { "a name with a tab", { "'name' must be a string without control characters" },
    spec = spec_with{ name = "a\tb" } },
  { "a name with a NUL byte", { "'name' must be a string without control characters" },
    spec = spec_with{ name = "a\0b" } },
  -- run
  { "missing run", { "'run' must be a function or a callable (got nil)" }, spec = spec_with{ run = NIL } },
  { "run is a number", { "'run' must be a function or a callable (got 42)" }, spec = spec_with{ run = 42 } },
  { "run is a string", { "'run' must be a function or a callable (got \"print\")" },
    spec = spec_with{ run = "print" } },
  { "run is a plain table", { "'run' must be a function or a callable (got table)" },
    spec = spec_with{ run = {} } },
  { "run is a boolean", { "'run' must be a function or a callable (got true)" },
    spec = spec_with{ run = true } },
  { "run is a table whose __call is not a function", { "'run' must be a function or a callable (got table)" },
    spec = spec_with{ run = setmetatable({}, { __call = 42 }) } },
  -- unknown keys
  { "unknown key 'restrat' (near miss)", { "unknown option 'restrat'; did you mean 'restart'?" },
    spec = spec_with{ restrat = "always" } },
  { "unknown key 'nmae' (near miss)", { "unknown option 'nmae'; did you mean 'name'?" },
    spec = spec_with{ nmae = "x" } },
  { "unknown key 'timout' (near miss)", { "unknown option 'timout'; did you mean 'timeout'?" },
    spec = spec_with{ timout = 1 } },
  { "unknown key 'max_retires' (near miss)", { "unknown option 'max_retires'; did you mean 'max_retries'?" },
    spec = spec_with{ max_retires = 1 } },
  { "unknown key far from any option", { "unknown option 'zzz_unknown'", "known:" },
    spec = spec_with{ zzz_unknown = 1 } },
  { "a positional (non-string) key", { "option keys must be strings (got number key)" },
    spec = spec_with{ [1] = "oops" } },
  -- restart
  { "unknown restart string", { "'restart' must be one of \"never\", \"on_failure\", \"always\" or a function(outcome) (got \"sometimes\")" },
    spec = spec_with{ restart = "sometimes" } },
  { "restart in the wrong case", { "'restart' must be one of", "(got \"Always\")" },
    spec = spec_with{ restart = "Always" } },
  { "restart is a number", { "'restart' must be one of", "(got 1)" }, spec = spec_with{ restart = 1 } },
  { "restart is a boolean", { "'restart' must be one of", "(got true)" }, spec = spec_with{ restart = true } },
  -- max_retries
  { "max_retries = -1", { "'max_retries' must be an integer", "(got -1)" }, spec = spec_with{ max_retries = -1 } },
  { "max_retries = 1.5", { "'max_retries' must be an integer", "(got 1.5)" },
    spec = spec_with{ max_retries = 1.5 } },
  { "max_retries = NaN", { "'max_retries' must be an integer", "(got nan)" },
    spec = spec_with{ max_retries = NAN } },
  { "max_retries = math.huge", { "'max_retries' must be an integer", "(got inf)" },
    spec = spec_with{ max_retries = math.huge } },
  { "max_retries is a string", { "'max_retries' must be an integer", "(got \"3\")" },
    spec = spec_with{ max_retries = "3" } },
  -- backoff
  { "backoff is a number", { "'backoff' must be a table { first, max, factor, jitter } or a function(streak, last_delay, outcome) (got 5)" }, spec = spec_with{ backoff = 5 } },
  { "backoff is a string", { "'backoff' must be a table { first, max, factor, jitter } or a function(streak, last_delay, outcome) (got \"fast\")" }, spec = spec_with{ backoff = "fast" } },
  { "backoff is a boolean", { "'backoff' must be a table { first, max, factor, jitter } or a function(streak, last_delay, outcome) (got true)" }, spec = spec_with{ backoff = true } },
  { "backoff is a number", { "'backoff' must be a table { first, max, factor, jitter } or a function(streak, last_delay, outcome) (got 42)" }, spec = spec_with{ backoff = 42 } },
  { "unknown backoff key 'fist' (near miss)", { "unknown option 'backoff.fist'; did you mean 'backoff.first'?" },
    spec = spec_with{ backoff = { fist = 1 } } },
  { "unknown backoff key 'jiter' (near miss)",
    { "unknown option 'backoff.jiter'; did you mean 'backoff.jitter'?" },
    spec = spec_with{ backoff = { jiter = "full" } } },
  { "unknown backoff key far from any option", { "unknown option 'backoff.maximum_delay'" },
    spec = spec_with{ backoff = { maximum_delay = 1 } } },
  { "backoff.factor = \"x\"", { "'backoff.factor' must be a finite number >= 0 (got \"x\")" },
    spec = spec_with{ backoff = { factor = "x" } } },
  { "backoff.factor = -1", { "'backoff.factor' must be a finite number >= 0 (got -1)" },
    spec = spec_with{ backoff = { factor = -1 } } },
  { "backoff.factor = NaN", { "'backoff.factor' must be a finite number >= 0 (got nan)" },
    spec = spec_with{ backoff = { factor = NAN } } },
  { "backoff.factor = math.huge", { "'backoff.factor' must be a finite number >= 0 (got inf)" },
    spec = spec_with{ backoff = { factor = math.huge } } },
  { "unknown backoff.jitter string",
    { "'backoff.jitter' must be one of \"none\", \"full\", \"equal\", \"decorrelated\" (got \"random\")" },
    spec = spec_with{ backoff = { jitter = "random" } } },
  { "backoff.jitter is a number", { "'backoff.jitter' must be one of", "(got 1)" },
    spec = spec_with{ backoff = { jitter = 1 } } },
  -- interval vs restart
  { "interval with restart = \"never\"", { "'interval' only applies to restart = \"always\"", "\"never\"" },
    spec = spec_with{ restart = "never", interval = 1 } },
  { "interval with restart = \"on_failure\"",
    { "'interval' only applies to restart = \"always\"", "\"on_failure\"" },
    spec = spec_with{ restart = "on_failure", interval = 1 } },
}
for _, c in ipairs(duration_cases("timeout", function(v) return { timeout = v } end)) do
  TASK_CASES[#TASK_CASES + 1] = c
end
for _, c in ipairs(duration_cases("interval", function(v) return { restart = "always", interval = v } end)) do
  TASK_CASES[#TASK_CASES + 1] = c
end
for _, c in ipairs(duration_cases("backoff.first", function(v) return { backoff = { first = v } } end)) do
  TASK_CASES[#TASK_CASES + 1] = c
end
for _, c in ipairs(duration_cases("backoff.max", function(v) return { backoff = { max = v } } end)) do
  TASK_CASES[#TASK_CASES + 1] = c
end

describe("task specs", function()
  table_driven("tv.task", {
    where = "tv.task",
    call = function(c) return function() tv.task(c.spec) end end,
  }, TASK_CASES)

  table_driven("sup:add", {
    where = "sup:add",
    call = function(c)
      local sup = tv.supervisor()
      return function() sup:add(c.spec) end
    end,
  }, TASK_CASES)

  -- A one-element list: a nil spec is an empty list there, so it is skipped.
  table_driven("sup:run", {
    where = "sup:run: specs[1]",
    skip = function(c) return c.nospec end,
    call = function(c)
      local sup = tv.supervisor()
      return function() sup:run({ c.spec }) end
    end,
  }, TASK_CASES)

  table_driven("sup:run (the specs list)", {
    where = "sup:run",
    call = function(c)
      local sup = tv.supervisor()
      return function() sup:run(c.specs) end
    end,
  }, {
    { "specs is a number", { "'specs' must be a table (got 42)" }, specs = 42 },
    { "specs is a string", { "'specs' must be a table (got \"t\")" }, specs = "t" },
    { "specs is a boolean", { "'specs' must be a table (got true)" }, specs = true },
    { "the second spec of a batch is bad", { "specs[2]: 'run' must be a function or a callable (got 42)" },
      specs = { spec_with{ name = "ok" }, spec_with{ name = "bad", run = 42 } } },
  })

  it("the error names the line of the bad call even when it is nested in a helper", function()
    local call_line
    local function make_spec()
      call_line = debug.getinfo(1, "l").currentline + 1
      local t = tv.task{ name = "a", run = noop, restrat = "always" }
      return t
    end
    local function config()
      make_spec()
    end
    local err = raised(config)
    check_message(err, "tv.task", { "unknown option 'restrat'; did you mean 'restart'?" })
    local expected = SRC .. ":" .. call_line .. ": "
    assert(err:sub(1, #expected) == expected,
      string.format("expected the position %q; got: %s", expected, err))
  end)

  it("sup:run with a bad spec in a batch adds none of the batch (and runs nothing)", function()
    local sup = tv.supervisor()
    local ran = false
    local ok = pcall(function()
      sup:run({ tv.once("good", function() ran = true end), { name = "bad", run = 42 } })
    end)
    assert.is_false(ok)
    assert.are.same({}, sup:list())
    assert.is_false(ran)
    assert.are.equal("open", sup:state())
  end)

  it("sup:add checks 'interval' against the restart the supervisor's defaults give", function()
    local spec = tv.task{ name = "i", interval = 1, run = noop } -- restart unset: fine so far
    local sup = tv.supervisor()
    local f = function() sup:add(spec) end
    local err = raised(f)
    check_message(err, "sup:add", { "'interval'", "\"on_failure\"" })
    assert.is_nil(position_problem(err, f))
    local sup2 = tv.supervisor{ defaults = { restart = "always" } }
    assert.is_true(sup2:add(spec))
  end)
end)

-- ---- tv.once / tv.restartable ----------------------------------------------------

local function shorthand_cases(restart)
  return {
    { "name is nil", { "'name' must be a non-empty string (got nil)" }, args = { nil, noop } },
    { "name is a number", { "'name' must be a non-empty string (got 42)" }, args = { 42, noop } },
    { "name is a table", { "'name' must be a non-empty string (got table)" }, args = { {}, noop } },
    { "empty name", { "'name' must be a non-empty string (got \"\")" }, args = { "", noop } },
    { "a 300-byte name", { "'name' must be at most 256 bytes (got 300 bytes)" }, args = { LONG300, noop } },
    { "a name with a newline", { "'name' must be a string without control characters" },
      args = { "a\nb", noop } },
    { "fn is nil", { "'run' must be a function or a callable (got nil)" }, args = { "s", nil } },
    { "fn is a number", { "'run' must be a function or a callable (got 42)" }, args = { "s", 42 } },
    { "fn is a string", { "'run' must be a function or a callable (got \"print\")" }, args = { "s", "print" } },
    { "fn is a table", { "'run' must be a function or a callable (got table)" }, args = { "s", {} } },
    { "fn is a boolean", { "'run' must be a function or a callable (got false)" }, args = { "s", false } },
    { "opts is a number", { "options must be a table (got 3)" }, args = { "s", noop, 3 } },
    { "opts is a string", { "options must be a table (got \"x\")" }, args = { "s", noop, "x" } },
    { "opts is a boolean", { "options must be a table (got true)" }, args = { "s", noop, true } },
    { "opts sets restart", { "'restart'", "positionally" }, args = { "s", noop, { restart = "always" } } },
    { "opts sets name", { "'name'", "positionally" }, args = { "s", noop, { name = "x" } } },
    { "opts sets run", { "'run'", "positionally" }, args = { "s", noop, { run = noop } } },
    { "unknown key 'timout' (near miss)", { "unknown option 'timout'; did you mean 'timeout'?" },
      args = { "s", noop, { timout = 1 } } },
    { "timeout = -1", { "'timeout' " .. SECONDS, "(got -1)" }, args = { "s", noop, { timeout = -1 } } },
    { "timeout = NaN", { "'timeout' " .. SECONDS, "(got nan)" }, args = { "s", noop, { timeout = NAN } } },
    { "max_retries = 1.5", { "'max_retries' must be an integer", "(got 1.5)" },
      args = { "s", noop, { max_retries = 1.5 } } },
    { "backoff.factor = \"x\"", { "'backoff.factor' must be a finite number >= 0 (got \"x\")" },
      args = { "s", noop, { backoff = { factor = "x" } } } },
    { "backoff is a number", { "'backoff' must be a table { first, max, factor, jitter } or a function(streak, last_delay, outcome) (got 5)" }, args = { "s", noop, { backoff = 5 } } },
    { "interval (restart is \"" .. restart .. "\")",
      { "'interval' only applies to restart = \"always\"", "\"" .. restart .. "\"" },
      args = { "s", noop, { interval = 1 } } },
  }
end

describe("shorthands", function()
  table_driven("tv.once", {
    where = "tv.once",
    call = function(c) return function() tv.once(c.args[1], c.args[2], c.args[3]) end end,
  }, shorthand_cases("never"))

  table_driven("tv.restartable", {
    where = "tv.restartable",
    call = function(c) return function() tv.restartable(c.args[1], c.args[2], c.args[3]) end end,
  }, shorthand_cases("on_failure"))
end)

-- ---- tv.supervisor ----------------------------------------------------------------

local SUP_CASES = {
  { "opts is a number", { "expected an options table (got 42)" }, opts = 42 },
  { "opts is a string", { "expected an options table (got \"x\")" }, opts = "x" },
  { "opts is a boolean", { "expected an options table (got true)" }, opts = true },
  { "opts is a function", { "expected an options table (got function)" }, opts = noop },
  { "unknown key 'grac' (near miss)", { "unknown option 'grac'; did you mean 'grace'?" }, opts = { grac = 1 } },
  { "unknown key 'max_concurent' (near miss)", { "unknown option 'max_concurent'; did you mean 'max_concurrent'?" },
    opts = { max_concurent = 1 } },
  { "unknown key 'bus_capacty' (near miss)", { "unknown option 'bus_capacty'; did you mean 'bus_capacity'?" },
    opts = { bus_capacty = 1 } },
  { "a positional (non-string) key", { "option keys must be strings" }, opts = { 5 } },
  { "grace = -1", { "'grace' " .. SECONDS, "(got -1)" }, opts = { grace = -1 } },
  { "grace = NaN", { "'grace' " .. SECONDS, "(got nan)" }, opts = { grace = NAN } },
  { "grace = math.huge", { "'grace' " .. SECONDS, "(got inf)" }, opts = { grace = math.huge } },
  { "grace = -math.huge", { "'grace' " .. SECONDS, "(got -inf)" }, opts = { grace = -math.huge } },
  { "grace = 1e300", { "'grace' " .. SECONDS, "(got 1e+300)" }, opts = { grace = 1e300 } },
  { "grace is a string", { "'grace' " .. SECONDS, "(got \"5\")" }, opts = { grace = "5" } },
  { "grace is a boolean", { "'grace' " .. SECONDS, "(got true)" }, opts = { grace = true } },
  { "max_concurrent = -1", { "'max_concurrent' must be an integer", "(got -1)" }, opts = { max_concurrent = -1 } },
  { "max_concurrent = 1.5", { "'max_concurrent' must be an integer", "(got 1.5)" },
    opts = { max_concurrent = 1.5 } },
  { "max_concurrent = NaN", { "'max_concurrent' must be an integer", "(got nan)" },
    opts = { max_concurrent = NAN } },
  { "max_concurrent is a string", { "'max_concurrent' must be an integer", "(got \"2\")" },
    opts = { max_concurrent = "2" } },
  { "bus_capacity = 0", { "'bus_capacity' must be an integer between 1 and", "(got 0)" },
    opts = { bus_capacity = 0 } },
  { "bus_capacity = 2^30", { "'bus_capacity' must be an integer between 1 and", "(got 1073741824)" },
    opts = { bus_capacity = 2 ^ 30 } },
  { "bus_capacity = -1", { "'bus_capacity' must be an integer", "(got -1)" }, opts = { bus_capacity = -1 } },
  { "bus_capacity = 1.5", { "'bus_capacity' must be an integer", "(got 1.5)" }, opts = { bus_capacity = 1.5 } },
  { "bus_capacity is a string", { "'bus_capacity' must be an integer", "(got \"big\")" },
    opts = { bus_capacity = "big" } },
  { "seed = 1.5", { "'seed' must be an integer", "(got 1.5)" }, opts = { seed = 1.5 } },
  { "seed = NaN", { "'seed' must be an integer", "(got nan)" }, opts = { seed = NAN } },
  { "seed = math.huge", { "'seed' must be an integer", "(got inf)" }, opts = { seed = math.huge } },
  { "seed is a string", { "'seed' must be an integer", "(got \"x\")" }, opts = { seed = "x" } },
  { "defaults is a number", { "'defaults' must be a table (got 5)" }, opts = { defaults = 5 } },
  { "defaults is a string", { "'defaults' must be a table (got \"x\")" }, opts = { defaults = "x" } },
  { "unknown defaults key 'restrat' (near miss)",
    { "unknown option 'defaults.restrat'; did you mean 'defaults.restart'?" },
    opts = { defaults = { restrat = "always" } } },
  { "defaults cannot set a name", { "unknown option 'defaults.name'" }, opts = { defaults = { name = "x" } } },
  { "defaults cannot set run", { "unknown option 'defaults.run'" }, opts = { defaults = { run = noop } } },
  { "defaults.restart unknown", { "defaults: 'restart' must be one of", "(got \"sometimes\")" },
    opts = { defaults = { restart = "sometimes" } } },
  { "defaults.timeout = -1", { "defaults: 'timeout' " .. SECONDS, "(got -1)" },
    opts = { defaults = { timeout = -1 } } },
  { "defaults.interval = NaN", { "defaults: 'interval' " .. SECONDS, "(got nan)" },
    opts = { defaults = { restart = "always", interval = NAN } } },
  { "defaults.max_retries = -1", { "defaults: 'max_retries' must be an integer", "(got -1)" },
    opts = { defaults = { max_retries = -1 } } },
  { "defaults.backoff is a number", { "defaults: 'backoff' must be a table (got 5)" },
    opts = { defaults = { backoff = 5 } } },
  { "defaults.backoff.factor = \"x\"", { "defaults: 'backoff.factor' must be a finite number >= 0 (got \"x\")" },
    opts = { defaults = { backoff = { factor = "x" } } } },
  { "unknown defaults.backoff key (near miss)",
    { "unknown option 'backoff.jiter'; did you mean 'backoff.jitter'?" },
    opts = { defaults = { backoff = { jiter = "full" } } } },
  { "defaults.backoff.jitter unknown", { "defaults: 'backoff.jitter' must be one of", "(got \"wild\")" },
    opts = { defaults = { backoff = { jitter = "wild" } } } },
  { "defaults.interval with restart = \"never\"", { "'interval' only applies to restart = \"always\"" },
    opts = { defaults = { restart = "never", interval = 1 } } },
}

describe("tv.supervisor", function()
  table_driven("tv.supervisor", {
    where = "tv.supervisor",
    call = function(c) return function() tv.supervisor(c.opts) end end,
  }, SUP_CASES)
end)

-- ---- supervisor methods -----------------------------------------------------

local function name_cases(extra_args)
  return {
    { "name is nil", { "'name' must be a non-empty string (got nil)" }, name = nil },
    { "name is a number", { "'name' must be a non-empty string (got 42)" }, name = 42 },
    { "name is a table", { "'name' must be a non-empty string (got table)" }, name = {} },
    { "name is a boolean", { "'name' must be a non-empty string (got true)" }, name = true },
    { "name is a function", { "'name' must be a non-empty string (got function)" }, name = noop },
    { "empty name", { "'name' must be a non-empty string (got \"\")" }, name = "" },
    { "a 300-byte name", { "'name' must be at most 256 bytes (got 300 bytes)" }, name = LONG300 },
    { "a name with a newline", { "'name' must be a string without control characters" }, name = "a\nb" },
  }
end

describe("supervisor methods", function()
  table_driven("sup:remove", {
    where = "sup:remove",
    call = function(c)
      local sup = tv.supervisor()
      return function() sup:remove(c.name) end
    end,
  }, name_cases())

  local cancel_cases = name_cases()
  for _, b in ipairs({
    { "-1", -1, "(got -1)" }, { "NaN", NAN, "(got nan)" }, { "math.huge", math.huge, "(got inf)" },
    { "-math.huge", -math.huge, "(got -inf)" }, { "1e300", 1e300, "(got 1e+300)" },
    { "a string", "1", "(got \"1\")" }, { "a boolean", true, "(got true)" }, { "a table", {}, "(got table)" },
  }) do
    cancel_cases[#cancel_cases + 1] = { "wait = " .. b[1], { "'wait' " .. SECONDS, b[3] }, name = "ghost",
      wait = b[2] }
  end
  table_driven("sup:cancel", {
    where = "sup:cancel",
    call = function(c)
      local sup = tv.supervisor()
      return function() sup:cancel(c.name, c.wait) end
    end,
  }, cancel_cases)

  local SUBSCRIBE = "expected a function or a { name=, on_event=, queue= } table"
  table_driven("sup:subscribe", {
    where = "sup:subscribe",
    call = function(c)
      local sup = tv.supervisor()
      return function() sup:subscribe(c.sub) end
    end,
  }, {
    { "nil", { SUBSCRIBE .. " (got nil)" }, sub = nil },
    { "a number", { SUBSCRIBE .. " (got 3)" }, sub = 3 },
    { "a string", { SUBSCRIBE .. " (got \"x\")" }, sub = "x" },
    { "a boolean", { SUBSCRIBE .. " (got true)" }, sub = true },
    { "an empty table", { "'on_event' must be a function or a callable (got nil)" }, sub = {} },
    { "on_event is a number", { "'on_event' must be a function or a callable (got 3)" }, sub = { on_event = 3 } },
    { "on_event is a string", { "'on_event' must be a function or a callable (got \"f\")" },
      sub = { on_event = "f" } },
    { "on_event is a plain table", { "'on_event' must be a function or a callable (got table)" },
      sub = { on_event = {} } },
    { "unknown key 'nmae' (near miss)", { "unknown option 'nmae'; did you mean 'name'?" },
      sub = { on_event = noop, nmae = "x" } },
    { "unknown key 'on_evnt' (near miss)", { "unknown option 'on_evnt'; did you mean 'on_event'?" },
      sub = { on_evnt = noop } },
    { "unknown key 'qeue' (near miss)", { "unknown option 'qeue'; did you mean 'queue'?" },
      sub = { on_event = noop, qeue = 5 } },
    { "queue = 0", { "'queue' must be an integer between 1 and", "(got 0)" }, sub = { on_event = noop, queue = 0 } },
    { "queue = -1", { "'queue' must be an integer", "(got -1)" }, sub = { on_event = noop, queue = -1 } },
    { "queue = 1.5", { "'queue' must be an integer", "(got 1.5)" }, sub = { on_event = noop, queue = 1.5 } },
    { "queue = 2^30", { "'queue' must be an integer between 1 and", "(got 1073741824)" },
      sub = { on_event = noop, queue = 2 ^ 30 } },
    { "queue = NaN", { "'queue' must be an integer", "(got nan)" }, sub = { on_event = noop, queue = NAN } },
    { "queue is a string", { "'queue' must be an integer", "(got \"big\")" },
      sub = { on_event = noop, queue = "big" } },
    { "name is a number", { "'name' must be a non-empty string (got 42)" }, sub = { on_event = noop, name = 42 } },
    { "empty name", { "'name' must be a non-empty string (got \"\")" }, sub = { on_event = noop, name = "" } },
    { "a 300-byte name", { "'name' must be at most 256 bytes (got 300 bytes)" },
      sub = { on_event = noop, name = LONG300 } },
    { "a name with a newline", { "'name' must be a string without control characters" },
      sub = { on_event = noop, name = "a\nb" } },
  })

  -- `c.call` itself makes the bad call, so the position must be inside it.
  local sup = tv.supervisor()
  table_driven("methods called with '.' instead of ':'", {
    call = function(c) return c.call end,
  }, {
    { "sup.add", { "call it as a method, sup:add(...)" }, where = "sup:add",
      call = function() sup.add(tv.once("x", noop)) end },
    { "sup.remove", { "call it as a method, sup:remove(...)" }, where = "sup:remove",
      call = function() sup.remove("x") end },
    { "sup.cancel", { "call it as a method, sup:cancel(...)" }, where = "sup:cancel",
      call = function() sup.cancel("x") end },
    { "sup.subscribe", { "call it as a method, sup:subscribe(...)" }, where = "sup:subscribe",
      call = function() sup.subscribe(noop) end },
    { "sup.run", { "call it as a method, sup:run(...)" }, where = "sup:run",
      call = function() sup.run({}) end },
  })
end)

-- ---- failures, log writer, sleep --------------------------------------------------

local function failure_cases()
  return {
    { "message is nil", { "'message' must be a string or a number (got nil)" }, args = { nil } },
    { "message is a table", { "'message' must be a string or a number (got table)" }, args = { {} } },
    { "message is a boolean", { "'message' must be a string or a number (got true)" }, args = { true } },
    { "message is a function", { "'message' must be a string or a number (got function)" }, args = { noop } },
    { "exit_code = 1.5", { "'exit_code' must be an integer", "(got 1.5)" }, args = { "m", 1.5 } },
    { "exit_code is a string", { "'exit_code' must be an integer", "(got \"x\")" }, args = { "m", "x" } },
    { "exit_code = NaN", { "'exit_code' must be an integer", "(got nan)" }, args = { "m", NAN } },
    { "exit_code = math.huge", { "'exit_code' must be an integer", "(got inf)" }, args = { "m", math.huge } },
    { "exit_code = 2^31 (out of int32 range)", { "'exit_code' must be an integer", "(got 2147483648)" },
      args = { "m", 2147483648 } },
    { "exit_code is a boolean", { "'exit_code' must be an integer", "(got true)" }, args = { "m", true } },
  }
end

describe("tv.fail / tv.fatal", function()
  table_driven("tv.fail", {
    where = "tv.fail",
    call = function(c) return function() tv.fail(c.args[1], c.args[2]) end end,
  }, failure_cases())
  table_driven("tv.fatal", {
    where = "tv.fatal",
    call = function(c) return function() tv.fatal(c.args[1], c.args[2]) end end,
  }, failure_cases())
end)

describe("tv.log_writer", function()
  table_driven("tv.log_writer", {
    where = "tv.log_writer",
    call = function(c) return function() tv.log_writer(c.opts) end end,
  }, {
    { "opts is a number", { "expected an options table (got 3)" }, opts = 3 },
    { "opts is a string", { "expected an options table (got \"x\")" }, opts = "x" },
    { "opts is a boolean", { "expected an options table (got true)" }, opts = true },
    { "opts is a function", { "expected an options table (got function)" }, opts = noop },
    { "unknown key 'outptu' (near miss)", { "unknown option 'outptu'; did you mean 'output'?" },
      opts = { outptu = io.stdout } },
    { "unknown key 'verbos' (near miss)", { "unknown option 'verbos'; did you mean 'verbose'?" },
      opts = { verbos = true } },
    { "output is a string", { "'output' must be an open file (got \"stdout\")" }, opts = { output = "stdout" } },
    { "output is a number", { "'output' must be an open file (got 1)" }, opts = { output = 1 } },
    { "output is a table", { "'output' must be an open file (got table)" }, opts = { output = {} } },
    { "output is a closed file", { "'output' must be an open file" }, opts = { output = closed_file() } },
    { "empty name", { "'name' must be a non-empty string (got \"\")" }, opts = { name = "" } },
    { "name is a number", { "'name' must be a non-empty string (got 42)" }, opts = { name = 42 } },
    { "a name with a newline", { "'name' must be a string without control characters" }, opts = { name = "a\nb" } },
  })
end)

-- tv.sleep / ctx:sleep are checked inside a running task: each bad call is
-- made there, and its error kept for the assertions.
local SLEEP_BAD = {
  { "-1", -1 }, { "NaN (0/0)", NAN }, { "math.huge", math.huge }, { "-math.huge", -math.huge },
  { "1e300", 1e300 }, { "a non-numeric string", "x" }, { "a table", {} }, { "nil", nil },
  { "a boolean", true },
}

-- Runs `make_call(value)` (returns a function making the bad call) for every
-- SLEEP_BAD value inside one task; returns { [desc] = { ok, err, f } }.
local function in_task(make_call)
  local results = {}
  local sup = tv.supervisor{ grace = 1 }
  assert(sup:add(tv.once("sleeper", function(ctx)
    for _, b in ipairs(SLEEP_BAD) do
      local f = make_call(ctx, b[2])
      local ok, err = pcall(f)
      results[b[1]] = { ok = ok, err = err, f = f }
    end
  end, { timeout = 5 })))
  local ok, err = sup:run()
  assert(ok, err)
  return results
end

describe("tv.sleep / ctx:sleep", function()
  it("tv.sleep outside a supervised coroutine raises, naming tv.sleep, at the caller", function()
    local f = function() tv.sleep(0.01) end
    local err = raised(f)
    check_message(err, "tv.sleep", { "not inside a supervised coroutine" })
    assert.is_nil(position_problem(err, f))
  end)

  for _, which in ipairs({ "tv.sleep", "ctx:sleep" }) do
    local make = which == "tv.sleep"
      and function(_, v) return function() tv.sleep(v) end end
      or function(ctx, v) return function() ctx:sleep(v) end end

    it(which .. " rejects bad durations inside a task, naming " .. which .. " and seconds", function()
      local results = in_task(make)
      for _, b in ipairs(SLEEP_BAD) do
        local r = results[b[1]]
        assert(r, "no result for " .. b[1])
        assert(not r.ok, which .. "(" .. b[1] .. ") did not raise")
        assert.is_string(r.err)
        check_message(r.err, which, { "seconds" })
      end
    end)

    it(which .. ": every bad-duration error points at the caller's line", function()
      local results = in_task(make)
      local problems = {}
      for _, b in ipairs(SLEEP_BAD) do
        local r = results[b[1]]
        if r and not r.ok and type(r.err) == "string" then
          local p = position_problem(r.err, r.f)
          if p then problems[#problems + 1] = b[1] .. ": " .. p end
        end
      end
      assert(#problems == 0, string.format("%d errors are not positioned at the caller:\n  %s", #problems,
        table.concat(problems, "\n  ")))
    end)
  end
end)

-- ---- a rejected call harms nothing ------------------------------------------------

describe("rejected calls", function()
  it("harm nothing already running: the running task completes with the normal events", function()
    local sup = tv.supervisor{ grace = 5 }
    local events = H.collect(sup)
    local ticks = 0
    local rounds, rejected, accepted, not_alive = 0, 0, {}, 0
    local heckled, heckle_accepted = 0, 0
    local nbad = 0

    -- A subscriber that makes bad calls on every event it sees.
    assert(sup:subscribe({ name = "heckler", on_event = function()
      for _, f in ipairs({
        function() sup:subscribe(3) end,
        function() sup:remove(42) end,
        function() sup:add({ name = "victim", run = 42 }) end,
      }) do
        if pcall(f) then heckle_accepted = heckle_accepted + 1 else heckled = heckled + 1 end
      end
    end }))

    local attacker_done = false
    -- The victim runs until the attacker is through (so it is running for
    -- every rejected call), then a little longer.
    assert(sup:add(tv.once("victim", function(ctx)
      repeat
        ctx:sleep(0.005)
        ticks = ticks + 1
      until attacker_done
      ctx:sleep(0.005)
      ticks = ticks + 1
    end)))

    assert(sup:add(tv.once("attacker", function(ctx)
      ctx:sleep(0.005) -- the victim is running now
      local bad = {
        ["sup:add bad run"] = function() sup:add({ name = "victim", run = 42 }) end,
        ["sup:add restrat"] = function() sup:add({ name = "victim", run = noop, restrat = "always" }) end,
        ["sup:add timeout -1"] = function() sup:add({ name = "victim", run = noop, timeout = -1 }) end,
        ["sup:add factor x"] = function() sup:add({ name = "v2", run = noop, backoff = { factor = "x" } }) end,
        ["sup:add number"] = function() sup:add(42) end,
        ["sup:remove(42)"] = function() sup:remove(42) end,
        ["sup:remove('')"] = function() sup:remove("") end,
        ["sup:remove('a\\nb')"] = function() sup:remove("a\nb") end,
        ["sup.remove('victim')"] = function() sup.remove("victim") end,
        ["sup:cancel(42)"] = function() sup:cancel(42) end,
        ["sup:cancel('victim', -1)"] = function() sup:cancel("victim", -1) end,
        ["sup:cancel('victim', nan)"] = function() sup:cancel("victim", NAN) end,
        ["sup:subscribe(3)"] = function() sup:subscribe(3) end,
        ["sup:subscribe{on_event=3}"] = function() sup:subscribe({ on_event = 3 }) end,
        ["sup:subscribe queue 0"] = function() sup:subscribe({ on_event = noop, queue = 0 }) end,
        ["sup:run bad batch"] = function()
          sup:run({ tv.once("fresh", noop), { name = "bad", run = 42 } })
        end,
        ["tv.sleep(-1)"] = function() tv.sleep(-1) end,
        ["ctx:sleep(nan)"] = function() ctx:sleep(NAN) end,
        ["tv.task bad"] = function() tv.task({ name = "victim", run = noop, max_retries = 1.5 }) end,
        ["tv.supervisor bad"] = function() tv.supervisor({ grace = -1 }) end,
      }
      nbad = 0
      for _ in pairs(bad) do nbad = nbad + 1 end
      for _ = 1, 20 do
        rounds = rounds + 1
        for label, f in pairs(bad) do
          if pcall(f) then accepted[#accepted + 1] = label else rejected = rejected + 1 end
        end
        -- operational refusals: nil + code, nothing raised, nothing changed
        local ok, err = sup:remove("ghost")
        assert(ok == nil and tostring(err):match("^ENOENT"), "remove(ghost): " .. tostring(err))
        if not sup:is_alive("victim") then not_alive = not_alive + 1 end
        ctx:sleep(0.002)
      end
      attacker_done = true
    end)))

    local ok, err = sup:run()
    assert.is_true(ok, err)
    assert.are.same({}, accepted)
    assert.are.equal(20, rounds)
    assert.are.equal(20, nbad)
    assert.are.equal(20 * nbad, rejected)
    assert.are.equal(0, not_alive)
    assert.is_true(ticks >= 2)
    assert.are.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "victim"))
    assert.are.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "attacker"))
    assert.are.equal("policy_exhausted_success", H.first(events, "ActorExhausted", "victim").reason)
    assert.are.equal(0, #H.only(events, "fresh"))
    assert.are.equal(0, #H.only(events, "bad"))
    assert.are.equal(0, #H.only(events, "v2"))
    assert.are.equal(0, H.count(events, "TaskRemoveRequested"))
    assert.are.equal(0, H.count(events, "SubscriberPanicked"))
    assert.are.equal(0, heckle_accepted)
    assert.is_true(heckled > 0)
  end)

  it("rejected calls before sup:run() leave the supervisor able to run normally", function()
    local sup = tv.supervisor()
    local events = H.collect(sup)
    for _, f in ipairs({
      function() sup:add({ name = "a", run = 1 }) end,
      function() sup:subscribe(3) end,
      function() sup:remove(42) end,
      function() sup:cancel("a", -1) end,
      function() sup:run({ { name = "a" } }) end,
    }) do
      assert.is_false((pcall(f)))
    end
    assert.are.equal("open", sup:state())
    assert.are.same({}, sup:list())
    local ok, err = sup:run({ tv.once("a", noop) })
    assert.is_true(ok, err)
    assert.are.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "a"))
  end)
end)

-- ---- accepted edge values ------------------------------------------------------

describe("accepted edge values", function()
  it("timeout = 0 means no timeout", function()
    local sup = tv.supervisor()
    local events = H.collect(sup)
    local done = false
    assert(sup:add(tv.task{ name = "t0", restart = "never", timeout = 0, run = function(ctx)
      ctx:sleep(0.05)
      done = true
    end }))
    local ok, err = sup:run()
    assert.is_true(ok, err)
    assert.is_true(done)
    assert.are.equal(0, H.count(events, "TimeoutHit"))
    assert.are.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "t0"))
  end)

  it("timeout = 0 in the supervisor's defaults also means no timeout", function()
    local sup = tv.supervisor{ defaults = { timeout = 0 } }
    local events = H.collect(sup)
    assert(sup:add(tv.once("t0", function(ctx) ctx:sleep(0.03) end)))
    assert.is_true((sup:run()))
    assert.are.equal(0, H.count(events, "TimeoutHit"))
    assert.are.equal(0, H.count(events, "TaskFailed"))
  end)

  it("max_retries = 0 is unlimited: 6 failures in a row, then success", function()
    local sup = tv.supervisor()
    local events = H.collect(sup)
    assert(sup:add(tv.task{ name = "r", max_retries = 0, backoff = { first = 0.001, max = 0.002 },
      run = function(ctx)
        if ctx.attempt <= 6 then error("fail " .. ctx.attempt) end
      end }))
    local ok, err = sup:run()
    assert.is_true(ok, err)
    assert.are.equal(6, H.count(events, "TaskFailed", "r"))
    assert.are.equal(7, H.count(events, "TaskStarting", "r"))
    assert.are.equal(1, H.count(events, "TaskStopped", "r"))
    local ex = H.first(events, "ActorExhausted", "r")
    assert.are.equal("policy_exhausted_success", ex.reason)
    assert.are.equal(7, ex.attempt)
  end)

  it("backoff.factor = 0 is accepted and gives finite delays no longer than 'first'", function()
    local sup = tv.supervisor()
    local events = H.collect(sup)
    assert(sup:add(tv.task{ name = "f0", backoff = { first = 0.01, max = 1, factor = 0 },
      run = function(ctx)
        if ctx.attempt <= 3 then error("again") end
      end }))
    local ok, err = sup:run()
    assert.is_true(ok, err)
    local bs = H.only(events, "f0", "BackoffScheduled")
    assert.are.equal(3, #bs)
    for _, ev in ipairs(bs) do
      assert.is_number(ev.delay_ms)
      assert.is_true(ev.delay_ms >= 0 and ev.delay_ms <= 10, "delay_ms " .. tostring(ev.delay_ms))
      assert.are.equal("failure", ev.backoff_source)
    end
    assert.are.equal(4, H.count(events, "TaskStarting", "f0"))
  end)

  it("grace = 0 is accepted: a task that ends by itself ends cleanly", function()
    local sup = tv.supervisor{ grace = 0 }
    local events = H.collect(sup)
    assert(sup:add(tv.once("g0", function(ctx) ctx:sleep(0.01) end)))
    local ok, err = sup:run()
    assert.is_true(ok, err)
    assert.are.equal(0, H.count(events, "GraceExceeded"))
    assert.are.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, "g0"))
  end)

  it("a 256-byte name is accepted everywhere and carried whole in events", function()
    local sup = tv.supervisor()
    local events = H.collect(sup)
    assert.are.equal(LONG256, tv.task{ name = LONG256, run = noop }.name)
    assert.are.equal(LONG256, tv.once(LONG256, noop).name)
    assert.is_true(sup:subscribe({ name = LONG256, on_event = noop }))
    assert.is_true(sup:add({ name = LONG256, restart = "never", run = function(ctx)
      assert(ctx.name == LONG256)
      ctx:sleep(0.01)
    end }))
    assert.are.same({ LONG256 }, sup:list())
    assert.is_true(sup:contains(LONG256))
    local ok, err = sup:run()
    assert.is_true(ok, err)
    assert.are.same({ "TaskAddRequested", "TaskAdded", "TaskStarting#1", "TaskStopped#1", "ActorExhausted#1",
      "TaskRemoved" }, H.trace(events, LONG256))
    local r, e = sup:remove(LONG256) -- a valid name: an operational answer, not a raise
    assert.is_nil(r)
    assert.is_string(e)
  end)

  it("other boundary values are accepted (callable table run, bus_capacity 1, seed < 0, max_concurrent 0)",
    function()
      local callable = setmetatable({}, { __call = function() end })
      assert.are.equal(callable, tv.task{ name = "c", run = callable }.run)
      local sup = tv.supervisor{ bus_capacity = 1, seed = -1, max_concurrent = 0, grace = 0.5,
        defaults = { restart = "never", backoff = { first = 0, max = 0, factor = 0, jitter = "full" } } }
      local events = H.collect(sup)
      assert.is_true(sup:add({ name = "c", run = callable }))
      assert.is_true((sup:run()))
      assert.are.equal(1, H.count(events, "TaskStopped", "c"))
    end)
end)
