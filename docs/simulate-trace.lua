-- docs/simulate-trace.lua: how the processes of docs/simulate-example.lua behave.
return {
  -- web crashes a few minutes into most runs; attempts 30 to 45 are a bad
  -- deploy that dies 2 s after each start
  web = function(attempt)
    if attempt >= 30 and attempt <= 45 then return { run = 2, exit = 1 } end
    return { run = 180 + (attempt * 37) % 240, exit = 1 }
  end,
  db = { { ready_after = 8 } }, -- ready 8 s after each start, then runs until stopped
}
