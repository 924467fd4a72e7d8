/* json.c - JSON (jansson) <-> Lua values. Tables encode as arrays when they
 * hold exactly the keys 1..n (n > 0) or are marked { __json = "array" } by
 * their metatable, else as objects (number keys written as strings). */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

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

/* The path to a value that cannot be encoded is built only on failure, from
 * the inside out (prepend), so encoding costs nothing per key. */
typedef struct enc {
  lua_State *L;
  char *err;
  size_t errlen;
  char what[64];
  char path[256]; /* the path, right-aligned: path + at .. the end */
  size_t at;
} enc;

static json_t *fail(enc *e, const char *what) {
  if (!e->what[0]) snprintf(e->what, sizeof e->what, "%s", what);
  return NULL;
}

/* A failed child's key goes in front of the path. */
static void prepend(enc *e, const char *k, size_t klen, int index) {
  char buf[80];
  int n = index ? snprintf(buf, sizeof buf, "[%.*s]", (int)(klen > 60 ? 60 : klen), k)
                : snprintf(buf, sizeof buf, ".%.*s", (int)(klen > 60 ? 60 : klen), k);
  if (n <= 0 || (size_t)n > e->at) return;
  e->at -= (size_t)n;
  memcpy(e->path + e->at, buf, (size_t)n);
}

/* Whether the table at idx is an array: marked, or keys exactly 1..n. */
static int is_array(lua_State *L, int idx, size_t *n) {
  *n = lua_rawlen(L, idx);
  if (luaL_getmetafield(L, idx, TVC_JSON_KIND) != LUA_TNIL) {
    int arr = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "array") == 0;
    lua_pop(L, 1);
    if (arr) return 1;
  }
  if (*n == 0) return 0;
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (++count > *n) {
      lua_pop(L, 1);
      return 0;
    }
  }
  return count == *n;
}

static json_t *encode(enc *e, int idx, int depth);

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  size_t need = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : 0;
  if (!need || need > n || (need > 1 && s[0] < 0xc2) || s[0] > 0xf4) return need == 1 ? 1 : 0;
  for (size_t i = 1; i < need; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  return need;
}

/* Text that is not UTF-8 (a task name or path from a request, a process's
 * output line): each bad byte becomes U+FFFD, so an answer can always say it. */
static json_t *utf8_string(enc *e, const char *s, size_t len) {
  luaL_Buffer b;
  lua_State *L = e->L;
  luaL_buffinit(L, &b);
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    size_t k = utf8_seq(p + i, len - i);
    if (k && !(k == 3 && p[i] == 0xed && p[i + 1] >= 0xa0) && !(k == 3 && p[i] == 0xe0 && p[i + 1] < 0xa0) &&
        !(k == 4 && p[i] == 0xf0 && p[i + 1] < 0x90) && !(k == 4 && p[i] == 0xf4 && p[i + 1] >= 0x90)) {
      luaL_addlstring(&b, s + i, k);
      i += k;
    } else {
      luaL_addstring(&b, "\xEF\xBF\xBD");
      i++;
    }
  }
  luaL_pushresult(&b);
  size_t n;
  const char *t = lua_tolstring(L, -1, &n);
  json_t *v = json_stringn(t, n);
  lua_pop(L, 1);
  return v ? v : fail(e, "a string that is not UTF-8");
}

static json_t *encode_table(enc *e, int idx, int depth) {
  lua_State *L = e->L;
  size_t n;
  json_t *out;
  if (is_array(L, idx, &n)) {
    out = json_array();
    for (size_t i = 1; out && i <= n; i++) {
      lua_rawgeti(L, idx, (lua_Integer)i);
      json_t *v = encode(e, lua_gettop(L), depth + 1);
      lua_pop(L, 1);
      if (!v || json_array_append_new(out, v) != 0) {
        char num[24];
        prepend(e, num, (size_t)snprintf(num, sizeof num, "%zu", i), 1);
        json_decref(out);
        return NULL;
      }
    }
  } else {
    out = json_object();
    lua_pushnil(L);
    while (out && lua_next(L, idx)) {
      char num[64];
      const char *k;
      size_t klen;
      if (lua_type(L, -2) == LUA_TSTRING) {
        k = lua_tolstring(L, -2, &klen);
      } else if (lua_type(L, -2) == LUA_TNUMBER) {
        if (lua_isinteger(L, -2))
          snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -2));
        else
          snprintf(num, sizeof num, "%.17g", lua_tonumber(L, -2));
        k = num;
        klen = strlen(num);
      } else {
        lua_pop(L, 2);
        json_decref(out);
        return fail(e, "a table key that is neither a string nor a number");
      }
      json_t *v = encode(e, lua_gettop(L), depth + 1);
      if (!v || json_object_setn_new(out, k, klen, v) != 0) {
        if (v) fail(e, "a key that is not UTF-8");
        prepend(e, k, klen, 0);
        lua_pop(L, 2);
        json_decref(out);
        return NULL;
      }
      lua_pop(L, 1);
    }
  }
  return out;
}

static json_t *encode(enc *e, int idx, int depth) {
  lua_State *L = e->L;
  if (depth > TVC_JSON_DEPTH || !lua_checkstack(L, 4)) return fail(e, "nested too deep");
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return json_null();
  case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
    if (!isfinite(lua_tonumber(L, idx))) return json_null(); /* JSON has no inf/nan */
    return json_real(lua_tonumber(L, idx));
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    json_t *v = json_stringn(s, len);
    return v ? v : utf8_string(e, s, len);
  }
  case LUA_TTABLE: return encode_table(e, idx, depth);
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == TVC_JSON_NULL) return json_null();
    /* fall through */
  default: return fail(e, luaL_typename(L, idx));
  }
}

json_t *tvc_json_from_lua(lua_State *L, int idx, char *err, size_t errlen) {
  enc e;
  e.L = L, e.err = err, e.errlen = errlen, e.what[0] = 0, e.at = sizeof e.path;
  err[0] = 0;
  json_t *v = encode(&e, lua_absindex(L, idx), 0);
  if (!v) {
    size_t plen = sizeof e.path - e.at;
    const char *p = e.path + e.at;
    if (plen && *p == '.') p++, plen--;
    snprintf(err, errlen, "%.*s%s%s", (int)plen, p, plen ? ": " : "", e.what[0] ? e.what : "not enough memory");
  }
  return v;
}
