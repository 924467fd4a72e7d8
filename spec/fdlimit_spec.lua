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
  it("fails with EMFILE, never a signal, for every limit from 4 to 40", function()
    if not has_prlimit() then pending("prlimit not installed"); return end
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(SCRIPT)
    f:close()
    local ran = 0
    -- (the child inherits the runner's open fds: which limit is "few" varies)
    for n = 4, 40 do
      local p = io.popen(string.format("prlimit --nofile=%d lua5.4 %s 2>&1; echo \"STATUS $?\"", n, script))
      local out = p:read("a")
      p:close()
      local status = tonumber(out:match("STATUS (%d+)\n$"))
      -- 0 (it ran), 1 (an error it reported), 127 (lua5.4 itself could not
      -- load its libraries); a signal shows as 128 + n
      assert.is_true(status == 0 or status == 1 or (status == 127 and out:find("loading shared libraries", 1, true) ~= nil), "nofile=" .. n .. ": status " .. tostring(status) .. "\n" .. out)
      if status == 1 and out:find("taskvisor", 1, true) and not out:find("not found", 1, true) then
        assert.truthy(out:find("EMFILE", 1, true), "nofile=" .. n .. ": " .. out)
      end
      if status == 0 then ran = ran + 1 end
    end
    assert.is_true(ran >= 1) -- with enough fds it runs
    os.remove(script)
  end)
end)
