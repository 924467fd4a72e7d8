-- spec/config_errors_spec.lua: config errors an operator reads (issue 14):
-- the host prints them at the user's file:line without the library's frames
-- (an error in user code keeps its whole traceback), and what can be caught
-- before anything runs is: an 'after' naming no task (at sup:run), a bare
-- command string, another tool's option name. Numbers go to the child as
-- strings (cmd, env).
local H = require("helpers")
local P = require("proc_helpers")
local tv = H.tv

local function has(s, sub) return s:find(sub, 1, true) ~= nil end

-- Runs `code` as a script in the host: status, stderr, the script's path
-- (written under a fixed name so the expected text can name it).
local function host(code)
  local path = H.script(code)
  local out, status, err = H.sh(string.format("%q %q", H.host(), path), true)
  os.remove(path)
  return status, err, path, out
end

describe("the host prints a config error", function()
  it("at the line of the call, with no frame of the library", function()
    local status, err, path = host([[
local tv = require("taskvisor")
local sup = tv.supervisor{}
sup:add(tv.task{
  name = "x",
  run = function() end,
  restart = "sometimes",
})
sup:run()
]])
    assert.equal(1, status)
    assert.equal("taskvisor: " .. path .. ":3: tv.task: 'restart' must be one of \"never\", \"on_failure\", "
      .. "\"always\" or a function(outcome) (got \"sometimes\")\nstack traceback:\n\t" .. path
      .. ":3: in main chunk\n\t[C]: in ?\n", err)
  end)

  it("made inside the user's functions: their frames stay, the library's go", function()
    local status, err, path = host([[
local tv = require("taskvisor")
local function web(port)
  local spec = tv.process{ name = "web", cmd = { "true" }, stdot = "null" }
  return spec -- (not a tail call: that would drop this frame, and point at line 7)
end
local sup = tv.supervisor{}
sup:add(web(8080))
]])
    assert.equal(1, status)
    assert.truthy(has(err, "taskvisor: " .. path .. ":3: tv.process: unknown option 'stdot'; did you mean 'stdout'?\n"), err)
    assert.truthy(has(err, path .. ":3: in "), err)
    assert.truthy(has(err, path .. ":7: in main chunk"), err)
    assert.falsy(has(err, "lua/taskvisor"), err)
    assert.falsy(has(err, "[C]: in function 'error'"), err)
  end)

  it("of sup:run at the sup:run line", function()
    local status, err, path = host([[
local tv = require("taskvisor")
local sup = tv.supervisor{}
assert(sup:add(tv.once("web", function() end, { after = { "dbb" } })))
assert(sup:add(tv.once("db", function() end)))
sup:run()
]])
    assert.equal(1, status)
    assert.equal("taskvisor: " .. path .. ":5: sup:run: task 'web' starts after 'dbb', which is not a task of "
      .. "this supervisor ('after' names tasks added before sup:run or in its batch)\nstack traceback:\n\t"
      .. path .. ":5: in main chunk\n\t[C]: in ?\n", err)
  end)

  it("but an error in user code keeps its whole traceback", function()
    local status, err, path = host([[
local tv = require("taskvisor")
local function check(port)
  if port ~= 80 then error("port must be 80") end
end
check(8080)
]])
    assert.equal(1, status)
    assert.truthy(has(err, "taskvisor: " .. path .. ":3: port must be 80\nstack traceback:\n\t[C]: in function 'error'\n\t"
      .. path .. ":3: in local 'check'\n\t" .. path .. ":5: in main chunk\n"), err)
  end)
end)

describe("caught before anything runs", function()
  it("an 'after' naming no task: sup:run raises, in a batch or among the tasks added", function()
    local sup = tv.supervisor{}
    assert(sup:add(tv.once("web", function() end, { after = { "dbb" } })))
    local ok, err = pcall(sup.run, sup, { tv.once("db", function() end) })
    assert.is_false(ok)
    assert.matches("sup:run: task 'web' starts after 'dbb', which is not a task of this supervisor", err)
    assert.same({ "web" }, sup:list()) -- the batch was not added

    local sup2 = tv.supervisor{}
    ok, err = pcall(sup2.run, sup2, { tv.once("db", function() end),
      tv.once("app", function() end, { after = { "db", "cache" } }) })
    assert.is_false(ok)
    assert.matches("sup:run: task 'app' starts after 'cache', which is not a task", err)
    assert.same({}, sup2:list())
  end)

  it("but not a name whose add was refused (reported), nor a group child's (tasks may come later)", function()
    local sup = tv.supervisor{}
    local events = H.collect(sup)
    assert(sup:add(tv.once("app", function() end, { after = { "db" } })))
    assert.is_nil(sup:add(tv.process{ name = "db", cmd = { "no-such-prog-xyz" } }))
    assert(sup:add(tv.group{ name = "g", children = { tv.once("c", function() end, { after = { "later" } }) } }))
    assert(sup:add(tv.once("adder", function(ctx)
      ctx:sleep(0.01)
      assert(sup:add(tv.once("later", function() end)))
    end)))
    assert.is_true(sup:run())
    assert.matches("^dependency 'db' is not running", H.first(events, "ActorDead", "app").reason)
    assert.matches("^ENOENT: program 'no%-such%-prog%-xyz'", H.first(events, "TaskAddFailed", "db").reason)
  end)

  it("a command given as one string gets the shell form as a hint", function()
    local ok, err = pcall(tv.process, { name = "p", cmd = "echo hi" })
    assert.is_false(ok)
    assert.matches("tv.process: 'cmd' must be a non%-empty list of strings %(got \"echo hi\"%); to run it "
      .. "through a shell: cmd = { \"sh\", \"%-c\", \"echo hi\" }$", err)
  end)

  it("another tool's option name gets ours", function()
    for key, ours in pairs({ command = "cmd", argv = "cmd", working_dir = "cwd", environment = "env" }) do
      local ok, err = pcall(tv.process, { name = "p", cmd = { "true" }, [key] = 1 })
      assert.is_false(ok)
      assert.matches("tv.process: unknown option '" .. key .. "'; did you mean '" .. ours .. "'%?$", err)
    end
    local ok, err = pcall(tv.task, { name = "t", run = function() end, depends_on = { "x" } })
    assert.is_false(ok)
    assert.matches("unknown option 'depends_on'; did you mean 'after'%?$", err)
    -- not offered where the option does not exist
    ok, err = pcall(tv.task, { name = "t", run = function() end, command = { "x" } })
    assert.is_false(ok)
    assert.falsy(err:find("did you mean 'cmd'", 1, true), err)
  end)

  it("a tv.process error's known: list names each option once", function()
    local ok, err = pcall(tv.process, { name = "p", cmd = { "true" }, zzzzzzzzzzzz = 1 })
    assert.is_false(ok)
    local known = assert(err:match("known: (.*)$"), err)
    local seen = {}
    for k in known:gmatch("[%w_]+") do
      assert.is_nil(seen[k], "named twice: " .. k)
      seen[k] = true
    end
    assert.is_true(seen.ready and seen.cmd and seen.after and true)
  end)
end)

describe("numbers go to the child as strings", function()
  it("in env and cmd (tostring's text)", function()
    local log = P.tmpname()
    local _, sup = P.run({ tv.process{ name = "p", restart = "never", stdout = log,
      cmd = { "sh", "-c", "echo \"$PORT $0 $1\"", 7, 1.5 }, env = { PORT = 8080 } } })
    assert.equal("completed", sup:outcomes().p.status)
    assert.equal("8080 7 1.5\n", P.read(log))
    os.remove(log)
  end)
end)
