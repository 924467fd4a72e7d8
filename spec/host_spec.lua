-- spec/host_spec.lua: the taskvisor executable: options (-v, -h, -e, -, --),
-- `arg` and `...` as lua5.4 sets them, exit statuses (0 clean, 1 script error,
-- 2 grace exceeded, os.exit codes), and its built-in modules and exported Lua API.
local H = require("helpers")
local tv = H.tv

local HOST = H.host()

-- Single-quotes a string for /bin/sh.
local function sq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Runs the host with an argument string; returns stdout, status, stderr.
local function host(args, prefix)
  return H.sh((prefix or "") .. sq(HOST) .. " " .. (args or ""), true)
end

-- Writes `code` to a temp script, runs `host <script> <args>`; returns
-- stdout, status, stderr, script path (removed afterwards).
local function run_script(code, args, prefix, opts)
  local path = H.script(code)
  local out, status, err = host(((opts or "") .. " " .. sq(path) .. " " .. (args or "")), prefix)
  os.remove(path)
  return out, status, err, path
end

local function has(s, sub) return s:find(sub, 1, true) ~= nil end
local function starts(s, prefix) return s:sub(1, #prefix) == prefix end

describe("taskvisor host options", function()
  it("-v prints 'taskvisor VERSION (Lua 5.4.x, libuv x.y.z)' and exits 0", function()
    local out, status, err = host("-v")
    assert.are.equal(0, status, err)
    local v, lua, uv = out:match("^taskvisor (%d+%.%d+%.%d+) %(Lua (5%.4%.%d+), libuv (%d+%.%d+%.%d+)%)\n$")
    assert(v, "unexpected -v output: " .. out)
    assert.are.equal(tv.version, v)
    assert.is_truthy(lua and uv)
    assert.are.equal("", err)
  end)

  it("--version is the same as -v", function()
    local out1 = host("-v")
    local out2, status = host("--version")
    assert.are.equal(0, status)
    assert.are.equal(out1, out2)
  end)

  it("-h prints the usage on stdout and exits 0", function()
    local out, status, err = host("-h")
    assert.are.equal(0, status)
    assert.is_truthy(has(out, "usage: taskvisor [options] [script [args...]]"), out)
    for _, opt in ipairs({ "-e", "-v", "-h", "-  " }) do
      assert.is_truthy(has(out, "\n  " .. opt), "usage does not describe " .. opt .. ":\n" .. out)
    end
    assert.are.equal("", err)
  end)

  it("no arguments print the usage on stderr and exit 1", function()
    local out, status, err = host("")
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.is_truthy(has(err, "usage: taskvisor"), err)
  end)

  it("an unknown option exits 1 naming it, and runs nothing", function()
    local marker = os.tmpname()
    os.remove(marker)
    local out, status, err = run_script(string.format("io.open(%q, 'w'):close()", marker), "", nil, "-x")
    assert.are.equal(1, status)
    assert.is_truthy(has(err, "'-x'"), err)
    assert.are.equal("", out)
    assert.is_nil(io.open(marker), "the script ran despite the bad option")

    local _, status2, err2 = host("--bogus")
    assert.are.equal(1, status2)
    assert.is_truthy(has(err2, "'--bogus'"), err2)
  end)

  it("-e without its argument exits 1 naming -e", function()
    local out, status, err = host("-e")
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.is_truthy(has(err, "-e"), err)
  end)

  it("-e runs code, is repeatable, and runs in order before the script", function()
    local out, status, err = run_script('io.write("script:", x, "\\n")', "",
      nil, "-e " .. sq('x = "a"; io.write("e1\\n")') .. " -e " .. sq('x = x .. "b"; io.write("e2\\n")'))
    assert.are.equal(0, status, err)
    assert.are.equal("e1\ne2\nscript:ab\n", out)
  end)

  it("-e alone (no script) runs the code and exits 0; -ecode is accepted too", function()
    local out, status, err = host("-e " .. sq('io.write("only e")'))
    assert.are.equal(0, status, err)
    assert.are.equal("only e", out)
    local out2, status2 = host(sq('-eio.write("glued")'))
    assert.are.equal(0, status2)
    assert.are.equal("glued", out2)
  end)

  it("-e code that raises exits 1 with the message, and the script does not run", function()
    local out, status, err = run_script('io.write("script ran")', "", nil, "-e " .. sq('error("boom")'))
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.is_truthy(starts(err, "taskvisor: (command line):1: boom"), err)
  end)

  it("-- ends the options: what follows the script goes to the script", function()
    local out, status, err = run_script('io.write(table.concat({...}, ","))', "-v -h", nil, "--")
    assert.are.equal(0, status, err)
    assert.are.equal("-v,-h", out)
  end)
end)

describe("taskvisor host: arg and ...", function()
  local SHOW = [[
local out = {}
for i = -3, #arg do out[#out + 1] = i .. "=" .. tostring(arg[i]) end
out[#out + 1] = "#arg=" .. #arg
out[#out + 1] = "n=" .. select("#", ...)
out[#out + 1] = "...=" .. table.concat({ ... }, "|")
io.write(table.concat(out, "\n"), "\n")
]]

  it("the script gets arg[0] = script, arg[1..n] = args, arg[-1] = the host, and ... = the args", function()
    local path = H.script(SHOW)
    local out, status, err = host(sq(path) .. " a " .. sq("b c") .. " ''")
    os.remove(path)
    assert.are.equal(0, status, err)
    local expected = table.concat({
      "-3=nil", "-2=nil", "-1=" .. HOST, "0=" .. path, "1=a", "2=b c", "3=",
      "#arg=3", "n=3", "...=a|b c|",
    }, "\n") .. "\n"
    assert.are.equal(expected, out)
  end)

  it("arg is laid out exactly as lua5.4 lays it out (with and without -e before the script)", function()
    local path = H.script(SHOW)
    for _, opts in ipairs({ "", "-e " .. sq("x = 1") }) do
      local args = opts .. " " .. sq(path) .. " one " .. sq("two words")
      local hout, hstatus = H.sh(sq(HOST) .. " " .. args, true)
      local lout, lstatus = H.sh(sq(H.lua()) .. " " .. args, true)
      assert.are.equal(0, hstatus)
      assert.are.equal(0, lstatus)
      -- the only difference: the interpreter's own path
      local hnorm = hout:gsub(HOST:gsub("%p", "%%%0"), "<interp>")
      local lnorm = lout:gsub(H.lua():gsub("%p", "%%%0"), "<interp>")
      assert.are.equal(lnorm, hnorm)
    end
    os.remove(path)
  end)

  it("'-' reads the script from stdin; its arguments follow", function()
    local cmd = "printf '%s' " .. sq(SHOW) .. " | " .. sq(HOST) .. " - x y"
    local out, status, err = H.sh(cmd, true)
    assert.are.equal(0, status, err)
    assert.is_truthy(has(out, "\n0=-\n1=x\n2=y\n#arg=2\nn=2\n...=x|y\n"), out)
  end)

  it("an error in a script read from stdin is reported as stdin:<line>", function()
    local cmd = "printf '%s' " .. sq("local a = 1\nerror('from stdin')\n") .. " | " .. sq(HOST) .. " -"
    local out, status, err = H.sh(cmd, true)
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.is_truthy(starts(err, "taskvisor: stdin:2: from stdin"), err)
  end)
end)

describe("taskvisor host: exit statuses", function()
  it("a script error prints 'taskvisor: <file>:<line>: <msg>' and a traceback to stderr, exits 1", function()
    local out, status, err, path = run_script("local x = 1\nio.write('before')\nerror('bad config')\n")
    assert.are.equal(1, status)
    assert.are.equal("before", out)
    assert.is_truthy(starts(err, "taskvisor: " .. path .. ":3: bad config\n"), err)
    assert.is_truthy(has(err, "stack traceback:"), err)
  end)

  it("a non-string error object is reported, exit 1", function()
    local _, status, err = run_script("error({})")
    assert.are.equal(1, status)
    assert.is_truthy(has(err, "(error object is a table value)"), err)
    local _, status2, err2 = run_script("error(setmetatable({}, { __tostring = function() return 'custom obj' end }))")
    assert.are.equal(1, status2)
    assert.is_truthy(has(err2, "custom obj"), err2)
  end)

  it("a script that errors at top level after sup:run() still exits 1", function()
    local code = [[
local tv = require("taskvisor")
local sup = tv.supervisor{ grace = 1 }
sup:add(tv.once("a", function(ctx) ctx:sleep(0.01) end))
print("run:", sup:run())
error("after run")
]]
    local out, status, err, path = run_script(code)
    assert.are.equal(1, status)
    assert.is_truthy(has(out, "run:\ttrue"), out)
    assert.is_truthy(starts(err, "taskvisor: " .. path .. ":5: after run"), err)
    assert.is_truthy(has(err, "stack traceback:"), err)
  end)

  it("a syntax error exits 1 naming the file and line", function()
    local out, status, err, path = run_script("local ok = 1\nlocal x = = 1\n")
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.is_truthy(starts(err, "taskvisor: " .. path .. ":2:"), err)
    assert.is_truthy(has(err, "near '='"), err)
  end)

  it("a missing script file exits 1 naming it", function()
    local _, status, err = host(sq("/nonexistent/dir/config.lua"))
    assert.are.equal(1, status)
    assert.is_truthy(has(err, "/nonexistent/dir/config.lua"), err)
  end)

  it("a config whose sup:run() ends in GraceExceeded exits 2", function()
    local code = [[
local tv = require("taskvisor")
local sup = tv.supervisor{ grace = 0.1 }
sup:add(tv.task{ name = "stuck", run = function(ctx)
  while true do ctx:sleep(1) end  -- ignores cancellation
end })
sup:add(tv.once("stopper", function(ctx) ctx:sleep(0.05); sup:shutdown() end))
local ok, err, stuck = sup:run()
print("run:", ok, err, stuck and table.concat(stuck, ","))
]]
    local out, status, err = run_script(code)
    assert.are.equal(2, status, err)
    assert.is_truthy(has(out, "run:\tnil\tGraceExceeded:"), out)
    assert.is_truthy(has(out, "stuck"), out)
    assert.are.equal("", err)
  end)

  it("a clean config exits 0, printing its events", function()
    local code = [[
local tv = require("taskvisor")
local sup = tv.supervisor{ grace = 1 }
sup:subscribe(tv.log_writer())
sup:add(tv.once("hello", function(ctx) ctx:sleep(0.01) end))
assert(sup:run())
]]
    local out, status, err = run_script(code)
    assert.are.equal(0, status, err)
    assert.are.equal("", err)
    for _, line in ipairs({ "[task-add-requested] task=hello", "[starting] task=hello attempt=1",
      "[stopped] task=hello", "[task-removed] task=hello" }) do
      assert.is_truthy(has(out, line), "missing " .. line .. " in:\n" .. out)
    end
  end)

  it("a task that keeps failing is not a script error: exit 0", function()
    local code = [[
local tv = require("taskvisor")
local sup = tv.supervisor{ grace = 1 }
sup:add(tv.task{ name = "flaky", max_retries = 1, backoff = { first = 0.001 },
  run = function() error("task boom") end })
print("run:", sup:run())
]]
    local out, status, err = run_script(code)
    assert.are.equal(0, status, err)
    assert.is_truthy(has(out, "run:\ttrue"), out)
  end)

  it("os.exit(3) from a task exits 3 (buffered output flushed)", function()
    local code = [[
local tv = require("taskvisor")
local sup = tv.supervisor{ grace = 1 }
sup:add(tv.once("quitter", function(ctx)
  ctx:sleep(0.01)
  io.write("before exit")
  os.exit(3)
end))
sup:run()
io.write("not reached")
]]
    local out, status = run_script(code)
    assert.are.equal(3, status)
    assert.are.equal("before exit", out)
  end)

  it("SIGTERM during sup:run() shuts down gracefully and exits 0", function()
    local marker = os.tmpname()
    os.remove(marker)
    local path = H.script(string.format([[
local tv = require("taskvisor")
local sup = tv.supervisor{ grace = 5 }
sup:subscribe(tv.log_writer{ verbose = true })
sup:add(tv.task{ name = "long", run = function(ctx)
  io.open(%q, "w"):close()   -- tells the test that sup:run() is under way
  ctx:sleep(30)
end })
print("run:", sup:run())
]], marker))
    -- signal only once the task runs (no race with the host's startup)
    local cmd = string.format("( %s %s & pid=$!; i=0; while [ ! -e %s ] && [ $i -lt 3000 ]; do sleep 0.01; "
      .. "i=$((i+1)); done; kill -TERM $pid; wait $pid )", sq(HOST), sq(path), sq(marker))
    local out, status, err = H.sh(cmd, true)
    os.remove(path)
    local started = os.remove(marker)
    assert.is_truthy(started, "the task never started")
    assert.are.equal(0, status, err)
    assert.is_truthy(has(out, "[shutdown-requested]"), out)
    assert.is_truthy(has(out, "SIGTERM"), out)
    assert.is_truthy(has(out, "[all-stopped-within-grace]"), out)
    assert.is_truthy(has(out, "run:\ttrue"), out)
  end)
end)

describe("taskvisor host: built-in modules and exported Lua API", function()
  local CONFIG = [[
local tv = require("taskvisor")
assert(require("taskvisor.validate") and require("taskvisor.log_writer"))
local sup = tv.supervisor{ grace = 1 }
local seen = {}
sup:subscribe(function(ev) seen[#seen + 1] = ev.kind end)
sup:add(tv.once("builtin", function(ctx) ctx:sleep(0.01) end))
assert(sup:run())
print("version=" .. tv.version .. " events=" .. table.concat(seen, ","))
]]
  local EXPECTED = "events=TaskAddRequested,TaskAdded,TaskStarting,TaskStopped,ActorExhausted,TaskRemoved\n"

  it("require('taskvisor') works with no LUA_PATH / LUA_CPATH set (from /)", function()
    local path = H.script(CONFIG)
    local out, status, err = H.sh("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 "
      .. sq(HOST) .. " " .. sq(path), true)
    os.remove(path)
    assert.are.equal(0, status, err)
    assert.are.equal("version=" .. tv.version .. " " .. EXPECTED, out)
  end)

  it("require('taskvisor') works even when LUA_PATH / LUA_CPATH point nowhere", function()
    local path = H.script(CONFIG)
    local out, status, err = H.sh("cd / && env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 "
      .. "LUA_PATH='/nonexistent/?.lua' LUA_CPATH='/nonexistent/?.so' " .. sq(HOST) .. " " .. sq(path), true)
    os.remove(path)
    assert.are.equal(0, status, err)
    assert.are.equal("version=" .. tv.version .. " " .. EXPECTED, out)
  end)

  -- lfs (a dependency of busted) is a stock C module built against lua5.4:
  -- loading it proves the host exports the Lua API.
  local lfs_so = package.searchpath("lfs", "/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;/usr/lib/lua/5.4/?.so;"
    .. "/usr/local/lib/lua/5.4/?.so;" .. package.cpath)
  local lfs_it = lfs_so and it or pending
  lfs_it("loads a stock C module (lfs) built for lua5.4, which uses the exported Lua API", function()
    local dir = lfs_so:match("^(.*)/[^/]+$")
    local code = 'local lfs = require("lfs"); io.write(lfs._VERSION, " ", lfs.attributes("/", "mode"), " ", '
      .. 'package.searchpath("lfs", package.cpath))'
    local out, status, err = H.sh("cd / && env -u LUA_PATH -u LUA_CPATH_5_4 LUA_CPATH=" .. sq(dir .. "/?.so")
      .. " " .. sq(HOST) .. " -e " .. sq(code), true)
    assert.are.equal(0, status, err)
    assert.is_truthy(out:match("^LuaFileSystem %S+ directory "), out)
    assert.is_truthy(has(out, lfs_so), out)
  end)
end)
