-- tree.lua: a supervision tree. "app" (one_for_one) runs a database process
-- and an "api" group (rest_for_one): "cache" starts first, then "http",
-- which needs it. When the cache crashes, rest_for_one restarts it and the
-- http server started after it, in order; the database is untouched. After
-- two seconds the supervisor shuts down: children stop in reverse order.
--
--   taskvisor examples/tree.lua
local tv = require("taskvisor")

local sup = tv.supervisor({ grace = 5 })
sup:subscribe(tv.log_writer())

local function serve(ctx)
  while ctx:sleep(0.1) do end
end

sup:add(tv.group({
  name = "app",
  strategy = "one_for_one",
  intensity = { max_restarts = 3, within = 5 }, -- more: "app" fails (and restarts)
  children = {
    tv.process({ name = "db", cmd = { "/bin/sh", "-c", "exec sleep 30" } }),
    tv.group({
      name = "api",
      strategy = "rest_for_one",
      children = {
        tv.task({ name = "cache", restart = "always", backoff = { first = 0.2 },
          run = function(ctx)
            if ctx.attempt == 1 then
              ctx:sleep(0.5)
              error("cache crashed")
            end
            serve(ctx)
          end }),
        tv.task({ name = "http", restart = "always", run = serve }),
      },
    }),
  },
}))

sup:add(tv.once("operator", function(ctx)
  ctx:sleep(2)
  sup:shutdown()
end))

local ok, err = sup:run()
if not ok then
  io.stderr:write(err, "\n")
  os.exit(2)
end
