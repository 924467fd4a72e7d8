/* lerror.c - the text of a Lua error value, the same wherever user code
 * fails: a task's attempt, a hook, a policy function, a subscriber. Strings
 * and numbers are the text; a table with a string `message` field gives it;
 * a value with __tostring is shown by it; anything else, or a __tostring that
 * raises or returns something other than a string, is "(error object is a
 * <type> value)". Never raises for the value's sake (only for memory). */
#include "ltv.h"

static int to_text(lua_State *L) {
  int t = lua_type(L, 1);
  if (t == LUA_TSTRING || t == LUA_TNUMBER) {
    lua_pushstring(L, lua_tostring(L, 1)); /* a copy: the value stays as it was */
    return 1;
  }
  if (t == LUA_TTABLE && lua_getfield(L, 1, "message") == LUA_TSTRING) return 1;
  if (luaL_getmetafield(L, 1, "__tostring") != LUA_TNIL) {
    luaL_tolstring(L, 1, NULL); /* raises if __tostring does not give a string */
    return 1;
  }
  lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  return 1;
}

const char *ltv_error_text(lua_State *L, int idx, size_t *len) {
  idx = lua_absindex(L, idx);
  lua_pushcfunction(L, to_text);
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, idx));
  }
  return lua_tolstring(L, -1, len);
}
