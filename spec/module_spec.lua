-- spec/module_spec.lua: taskvisor as a module for stock lua5.4 (the public
-- surface, core.so not linked to liblua) and the install layout that
-- `cmake --install` produces (lua5.4 and the installed host both use it).
local H = require("helpers")
local tv = H.tv

-- Under the sanitizer build the specs run through the ASan host, and the
-- ASan-built core.so cannot be loaded by a stock lua5.4: those tests are skipped.
local SANITIZED = os.getenv("TASKVISOR_SANITIZED")
local SKIP_WHY = "skipped: TASKVISOR_SANITIZED is set, and an ASan-built core.so cannot load in stock lua5.4"
if SANITIZED then io.stderr:write("module_spec: lua5.4-based tests " .. SKIP_WHY .. "\n") end
local function lua_it(desc, fn)
  if SANITIZED then
    pending(desc .. " (" .. SKIP_WHY .. ")")
  else
    it(desc, fn)
  end
end

local function sq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function has(s, sub) return s:find(sub, 1, true) ~= nil end
local function realpath(p)
  local out, status = H.sh("realpath " .. sq(p))
  assert(status == 0, "realpath " .. p .. ": " .. out)
  return (out:gsub("\n$", ""))
end

local MODULE = realpath(assert(os.getenv("TASKVISOR_MODULE"), "TASKVISOR_MODULE not set"))
local LUA = H.lua()
local HOST = H.host()
-- The build the module belongs to: <build>/lib/taskvisor/core.so.
local BUILD = assert(MODULE:match("^(.*)/lib/taskvisor/[^/]+$"), "unexpected module path " .. MODULE)
-- The source tree: this file is <src>/spec/module_spec.lua.
local SRCDIR = debug.getinfo(1, "S").source:sub(2):match("^(.-)/?spec/[^/]+$")
SRCDIR = realpath(SRCDIR == "" and "." or SRCDIR)

-- Runs `lua5.4 -e code` from / with exactly these search paths (nothing else).
local function lua_with(path, cpath, code)
  return H.sh("cd / && env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 LUA_PATH=" .. sq(path) .. " LUA_CPATH="
    .. sq(cpath) .. " " .. sq(LUA) .. " -e " .. sq(code), true)
end

