/* lpath.c - core.find_program: the PATH lookup of a process task's spawn,
 * offered to Lua so that sup:add can refuse a program that is not there
 * (a typo such as "pyhton3") before anything starts. */
#include <limits.h>

#include "core/os/spawn.h"
#include "lbase.h"
#include "lpath.h"

int ltv_find_program(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *path = luaL_optstring(L, 2, NULL);
  char out[PATH_MAX];
  int rc = tv_spawn_resolve(name, path, out, sizeof out);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, uv_err_name(rc));
    return 2;
  }
  lua_pushstring(L, out);
  return 1;
}
