-- spec/observe_helpers.lua: a real host (`taskvisor run`) for the observe
-- specs: start it on a config in a fresh directory, talk to its control
-- socket or its --http listener with curl, wait for what it shows, stop it.
local H = require("helpers")

local O = {}

function O.sq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local sq = O.sq

function O.read(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

function O.alive(pid) return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true end

--- until_true(f, what): polls f() every 50 ms until it returns a true value
--- (returned); gives up after 60 s (only a stuck run takes that long).
function O.until_true(f, what)
  for _ = 1, 1200 do
    local v = f()
    if v then return v end
    os.execute("sleep 0.05")
  end
  error("gave up waiting for " .. what)
end

function O.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -m 0755 " .. sq(d)))
  return d
end

--- curl(h, method, path [, opts]): status, body. opts: tcp (use h.port),
--- headers (list of "Name: value"), data (a body).
function O.curl(h, method, path, opts)
  opts = opts or {}
  local args = {}
  for _, hd in ipairs(opts.headers or {}) do args[#args + 1] = "-H " .. sq(hd) end
  if opts.data then args[#args + 1] = "--data-binary " .. sq(opts.data) end
  local url
  if opts.tcp then
    url = string.format("http://127.0.0.1:%d%s", h.port, path)
  else
    args[#args + 1] = "--unix-socket " .. sq(h.sock)
    url = "http://localhost" .. path
  end
  local out = H.sh(string.format("curl -s -X %s %s -w '\\n%%{http_code}' %s", method,
    table.concat(args, " "), sq(url)), true)
  local text, code = out:match("^(.-)\n?(%d+)$")
  return tonumber(code), text or out
end

--- start(code, args): runs `taskvisor run ARGS CONFIG` (the config's text
--- in code) with its socket in a fresh directory; waits until it answers.
--- The host: { dir, sock, pid, err, out }. A spec follows it with
--- finally(function() O.stop(h) end) (busted's finally is the spec's, not
--- this module's), so a failed assertion leaves no host behind.
function O.start(code, args)
  local dir = O.tmpdir()
  local cfg = dir .. "/observe.lua"
  local f = assert(io.open(cfg, "w"))
  f:write(code)
  f:close()
  local h = { dir = dir, sock = dir .. "/ctl.sock", err = dir .. "/err.txt", out = dir .. "/out.txt" }
  local pid = H.sh(string.format("cd %s && %s run --control %s %s %s >%s 2>%s & echo $!", sq(dir),
    sq(H.host()), sq(h.sock), args or "", sq(cfg), sq(h.out), sq(h.err)))
  h.pid = tonumber(pid:match("%d+"))
  O.until_true(function()
    if not O.alive(h.pid) then error("the host ended: " .. O.read(h.err)) end
    return (O.curl(h, "GET", "/v1/host")) == 200
  end, "the host to answer")
  return h
end

--- stop(h): asks it to shut down, waits for it to exit, removes its directory.
function O.stop(h, keep)
  if h.stopped then return end -- (a finally after the test's own stop)
  h.stopped = true
  if O.alive(h.pid) then O.curl(h, "POST", "/v1/shutdown") end
  O.until_true(function() return not O.alive(h.pid) end, "the host to exit")
  if not keep then os.execute("rm -rf " .. sq(h.dir)) end
end

return O
