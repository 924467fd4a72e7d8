-- fdlimit_spec: with few free file descriptors, require("taskvisor") and
-- sup:run fail with a clear EMFILE error (or Lua's own), never a crash: the
-- loop, the signal handlers and the reaper check every libuv result.
local H = require("helpers")

local SCRIPT = [[
local tv = require("taskvisor")
local sup = tv.supervisor({ grace = 1 })
assert(sup:add(tv.once("x", function() end)))
assert(sup:add(tv.process({ name = "p", restart = "never", cmd = { "true" } })))
local ok, err = sup:run()
print("RUN", ok, err)
]]

local function has_prlimit()
  local ok = os.execute("command -v prlimit >/dev/null 2>&1")
  return ok == true or ok == 0
end

describe("running out of file descriptors", function()
  it("fails with EMFILE, never a signal, for every limit from 4 to 64", function()
    if not has_prlimit() then pending("prlimit not installed"); return end
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(SCRIPT)
    f:close()
    -- through the host executable, and through stock lua5.4 when the module
    -- loads there (not in a sanitizer build, whose runtime lua5.4 lacks)
    local runners = {}
    if os.getenv("TASKVISOR_HOST") then runners[#runners + 1] = os.getenv("TASKVISOR_HOST") end
    local probe = io.popen("lua5.4 -e 'require(\"taskvisor\")' 2>&1; echo \"STATUS $?\"")
    if probe:read("a"):find("STATUS 0\n", 1, true) then runners[#runners + 1] = "lua5.4" end
    probe:close()
    assert.is_true(#runners >= 1)
    for _, runner in ipairs(runners) do
      local ran = 0
      -- (the child inherits the runner's open fds: which limit is "few" varies)
      for n = 4, 64 do
        -- (LeakSanitizer needs fds of its own at exit: it aborts when there are
        -- none, which says nothing of ours; the other specs check for leaks)
        local env = os.getenv("TASKVISOR_SANITIZED") and "ASAN_OPTIONS=detect_leaks=0 " or ""
        local p = io.popen(string.format("%sprlimit --nofile=%d %s %s 2>&1; echo \"STATUS $?\"", env, n,
                                         runner, script))
        local out = p:read("a")
        p:close()
        local status = tonumber(out:match("STATUS (%d+)\n$"))
        -- 0 (it ran), 1 (an error it reported), 127 (the interpreter itself
        -- could not load its libraries); a signal shows as 128 + n
        assert.is_true(status == 0 or status == 1
          or (status == 127 and out:find("loading shared libraries", 1, true) ~= nil),
          runner .. " nofile=" .. n .. ": status " .. tostring(status) .. "\n" .. out)
        if status == 1 and out:find("taskvisor", 1, true) and not out:find("not found", 1, true) then
          assert.truthy(out:find("EMFILE", 1, true), runner .. " nofile=" .. n .. ": " .. out)
        end
        if status == 0 then ran = ran + 1 end
      end
      assert.is_true(ran >= 1, runner .. " never ran") -- with enough fds it runs
    end
    os.remove(script)
  end)
end)