-- A one-shot task run; prints its event kinds and where the modules came from.
local ONE_SHOT = [[
local tv = require("taskvisor")
local sup = tv.supervisor{ grace = 1 }
local seen = {}
sup:subscribe(function(ev) seen[#seen + 1] = ev.kind .. (ev.attempt and ("#" .. ev.attempt) or "") end)
assert(sup:add(tv.once("oneshot", function(ctx) ctx:sleep(0.01) end)))
assert(sup:run())
print("events=" .. table.concat(seen, ","))
print("init=" .. package.searchpath("taskvisor", package.path))
print("core=" .. package.searchpath("taskvisor.core", package.cpath))
]]
local ONE_SHOT_EVENTS = "events=TaskAddRequested,TaskAdded,TaskStarting#1,TaskStopped#1,ActorExhausted#1,TaskRemoved\n"
local function starts_with_events(out)
  return out:sub(1, #ONE_SHOT_EVENTS) == ONE_SHOT_EVENTS
end

describe("require('taskvisor') in stock lua5.4", function()
  local SRC_PATH = SRCDIR .. "/lua/?.lua;" .. SRCDIR .. "/lua/?/init.lua"
  local SRC_CPATH = BUILD .. "/lib/?.so"

  lua_it("exposes supervisor, task, once, restartable, fail, fatal, sleep, log_writer, version, EVENT_KINDS",
    function()
      local code = [[
local tv = require("taskvisor")
for _, k in ipairs({ "supervisor", "task", "once", "restartable", "fail", "fatal", "sleep", "log_writer",
    "version", "EVENT_KINDS" }) do
  io.write(k, "=", type(tv[k]), "\n")
end
io.write("value_of_version=", tv.version, "\n")
local kinds = {}
for _, k in ipairs(tv.EVENT_KINDS) do kinds[#kinds + 1] = k end
table.sort(kinds)
io.write("kinds=", table.concat(kinds, ","), "\n")
io.write("core=", package.searchpath("taskvisor.core", package.cpath), "\n")
]]
      local out, status, err = lua_with(SRC_PATH, SRC_CPATH, code)
      assert.are.equal(0, status, err)
      for _, k in ipairs({ "supervisor", "task", "once", "restartable", "fail", "fatal", "sleep", "log_writer" }) do
        assert.is_truthy(has(out, "\n" .. k .. "=function\n") or out:sub(1, #k + 10) == k .. "=function\n",
          k .. " is not a function:\n" .. out)
      end
      assert.is_truthy(has(out, "\nversion=string\n"), out)
      assert.is_truthy(has(out, "\nEVENT_KINDS=table\n"), out)
      assert.are.equal(tv.version, out:match("\nvalue_of_version=([^\n]*)\n"))
      assert.is_truthy(tv.version:match("^%d+%.%d+%.%d+$"), tv.version)
      local kinds = out:match("\nkinds=([^\n]*)\n")
      for _, k in ipairs({ "TaskAddRequested", "TaskAdded", "TaskAddFailed", "TaskStarting", "TaskStopped",
        "TaskFailed", "TimeoutHit", "BackoffScheduled", "ActorExhausted", "ActorDead", "TaskRemoveRequested",
        "TaskRemoved", "ShutdownRequested", "AllStoppedWithinGrace", "GraceExceeded", "SubscriberOverflow",
        "SubscriberPanicked" }) do
        assert.is_truthy(has("," .. kinds .. ",", "," .. k .. ","), "EVENT_KINDS lacks " .. k .. ": " .. kinds)
      end
      -- the module under test is the one this run was configured with
      assert.are.equal(realpath(MODULE), realpath(out:match("\ncore=([^\n]*)\n")))
    end)

  lua_it("runs a one-shot task in stock lua5.4 with the exact event sequence", function()
    local out, status, err = lua_with(SRC_PATH, SRC_CPATH, ONE_SHOT)
    assert.are.equal(0, status, err)
    assert.is_truthy(starts_with_events(out), out)
  end)
end)

describe("the module file (core.so)", function()
  it("does not link liblua (lua5.4 provides the Lua API): readelf -d shows no liblua NEEDED", function()
    local out, status, err = H.sh("readelf -d " .. sq(MODULE), true)
    assert.are.equal(0, status, err)
    local needed = {}
    for lib in out:gmatch("%(NEEDED%)%s+Shared library: %[([^%]]+)%]") do needed[#needed + 1] = lib end
    assert.is_true(#needed > 0, "readelf found no NEEDED entries at all:\n" .. out)
    for _, lib in ipairs(needed) do
      assert.is_falsy(lib:lower():find("lua"), "core.so links " .. lib)
    end
  end)

  it("leaves the Lua API symbols undefined, for the interpreter to provide", function()
    local out, status, err = H.sh("nm -D --undefined-only " .. sq(MODULE), true)
    assert.are.equal(0, status, err)
    assert.is_truthy(out:match("%f[%w_]lua_pushstring%f[^%w_]") or out:match("%f[%w_]lua_settop%f[^%w_]"), out)
    local defined = H.sh("nm -D --defined-only " .. sq(MODULE))
    assert.is_falsy(defined:match(" T lua_newstate\n"), "core.so defines lua_newstate: liblua is linked in")
    assert.is_truthy(defined:match(" T luaopen_taskvisor_core\n"), "core.so does not export luaopen_taskvisor_core")
  end)
end)

describe("cmake --install", function()
  local prefix, manifest_existed
  local MANIFEST = BUILD .. "/install_manifest.txt"
  local install_out, install_status

  lazy_setup(function()
    manifest_existed = io.open(MANIFEST) ~= nil
    if manifest_existed then io.open(MANIFEST):close() end
    prefix = assert(H.sh("mktemp -d /tmp/tv-install.XXXXXX"):match("^(%S+)\n"))
    install_out, install_status = H.sh("cmake --install " .. sq(BUILD) .. " --prefix " .. sq(prefix))
  end)

  lazy_teardown(function()
    if prefix and prefix:match("^/tmp/") then H.sh("rm -rf " .. sq(prefix)) end
    -- cmake --install writes install_manifest.txt into the build; leave the build as we found it
    if not manifest_existed then os.remove(MANIFEST) end
  end)

  local FILES = {
    "bin/taskvisor",
    "lib/lua/5.4/taskvisor/core.so",
    "share/lua/5.4/taskvisor/init.lua",
    "share/lua/5.4/taskvisor/validate.lua",
    "share/lua/5.4/taskvisor/log_writer.lua",
  }

  it("installs bin/taskvisor, lib/lua/5.4/taskvisor/core.so and share/lua/5.4/taskvisor/*.lua", function()
    assert.are.equal(0, install_status, install_out)
    for _, f in ipairs(FILES) do
      local fh = io.open(prefix .. "/" .. f)
      assert(fh, "not installed: " .. f .. "\n" .. install_out)
      fh:close()
    end
    local _, xstatus = H.sh("test -x " .. sq(prefix .. "/bin/taskvisor"))
    assert.are.equal(0, xstatus, "bin/taskvisor is not executable")
    -- the installed Lua files are the sources
    for _, f in ipairs({ "init.lua", "validate.lua", "log_writer.lua" }) do
      local _, same = H.sh("cmp -s " .. sq(SRCDIR .. "/lua/taskvisor/" .. f) .. " "
        .. sq(prefix .. "/share/lua/5.4/taskvisor/" .. f))
      assert.are.equal(0, same, f .. " differs from the source")
    end
  end)

  it("installs binaries that do not point back into the build tree (no RUNPATH into it)", function()
    for _, f in ipairs({ "bin/taskvisor", "lib/lua/5.4/taskvisor/core.so" }) do
      local out = H.sh("readelf -d " .. sq(prefix .. "/" .. f))
      assert.is_falsy(has(out, BUILD), f .. " refers to the build dir:\n" .. out)
      for lib in out:gmatch("%(NEEDED%)%s+Shared library: %[([^%]]+)%]") do
        if f:match("core%.so$") then assert.is_falsy(lib:lower():find("lua"), f .. " links " .. lib) end
      end
    end
  end)

  -- lua5.4's own default search paths, with /usr/local/ rebased onto the prefix:
  -- this is "where lua5.4 looks" after a default (/usr/local) install.
  local function rebased_defaults()
    local out = H.sh("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 " .. sq(LUA)
      .. " -e " .. sq('io.write(package.path, "\\n", package.cpath, "\\n")'))
    local path, cpath = out:match("^([^\n]*)\n([^\n]*)\n")
    local function rebase(list)
      local keep = {}
      for entry in list:gmatch("[^;]+") do
        if entry:sub(1, 11) == "/usr/local/" then keep[#keep + 1] = prefix .. "/" .. entry:sub(12) end
      end
      return table.concat(keep, ";")
    end
    return rebase(path), rebase(cpath)
  end

  lua_it("lets lua5.4 (searching the install dirs only) require taskvisor and run a one-shot task", function()
    assert.are.equal(0, install_status, install_out)
    local path, cpath = rebased_defaults()
    assert.is_truthy(has(path, prefix .. "/share/lua/5.4/?.lua"), path)
    assert.is_truthy(has(cpath, prefix .. "/lib/lua/5.4/?.so"), cpath)
    local out, status, err = lua_with(path, cpath, ONE_SHOT)
    assert.are.equal(0, status, err)
    assert.is_truthy(starts_with_events(out), out)
    -- and it used the installed files, not the source tree or the build
    assert.are.equal(prefix .. "/share/lua/5.4/taskvisor/init.lua", out:match("\ninit=([^\n]*)\n"))
    assert.are.equal(prefix .. "/lib/lua/5.4/taskvisor/core.so", out:match("\ncore=([^\n]*)\n"))
  end)

  it("the installed host runs a config with no environment at all", function()
    assert.are.equal(0, install_status, install_out)
    local config = H.script(ONE_SHOT:gsub('print%("init=.-\n', ""):gsub('print%("core=.-\n', "")
      .. 'print("preloaded=" .. tostring(package.preload["taskvisor"] ~= nil))\n')
    local out, status, err = H.sh("cd / && env -i " .. sq(prefix .. "/bin/taskvisor") .. " " .. sq(config), true)
    os.remove(config)
    assert.are.equal(0, status, err)
    assert.is_truthy(starts_with_events(out), out)
    assert.is_truthy(has(out, "preloaded=true"), out)
    local vout, vstatus = H.sh("env -i " .. sq(prefix .. "/bin/taskvisor") .. " -v")
    assert.are.equal(0, vstatus)
    assert.are.equal(H.sh(sq(HOST) .. " -v"), vout)
  end)
end)
