/* json.c - JSON (jansson) <-> Lua values for the control API: decoding here,
 * encoding by the binding's ljson.c (arrays for keys 1..n or a metatable's
 * __json = "array", objects otherwise; null the light userdata NULL). */
#include <lauxlib.h>

#include "json.h"
#include "ljson.h"

static int push(lua_State *L, const json_t *v, int depth) {
  if (depth > TVC_JSON_DEPTH || !lua_checkstack(L, 4)) return -1;
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    lua_createtable(L, 0, (int)json_object_size(v));
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) {
      if (push(L, e, depth + 1) != 0) {
        lua_pop(L, 1);
        return -1;
      }
      lua_setfield(L, -2, k);
    }
    return 0;
  }
  case JSON_ARRAY: {
    size_t n = json_array_size(v);
    lua_createtable(L, n > 1024 ? 1024 : (int)n, 0);
    if (n == 0) { /* (encoded again as an array, not as {}) */
      luaL_getmetatable(L, "taskvisor.control.array");
      lua_setmetatable(L, -2);
    }
    for (size_t i = 0; i < n; i++) {
      if (push(L, json_array_get(v, i), depth + 1) != 0) {
        lua_pop(L, 1);
        return -1;
      }
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 0;
  }
  case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); return 0;
  case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); return 0;
  case JSON_REAL: lua_pushnumber(L, json_real_value(v)); return 0;
  case JSON_TRUE: lua_pushboolean(L, 1); return 0;
  case JSON_FALSE: lua_pushboolean(L, 0); return 0;
  default: lua_pushlightuserdata(L, TVC_JSON_NULL); return 0;
  }
}

int tvc_json_push(lua_State *L, const json_t *v) { return push(L, v, 0); }

/* Encoding is the binding's (ljson.c, which core.json_encode also uses),
 * lossy: a task name or path from a request, a process's output line, may
 * be any bytes, and an answer must still be able to say them. */
json_t *tvc_json_from_lua(lua_State *L, int idx, char *err, size_t errlen) {
  static const ltv_json_opts_t lossy = {1, NULL};
  return ltv_json_from_lua(L, idx, &lossy, err, errlen);
}
