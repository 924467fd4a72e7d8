-- scripts/shape.lua SRC_DIR BUILD_DIR: checks the shape of the code (ARCHITECTURE.md).
-- 1. Includes: a file under src/ includes only headers of its own layer or of
--    layers below it (LAYERS), and the core never includes Lua's headers.
-- 2. Calls: from the built object files (nm -P), which file calls which; no
--    file calls a file of a higher layer, and no files call each other in a
--    circle (a strongly connected component of two or more files).
-- 3. Size: no source file over MAX_LINES lines unless LONG says why.
-- Prints every violation and exits 1, or a summary and exits 0.
-- `lua5.4 scripts/shape.lua --self-test` checks that the checks catch what they should.

-- Bottom to top. A folder may use its own files and the folders before it.
local LAYERS = {
  "core/base", "core/loop", "core/events", "core/os", "core/supervision", "core/kinds",
  "lua", "control", "host",
}
local MAX_LINES = 600
local LONG = { -- path = why it must stay longer
}

local rank = {}
for i, l in ipairs(LAYERS) do rank[l] = i end

-- "core/os/spawn.c" -> its layer's rank (the longest listed prefix), or nil.
local function layer_of(rel)
  local best, best_len
  for l, r in pairs(rank) do
    if rel:sub(1, #l + 1) == l .. "/" and (not best_len or #l > best_len) then
      best, best_len = r, #l
    end
  end
  return best
end

local function lines(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

local problems = {}
local function problem(fmt, ...) problems[#problems + 1] = string.format(fmt, ...) end

-- One #include line of file `rel` (relative to src/): a problem if it reaches up.
local function check_include(path, rel, n, line)
  local from = layer_of(rel)
  local quoted = line:match('^%s*#%s*include%s+"([^"]+)"')
  local angled = line:match("^%s*#%s*include%s+<([^>]+)>")
  if quoted and quoted:find("/") then
    local to = layer_of(quoted)
    if from and to and to > from then
      problem("%s:%d includes %s, a layer above its own (%s above %s)", path, n, quoted,
              LAYERS[to], LAYERS[from])
    end
    return 1
  end
  if angled and rel:sub(1, 5) == "core/" and
      (angled == "lua.h" or angled == "lauxlib.h" or angled == "lualib.h") then
    problem("%s:%d includes <%s>: the core knows nothing of Lua", path, n, angled)
  end
  return 0
end

-- uses[file] = { symbol, ... } it needs; defines[symbol] = file. Reports calls
-- up the layers and circles; returns the number of edges and of files.
local function check_calls(uses, defines)
  local edges, nedges, names = {}, 0, {}
  for rel, syms in pairs(uses) do
    names[#names + 1] = rel
    edges[rel] = {}
    for _, sym in ipairs(syms) do
      local to = defines[sym]
      if to and to ~= rel then
        if not edges[rel][to] then
          edges[rel][to] = sym
          nedges = nedges + 1
        end
        local rf, rt = layer_of(rel), layer_of(to)
        if rf and rt and rt > rf then
          problem("src/%s calls %s in src/%s, a layer above its own (%s above %s)", rel, sym,
                  to, LAYERS[rt], LAYERS[rf])
        end
      end
    end
  end
  table.sort(names)
  -- Tarjan's strongly connected components.
  local index, low, onstack, stack, counter = {}, {}, {}, {}, 0
  local function strong(v)
    counter = counter + 1
    index[v], low[v] = counter, counter
    stack[#stack + 1] = v
    onstack[v] = true
    local targets = {}
    for w in pairs(edges[v] or {}) do targets[#targets + 1] = w end
    table.sort(targets)
    for _, w in ipairs(targets) do
      if not index[w] then
        strong(w)
        low[v] = math.min(low[v], low[w])
      elseif onstack[w] then
        low[v] = math.min(low[v], index[w])
      end
    end
    if low[v] ~= index[v] then return end
    local comp, set = {}, {}
    repeat
      local w = table.remove(stack)
      onstack[w] = false
      comp[#comp + 1] = w
      set[w] = true
    until w == v
    if #comp < 2 then return end
    table.sort(comp)
    local detail = {}
    for _, c in ipairs(comp) do
      for to, sym in pairs(edges[c]) do
        if set[to] then detail[#detail + 1] = string.format("%s -> %s (%s)", c, to, sym) end
      end
    end
    table.sort(detail)
    problem("files that call each other in a circle: %s\n    %s", table.concat(comp, ", "),
            table.concat(detail, "\n    "))
  end
  for _, v in ipairs(names) do
    if not index[v] then strong(v) end
  end
  return nedges, #names
end

local function check_size(path, count)
  if count > MAX_LINES and not LONG[path] then
    problem("%s has %d lines (over %d): split it by concept, or say in LONG why not", path,
            count, MAX_LINES)
  end
end

local function self_test()
  check_calls({
    ["lua/a.c"] = { "b_fn" }, ["lua/b.c"] = { "a_fn" }, -- a circle
    ["core/base/x.c"] = { "k_fn" },                     -- a call up the layers
    ["core/kinds/k.c"] = {}, ["core/loop/y.c"] = { "x_fn" }, -- fine
  }, { b_fn = "lua/b.c", a_fn = "lua/a.c", k_fn = "core/kinds/k.c", x_fn = "core/base/x.c" })
  check_include("src/core/os/p.c", "core/os/p.c", 3, '#include "core/supervision/task.h"')
  check_include("src/core/os/p.c", "core/os/p.c", 4, "#include <lua.h>")
  check_include("src/lua/l.c", "lua/l.c", 5, '#include "core/os/p.h"') -- fine
  check_size("src/core/base/big.c", MAX_LINES + 1)
  check_size("src/core/base/ok.c", MAX_LINES)
  local want = { "x.c calls k_fn", "circle: lua/a.c, lua/b.c", "p.c:3 includes core/supervision",
                 "p.c:4 includes <lua.h>", "big.c has 601 lines" }
  local ok = #problems == #want
  for i, w in ipairs(want) do
    if not (problems[i] or ""):find(w, 1, true) then ok = false end
  end
  for _, p in ipairs(problems) do print("self-test found: " .. p) end
  print(ok and "shape self-test: every planted fault found, nothing else" or
        "shape self-test: FAILED")
  os.exit(ok and 0 or 1)
end

if arg[1] == "--self-test" then self_test() end
local src_dir, build_dir = arg[1], arg[2]
if not src_dir or not build_dir then
  io.stderr:write("usage: lua5.4 scripts/shape.lua SRC_DIR BUILD_DIR | --self-test\n")
  os.exit(2)
end

-- ---- 1 and 3: includes and sizes ------------------------------------------------
local files = lines(string.format("cd %q && find src -name '*.[ch]' | sort", src_dir))
local nincludes = 0
for _, path in ipairs(files) do
  local rel = path:sub(5) -- without "src/"
  if not layer_of(rel) then
    problem("%s: its folder is in no layer (add it to LAYERS in scripts/shape.lua)", path)
  end
  local n = 0
  for line in io.lines(src_dir .. "/" .. path) do
    n = n + 1
    nincludes = nincludes + check_include(path, rel, n, line)
  end
  check_size(path, n)
end
for _, path in ipairs(lines(string.format("cd %q && find lua -name '*.lua' | sort", src_dir))) do
  local n = 0
  for _ in io.lines(src_dir .. "/" .. path) do n = n + 1 end
  check_size(path, n)
end

-- ---- 2: calls, from the object files -------------------------------------------
-- .../CMakeFiles/<target>.dir/src/<rel>.o -> <rel> (a source built into two
-- targets counts once).
local uses, defines = {}, {}
for _, o in ipairs(lines(string.format(
    "find %q -path '*/CMakeFiles/*.dir/src/*' -name '*.c.o' | sort", build_dir))) do
  local rel = o:match("%.dir/src/(.+)%.o$")
  if rel and not uses[rel] then
    uses[rel] = {}
    for _, line in ipairs(lines(string.format("nm -P %q", o))) do
      local sym, kind = line:match("^(%S+) (%a)")
      if kind == "U" then
        uses[rel][#uses[rel] + 1] = sym
      elseif kind and kind:match("[TDBRCVW]") then
        defines[sym] = rel
      end
    end
  end
end
if next(uses) == nil then problem("no object files under %s: build first", build_dir) end
local nedges, nobjects = check_calls(uses, defines)

if #problems > 0 then
  for _, p in ipairs(problems) do print("shape: " .. p) end
  print(string.format("shape: %d problem(s)", #problems))
  os.exit(1)
end
print(string.format("shape: %d source files, %d cross-folder includes, %d call edges between " ..
                    "%d object files: layers respected, no circles, none over %d lines",
                    #files, nincludes, nedges, nobjects, MAX_LINES))
