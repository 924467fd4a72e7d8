-- collected_spec: a supervisor the garbage collector takes while its
-- subscribers are being handed events (issue 12.00a). Making an event's table
-- can run the collector, whose finalizer destroys the supervisor and its bus
-- under the worker's feet: the host segfaulted (UBSan: lsub.c, the worker read
-- s->sub->bus after the table was made). Run in a child host so that a crash
-- is an exit status, not the end of the spec run.
local H = require("helpers")

describe("a supervisor collected while its subscribers have queued events", function()
  it("ends its subscribers cleanly; the loop and other supervisors go on", function()
    local out, status = H.host_run([[
      local tv = require("taskvisor")
      collectgarbage() -- (the collector's phase from here on: not from how much loading took)
      local seen = 0
      -- the supervisors are dropped once the first event has been handed over
      -- (not before: when they went is up to the collector's pacing, which
      -- any change in what was allocated before shifts), so they are
      -- collected while their subscribers are still being handed events
      local keep = {}
      local function make()
        local sup = tv.supervisor({})
        assert(sup:subscribe({ queue = 100000, on_event = function()
          seen = seen + 1
          keep = nil
        end }))
        sup.core:_bench_publish(50000) -- queued; the supervisor is dropped with them
        keep[#keep + 1] = sup
      end
      for _ = 1, 20 do make() end
      local other = tv.supervisor({})
      local ticks = 0
      assert(other:run({ tv.task({ name = "x", run = function(ctx)
        for _ = 1, 20 do collectgarbage("step") ticks = ticks + 1 ctx:sleep(0.005) end
      end }) }))
      collectgarbage()
      print("delivered", seen, "ticks", ticks)
    ]])
    assert.equals(0, status, out)
    local seen, ticks = out:match("delivered%s+(%d+)%s+ticks%s+(%d+)")
    assert.is_not_nil(seen, out)
    assert.equals("20", ticks)
    -- some events were handed over before the supervisors were collected, and
    -- not all of them: the rest were dropped with their subscribers
    assert.is_true(tonumber(seen) > 0 and tonumber(seen) < 20 * 50000, out)
  end)
end)
