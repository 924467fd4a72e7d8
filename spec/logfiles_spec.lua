-- logfiles_spec.lua: a process's log file options beyond size rotation
-- (issue 19.9): per-line timestamps, compressed rotations, time rotation.
local H = require("helpers")
local tv = H.tv

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

describe("log files", function()
  it("timestamps = true: every line of the file starts with its UTC time; compress = true gzips the rotated ones", function()
    local dir = tmpdir()
    local log = dir .. "/out.log"
    local sup = tv.supervisor({ grace = 5 })
    assert(sup:add(tv.process{ name = "p", restart = "never",
      cmd = { "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done" },
      stdout = { file = log, max_bytes = 2000, backups = 3, timestamps = true, compress = true } }))
    assert(sup:add(tv.once("stop", function()
      sup:wait("p")
      H.wait_for(function() return read(log .. ".1.gz") ~= nil end, 30) -- compressed off the loop
      sup:shutdown()
    end)))
    assert.is_true(sup:run())
    local now = read(log)
    for line in now:gmatch("[^\n]+") do
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ line %d+$", line)
    end
    assert.matches("line 199\n$", now)
    assert.is_nil(read(log .. ".1")) -- (the raw rotated file is gone once compressed)
    -- How many rotations there were depends on how soon each compression
    -- ended (the file grows past max_bytes meanwhile). However many: the
    -- rotated files, oldest first, then the current one hold every line once,
    -- in order, each with its time.
    local all = {}
    for i = 3, 1, -1 do
      local gz = log .. "." .. i .. ".gz"
      if read(gz) then all[#all + 1] = H.sh(string.format("zcat %q", gz)) else all[#all + 1] = read(log .. "." .. i) or "" end
    end
    all[#all + 1] = now
    local n = 0
    for line in table.concat(all):gmatch("[^\n]+") do
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT[%d:.]+Z line " .. n .. "$", line)
      n = n + 1
    end
    assert.equal(200, n)
    os.execute("rm -rf " .. dir)
  end)

  it("rejects what the options cannot mean, naming the field", function()
    local function refused(stdout, pattern)
      local ok, err = pcall(tv.process, { name = "x", cmd = { "true" }, stdout = stdout })
      assert.is_false(ok)
      assert.matches(pattern, err)
    end
    refused({ file = "/tmp/x.log", timestamps = "yes" }, "'stdout.timestamps'")
    refused({ file = "/tmp/x.log", compress = true }, "'stdout.compress' needs rotation")
    refused({ file = "/tmp/x.log", rotate_every = "monthly" }, "'stdout.rotate_every' must be")
    refused({ file = "/tmp/x.log", rotate_every = 10 }, "from 60 s to 31 days")
    refused({ events = true, timestamps = true }, "need 'stdout.file'")
    local spec = tv.process{ name = "x", cmd = { "true" }, stdout = { file = "/tmp/x.log", rotate_every = "daily", compress = true } }
    assert.equal(86400, spec.process.stdout.rotate_every)
    assert.equal(5, spec.process.stdout.backups)
  end)
end)
