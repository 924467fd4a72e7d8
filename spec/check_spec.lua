-- check_spec: `taskvisor check CONFIG` (issue 15): a valid config prints its
-- task tree and start order and exits 0, starting nothing; an invalid one
-- prints every error at its file:line and exits 1; `check --help`.
local H = require("helpers")

local function has(s, sub) return s ~= nil and s:find(sub, 1, true) ~= nil end

local function check(code)
  local path = H.script(code)
  local out, status, err = H.sh(string.format("%q check %q", H.host(), path), true)
  os.remove(path)
  return status, out, err, path
end

describe("taskvisor check", function()
  it("prints the tree and the start order of a valid config, and starts nothing", function()
    local marker = os.tmpname()
    os.remove(marker)
    local status, out, err, path = check(string.format([[
local tv = require("taskvisor")
return tv.config{
  tasks = {
    tv.process{ name = "web", cmd = { "sh", "-c", "touch %s" }, after = { "db" } },
    tv.process{ name = "db", cmd = { "sleep", "100" } },
    tv.group{ name = "workers", strategy = "one_for_all", children = {
      tv.task{ name = "a", run = function() end },
      { name = "b", cmd = { "sleep", "1" } },
    } },
  },
}
]], marker))
    assert.equal(0, status, err)
    assert.equal("", err)
    assert.equal(path .. ": ok, 3 top-level tasks\n"
      .. "web  process  after=db  cmd=sh -c touch " .. marker .. "\n"
      .. "db  process  cmd=sleep 100\n"
      .. "workers  group  strategy=one_for_all\n"
      .. "  a  task\n"
      .. "  b  process  cmd=sleep 1\n"
      .. "start order:\n"
      .. "  1. db\n"
      .. "  2. web (after db)\n"
      .. "  3. workers: a, b\n", out)
    assert.is_nil(io.open(marker)) -- web never ran
  end)

  it("prints every error at its file:line and exits 1", function()
    local status, out, err, path = check([[
local tv = require("taskvisor")
return tv.config{
  tasks = {
    tv.process{ name = "web", cmd = { "no-such-program-xyz" } },
    { name = "plain", run = function() end, restart = "sometimes" },
    tv.task{ name = "c", run = function() end, after = { "nothere" } },
  },
}
]])
    assert.equal(1, status)
    assert.equal("", out)
    local lines = {}
    for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(4, #lines, err)
    assert.truthy(has(lines[1], "taskvisor: " .. path .. ":4: tasks[1] (web): ENOENT: program "
      .. "'no-such-program-xyz' not found in PATH"), lines[1])
    assert.equal("taskvisor: " .. path .. ":5: tasks[2] (plain): sup:add: 'restart' must be one of "
      .. "\"never\", \"on_failure\", \"always\" or a function(outcome) (got \"sometimes\")", lines[2])
    assert.equal("taskvisor: " .. path .. ":6: tasks[3] (c): 'after' names 'nothere', which is no "
      .. "task of this config", lines[3])
    assert.equal("taskvisor: " .. path .. ": 3 errors; nothing was started", lines[4])
  end)

  it("an error raised while the file runs keeps the file's line", function()
    local status, out, err, path = check([[
local tv = require("taskvisor")
return tv.config{
  tasks = {
    tv.task{ name = "x", run = function() end, backoff = { factor = "2" } },
  },
}
]])
    assert.equal(1, status)
    assert.truthy(has(err, path .. ":4: tv.task: 'backoff.factor'"), err)
  end)

  it("a script that is no declarative config is told so", function()
    local status, _, err = check("return 42\n")
    assert.equal(1, status)
    assert.truthy(has(err, "does not return a declarative config"), err)
  end)

  it("--help says what it does", function()
    local out, status = H.sh(string.format("%q check --help", H.host()))
    assert.equal(0, status)
    assert.truthy(has(out, "usage: taskvisor check CONFIG"), out)
    assert.truthy(has(out, "file:line"), out)
    out, status = H.sh(string.format("%q help run", H.host()))
    assert.equal(0, status)
    assert.truthy(has(out, "usage: taskvisor run "), out)
    assert.truthy(has(out, " CONFIG"), out)
  end)

  it("run / check read their options before or after CONFIG; other words after it are the config's", function()
    local parse = require("taskvisor.cli").parse
    local known = { name = "NAME", control = "PATH", json = "flag" }
    local opts, config, rest = parse("run", { "a.lua", "--control", "/s", "x", "--name=n", "--other", "y" }, known)
    assert.same({ control = "/s", name = "n" }, opts)
    assert.equal("a.lua", config)
    assert.same({ "x", "--other", "y" }, rest)
    opts, config, rest = parse("run", { "--name", "n", "a.lua", "--", "--control", "/s" }, known)
    assert.same({ name = "n" }, opts)
    assert.same({ "--control", "/s" }, rest)
    opts, config, rest = parse("run", { "--", "a.lua", "--json" }, known)
    assert.same({}, opts)
    assert.same({ "--json" }, rest)
    local ok, e = parse("run", { "--other", "a.lua" }, known)
    assert.is_nil(ok)
    assert.equal("run: unknown option '--other' (see 'taskvisor help run')", e)
    ok, e = parse("run", { "a.lua", "--control" }, known)
    assert.is_nil(ok)
    assert.equal("run: '--control' needs a value (PATH)", e)
    ok, e = parse("run", { "a.lua", "--json=1" }, known)
    assert.is_nil(ok)
    assert.equal("run: '--json' takes no value", e)
    ok, e = parse("run", { "--name", "n" }, known)
    assert.is_nil(ok)
    assert.truthy(has(e, "missing CONFIG"), e)
  end)
end)
