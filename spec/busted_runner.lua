-- spec/busted_runner.lua: runs busted with the given arguments and exits with
-- its verdict, whatever the interpreter (stock lua5.4, or the taskvisor host,
-- whose own exit status would otherwise reflect the last supervisor run).
-- busted exits by itself on failures; reaching the end means all passed.
require("busted.runner")({ standalone = false })
os.exit(0, true)
