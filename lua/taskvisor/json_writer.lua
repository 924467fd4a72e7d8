-- taskvisor.json_writer: a subscriber writing one JSON object per event, one
-- per line (JSON Lines, as journald exports, Vector / Fluent Bit / Loki / jq
-- read), with every field of the event; `at` as RFC 3339 UTC with
-- microseconds. It is an ordinary subscriber (its own bounded queue: a full
-- queue drops events for it alone and SubscriberOverflow says so), so a slow
-- disk never blocks the loop. A file given by path is reopened by path after
-- SIGHUP / SIGUSR1 / the API's reopen, like process log files (logrotate).
-- Options: file (a path, or an open file; default io.stdout), name (default
-- "json_writer"), queue (its queue capacity).
local core = require("taskvisor.core")
local V = require("taskvisor.validate")

local M = {}

local ENCODE = { lossy = true, first = { "seq", "at", "kind", "task", "attempt" } }

--- rfc3339(seconds): "2026-12-07T11:37:45.123456Z" for Unix time seconds.
function M.rfc3339(t)
  local s = math.floor(t)
  local us = math.floor((t - s) * 1e6 + 0.5)
  if us >= 1000000 then s, us = s + 1, 0 end
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. string.format(".%06dZ", us)
end

--- line(ev): the JSON text of one event (no newline).
function M.line(e)
  local t = {}
  for k, v in pairs(e) do t[k] = v end
  if type(e.at) == "number" then t.at = M.rfc3339(e.at) end
  return assert(core.json_encode(t, ENCODE))
end

local function open(path)
  local f, err = io.open(path, "a")
  if not f then return nil, string.format("tv.json_writer: cannot open '%s': %s", path, err) end
  f:setvbuf("full")
  return f
end

function M.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(string.format("tv.json_writer: expected an options table (got %s)", V.show(opts)), 3)
  end
  local ok, err = V.known_keys("tv.json_writer", "", opts, { "file", "name", "queue" })
  if not ok then error(err, 3) end
  local file, path = opts.file, nil
  if file == nil then
    file = io.stdout
  elseif type(file) == "string" then
    if file == "" then error("tv.json_writer: 'file' must be a non-empty path or an open file (got \"\")", 3) end
    path = file
    file, err = open(path)
    if not file then error(err, 3) end
  elseif io.type(file) ~= "file" then
    error(string.format("tv.json_writer: 'file' must be a path or an open file (got %s)", V.show(file)), 3)
  end
  local name = "json_writer"
  if opts.name ~= nil then
    name, err = V.name("tv.json_writer", "name", opts.name)
    if not name then error(err, 3) end
  end
  if opts.queue ~= nil then
    local q
    q, err = V.integer("tv.json_writer", "queue", opts.queue, 1, 1 << 24)
    if not q then error(err, 3) end
  end
  local gen = core.reopen_generation()
  local out = file
  return {
    name = name,
    queue = opts.queue,
    on_event = function(e)
      if path and gen ~= core.reopen_generation() then -- rotated: write to the new file at path
        gen = core.reopen_generation()
        if out then out:close() end
        out, err = open(path)
        if not out then error(err, 0) end -- (SubscriberPanicked; the next event tries again)
      elseif not out then
        out, err = open(path)
        if not out then error(err, 0) end
      end
      local okw, werr = out:write(M.line(e), "\n")
      if okw then okw, werr = out:flush() end
      if not okw then error("tv.json_writer: " .. tostring(path or "output") .. ": " .. tostring(werr), 0) end
    end,
  }
end

return M
