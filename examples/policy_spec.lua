-- policy_spec.lua: a restart policy checked in virtual time, as a busted spec
-- of your own would: a day of crashes runs in a moment, no process starts.
--
--   busted examples/policy_spec.lua        (or: taskvisor examples/policy_spec.lua)
local tv = require("taskvisor")
-- (without busted, describe/it just run and report)
local describe = describe or function(_, f) f() end
local it = it or function(name, f) f() print("ok - " .. name) end

-- The policy under test: restart the api with growing, jittered backoff; more
-- than 5 restarts within a minute is a crash loop that must page someone.
local function config()
  return tv.config{ supervisor = { grace = 10 }, tasks = {
    tv.process{ name = "api", cmd = { "/usr/local/bin/api", "--port", "8080" }, restart = "always",
      backoff = { first = 1, max = 60, factor = 2, jitter = "full" },
      intensity = { max_restarts = 5, within = 60 }, on_exhausted = "escalate" },
  } }
end

describe("the api's restart policy", function()
  it("rides out a crash every 5 minutes for a day without escalating", function()
    local r = tv.testing.simulate(config(), { for_ = "24h", seed = 1,
      trace = { api = { { run = 300, exit = 1 } } } }) -- every attempt: up 5 min, then exit 1
    local api = r.task.api
    assert(api.escalations == 0, "escalated: " .. r.summary.run.result)
    assert(api.restarts > 250, "restarts: " .. api.restarts)
    assert(api.longest_outage <= 60, "longest outage: " .. api.longest_outage .. " s") -- backoff max
    print(string.format("api: %d restarts, up %.1f%% of the day, longest outage %.1f s", api.restarts,
      100 * api.up / 86400, api.longest_outage))
  end)

  it("escalates a crash loop within the first minute", function()
    local r = tv.testing.simulate(config(), { for_ = "1h", seed = 1,
      trace = { api = { { run = 2, exit = 1 } } } }) -- dies 2 s after every start
    assert(r.task.api.escalations == 1)
    assert(r.summary.run.result:find("^ESCALATED"), r.summary.run.result)
    assert(r.summary.run.shutdown < 60, "shut down at " .. tostring(r.summary.run.shutdown))
    print("crash loop: " .. r.summary.run.result)
  end)
end)
