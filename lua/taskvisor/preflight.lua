-- taskvisor.preflight: what sup:add checks against the system before a
-- process task is registered, so a typo fails the add instead of every
-- attempt: the program is found the way the spawn will find it (the PATH the
-- child gets). Requires nothing of taskvisor but the core.
local core = require("taskvisor.core")

local M = {}

local MAX_SHOWN = 200 -- of a PATH in a message

local function shown(path)
  if #path > MAX_SHOWN then return path:sub(1, MAX_SHOWN - 3) .. "..." end
  return path
end

--- true, or nil and "ENOENT: ..." / "EACCES: ..." when the program of a
--- validated process options table (P.options) cannot be started.
function M.program(popts)
  local prog = popts.cmd[1]
  local env = popts.env
  if not prog:find("/", 1, true) then
    local path, whose = env and env.PATH, "env.PATH"
    if path == nil and popts.inherit_env then path, whose = os.getenv("PATH"), "PATH" end
    local found, code = core.find_program(prog, path)
    if found then return true end
    local where = path and string.format("%s: %s", whose, shown(path))
      or "no PATH set: /usr/local/bin:/usr/bin:/bin"
    if code == "EACCES" then
      return nil, string.format("EACCES: program '%s' is in PATH but not executable (%s)", prog, where)
    end
    return nil, string.format("ENOENT: program '%s' not found in PATH (%s)", prog, where)
  end
  -- a path: relative ones are taken from the child's cwd (it changes there
  -- before exec)
  local dir, base = prog:match("^(.*)/([^/]+)$")
  if not base or dir:find(":", 1, true) then return true end -- (the spawn will say)
  if dir == "" then dir = "/" end
  if dir:sub(1, 1) ~= "/" and popts.cwd then dir = popts.cwd .. "/" .. dir end
  if dir:find(":", 1, true) then return true end
  local found, code = core.find_program(base, dir)
  if found then return true end
  if code == "EACCES" then
    return nil, string.format("EACCES: program '%s' is not executable", prog)
  end
  return nil, string.format("ENOENT: program '%s' not found (no such executable file%s)", prog,
    popts.cwd and prog:sub(1, 1) ~= "/" and ", relative to cwd '" .. popts.cwd .. "'" or "")
end

return M
