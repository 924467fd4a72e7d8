/* lerror.c - the text of a Lua error value, the same wherever user code
 * fails: a task's attempt, a hook, a policy function, a subscriber. Strings
 * and numbers are the text; a table with a string `message` field (read raw:
 * no __index runs) gives it; a value with __tostring is shown by it; anything
 * else, or a __tostring that raises, returns something other than a string or
 * runs past the instruction budget, is "(error object is a <type> value)".
 * User code (__tostring) runs protected and, on the loop's own thread, under
 * the budget of whoever raised the value: an error object cannot hang the
 * loop. */
#include <string.h>

#include "lerror.h"
#include "lfiber.h"

static int to_text(lua_State *L) {
  int t = lua_type(L, 1);
  if (t == LUA_TSTRING || t == LUA_TNUMBER) {
    lua_pushvalue(L, 1);
    lua_tolstring(L, -1, NULL); /* a number: its text (the original stays as it was) */
    return 1;
  }
  if (t == LUA_TTABLE) {
    lua_pushliteral(L, "message");
    if (lua_rawget(L, 1) == LUA_TSTRING) return 1;
    lua_pop(L, 1);
  }
  if (luaL_getmetafield(L, 1, "__tostring") != LUA_TNIL) {
    luaL_tolstring(L, 1, NULL); /* raises if __tostring does not give a string */
    return 1;
  }
  lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  return 1;
}

static const char *fallback(int type) {
  switch (type) {
  case LUA_TTABLE: return "(error object is a table value)";
  case LUA_TUSERDATA: return "(error object is a userdata value)";
  case LUA_TNIL: return "(error object is a nil value)";
  default: return "(error object could not be shown)";
  }
}

const char *ltv_error_text(ltv_ctx *ctx, lua_State *L, int idx, size_t *len, uint32_t budget) {
  idx = lua_absindex(L, idx);
  int type = lua_type(L, idx);
  const char *s = NULL;
  if (lua_checkstack(L, 3)) {
    lua_pushcfunction(L, to_text);
    lua_pushvalue(L, idx);
    int st = ctx && L == ctx->L ? ltv_pcall_bounded(ctx, 1, 1, budget) : lua_pcall(L, 1, 1, 0);
    if (st == LUA_OK && lua_type(L, -1) == LUA_TSTRING) return lua_tolstring(L, -1, len);
    lua_pop(L, 1); /* the error: nothing that could raise is done from here */
    lua_pushnil(L);
  }
  s = fallback(type); /* (no room on the stack: nothing pushed, out of memory anyway) */
  if (len) *len = strlen(s);
  return s;
}

static int failure_tostring(lua_State *L) {
  lua_getfield(L, 1, "message");
  if (!lua_isstring(L, -1)) lua_pushliteral(L, "taskvisor failure");
  return 1;
}

void ltv_failure_mt(lua_State *L) {
  if (luaL_newmetatable(L, LTV_FAILURE)) { /* sets __name */
    lua_pushcfunction(L, failure_tostring);
    lua_setfield(L, -2, "__tostring");
  }
}
