-- policies.lua: restart and backoff policies written in Lua, and a restart
-- budget that ends a crash loop instead of letting it storm.
--
--   flaky      restarts only on "temporary" exit codes (75, EX_TEMPFAIL),
--              with a custom backoff: 0.05 s doubled per failure, capped
--   crashloop  a process that always crashes, under a budget of 3 restarts
--              within 10 s: on the 4th failure it is given up
--   steady     a one-shot that succeeds
--
--   taskvisor examples/policies.lua
local tv = require("taskvisor")

local sup = tv.supervisor({ grace = 5 })
sup:subscribe(function(ev)
  if ev.kind == "ActorExhausted" and ev.task == "crashloop" then
    print("crashloop: " .. ev.reason)
  end
end)

local codes = { 75, 75, 2 } -- what flaky's attempts exit with

assert(sup:add(tv.task({
  name = "flaky",
  run = function(ctx)
    local code = codes[ctx.attempt]
    print(string.format("flaky: attempt %d failed with exit code %d", ctx.attempt, code))
    tv.fail("exit " .. code, code)
  end,
  -- restart(outcome): outcome = { ok, reason, exit_code, signal, attempt, ran_for }
  restart = function(outcome)
    if outcome.ok or outcome.exit_code == 75 then return true end
    print(string.format("restart? no: exit code %d is not temporary", outcome.exit_code))
    return false
  end,
  -- backoff(streak, last_delay, outcome): seconds until the next attempt
  backoff = function(streak, last_delay, outcome)
    local delay = math.min(0.05 * 2 ^ streak, 1)
    print(string.format("backoff after attempt %d: %gs", outcome.attempt, delay))
    return delay
  end,
})))

assert(sup:add(tv.process({
  name = "crashloop",
  cmd = { "/bin/sh", "-c", "exit 1" },
  restart = "always",
  backoff = { first = 0.01 },
  intensity = { max_restarts = 3, within = 10 },
  on_exhausted = "give_up", -- or "escalate", or { cooldown = 30 }
})))

assert(sup:add(tv.once("steady", function() end)))

local ok, outcomes = sup:run()
if not ok then
  io.stderr:write(outcomes, "\n")
  os.exit(2)
end
for _, name in ipairs({ "crashloop", "flaky", "steady" }) do
  local o = outcomes[name]
  print(string.format("outcome %s: %s after %d attempts", name, o.status, o.attempts))
end
