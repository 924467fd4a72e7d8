/* lcmd.c - a command as Lua describes it, turned into what the spawner takes:
 * the argument list and the environment (env, inherit_env). Shared by process
 * tasks (lproc.c) and ctx:exec (lexec.c). */
#include <lauxlib.h>
#include <stdlib.h>

#include "core/kinds/process.h" /* tv_strv_new */
#include "core/os/spawn.h"
#include "lcmd.h"

/* Collected into a temporary userdata so a raise frees nothing by hand. */
char **ltv_strv(lua_State *L, int t) {
  t = lua_absindex(L, t);
  size_t n = (size_t)lua_rawlen(L, t);
  const char **src = lua_newuserdatauv(L, (n + 1) * sizeof *src, 0);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, t, (lua_Integer)i + 1);
    src[i] = lua_tostring(L, -1); /* validated strings, kept alive by t */
    lua_pop(L, 1);
    if (!src[i]) luaL_error(L, "argument list entry %d is not a string", (int)i + 1);
  }
  char **v = tv_strv_new(src, n);
  lua_pop(L, 1);
  if (!v) luaL_error(L, "not enough memory");
  return v;
}

void ltv_envp(lua_State *L, int idx, char ***out) {
  idx = lua_absindex(L, idx);
  *out = NULL;
  lua_getfield(L, idx, "inherit_env");
  int inherit = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "env") != LUA_TTABLE) {
    lua_pop(L, 1);
    if (inherit) return;
    lua_newtable(L);
  }
  int env = lua_gettop(L);
  lua_newtable(L); /* "K=V" strings, anchored while we point at them */
  int kvs = env + 1;
  size_t n = 0;
  for (lua_pushnil(L); lua_next(L, env); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "env: keys and values must be strings");
    lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
    lua_rawseti(L, kvs, (lua_Integer)++n);
  }
  const char **kv = lua_newuserdatauv(L, (n + 1) * sizeof *kv, 0);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, kvs, (lua_Integer)i + 1);
    kv[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  *out = tv_env_build(inherit, kv, n);
  lua_settop(L, env - 1);
  if (!*out) luaL_error(L, "not enough memory");
}
