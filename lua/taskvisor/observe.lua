-- taskvisor.observe: the run options that watch a host from outside,
-- `--events-json FILE|-` (a tv.json_writer on the run's supervisor) and
-- `--http ADDR:PORT` (the TCP listener serving /metrics, the status page and
-- the control API's routes; taskvisor.http). The cli makes one per run and
-- attaches it to the supervisor the run drives.
local M = {}

local Obs = {}
Obs.__index = Obs

--- new(opts): from the run's parsed options; nil and a message on bad input.
function M.new(opts)
  local self = setmetatable({ events = opts["events-json"], http = opts.http,
    token_file = opts["http-token-file"] }, Obs)
  if self.events == "" then return nil, "run: '--events-json' must be a file path or '-' (stdout)" end
  if self.http then
    local H = require("taskvisor.http")
    local addr, err = H.parse_addr(self.http, os.getenv("TASKVISOR_HTTP_TOKEN"))
    if not addr then return nil, "run: '--http': " .. err end
    self.addr = addr
  end
  return self
end

--- obs:attach(sup, ctl): subscribes the JSON writer and opens the listener.
--- true, or nil and a message.
function Obs:attach(sup, ctl)
  if self.events then
    local tv = require("taskvisor")
    local ok, w = pcall(tv.json_writer, { file = self.events == "-" and io.stdout or self.events,
      name = "taskvisor.events_json", queue = 65536 })
    if not ok then return nil, tostring(w):gsub("^[^:]*:%d+: ", "") end
    local sok, serr = sup:subscribe(w)
    if not sok then return nil, "--events-json: " .. tostring(serr) end
  end
  if self.addr then
    local H = require("taskvisor.http")
    local srv, err = H.open(self.addr, ctl, { token_file = self.token_file })
    if not srv then return nil, "--http: " .. err end
    self.server = srv
  end
  return true
end

function Obs:close()
  if self.server then self.server:close() self.server = nil end
end

return M
