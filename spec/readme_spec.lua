-- spec/readme_spec.lua: README's opening snippets are the examples that run
-- as tests: each ```lua block after a "<!-- snippet: examples/x.lua -->" line
-- must be that file from its first line of code (its header comment is the
-- file's own), so the README cannot drift from what is tested.
local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

describe("README snippets", function()
  local readme = read("README.md")

  it("are there (the first config and the first Lua app)", function()
    local n = 0
    for _ in readme:gmatch("<!%-%- snippet: [^ ]+ %-%->") do n = n + 1 end
    assert.is_true(n >= 2, "snippets found: " .. n)
  end)

  it("each equals its example file from the first line of code", function()
    for path, block in readme:gmatch("<!%-%- snippet: ([^ ]+) %-%->\n```lua\n(.-)\n```\n") do
      local file = read(path)
      local code = file:match("\n(local tv = .-)\n*$")
      assert(code, path .. " has no 'local tv = ' line")
      assert.equal(code, block, "README's snippet of " .. path .. " differs from the file")
    end
  end)
end)
