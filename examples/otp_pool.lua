-- otp_pool.lua: Erlang/OTP's simple_one_for_one and auto_shutdown.
--
--   supervisor (auto_shutdown = "any_significant")
--   ├── jobs    a template group: sup:start_child makes its instances
--   │           (jobs/1, jobs/2, ...), each from template(args, n)
--   └── batch   significant: starts three jobs, waits for them, returns
--
-- When batch (significant, restart "never") ends by itself, the supervisor
-- shuts itself down (AutoShutdown, then a graceful shutdown); sup:run
-- returns true and the outcomes. Job 2 fails once and is restarted alone.
--
--   taskvisor examples/otp_pool.lua
local tv = require("taskvisor")

local sup = tv.supervisor({ grace = 5, auto_shutdown = "any_significant" })
sup:subscribe(tv.log_writer())

local ok, outcomes = sup:run({
  tv.group({ name = "jobs", template = function(args, n)
    return { restart = "on_failure", backoff = { first = 0.05 }, run = function(ctx)
      ctx:sleep(0.05 * n)
      if args.flaky and ctx.attempt == 1 then error("job " .. n .. " failed once") end
      print(string.format("job %d (%s) done on attempt %d", n, args.what, ctx.attempt))
    end }
  end }),
  tv.task({ name = "batch", restart = "never", significant = true, after = { "jobs" }, run = function(ctx)
    local names = {}
    for i, what in ipairs({ "resize", "thumbnail", "upload" }) do
      names[i] = assert(sup:start_child("jobs", { what = what, flaky = i == 2 }))
    end
    print("started " .. table.concat(names, ", "))
    for _, name in ipairs(names) do
      local o = sup:wait(name)
      print(string.format("%s: %s after %d attempt(s)", name, o.status, o.attempts))
    end
  end }),
})
print("run returned", ok)
for _, name in ipairs({ "batch", "jobs" }) do print("outcome " .. name .. ": " .. outcomes[name].status) end
