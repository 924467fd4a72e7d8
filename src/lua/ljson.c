/* ljson.c - core.json_encode(value [, opts]): Lua values to compact JSON text
 * by jansson. Tables with exactly the keys 1..n (or marked __json = "array")
 * are arrays, others objects; integers stay integers; inf/nan become null.
 * opts.lossy: text that is not UTF-8 (a process's output line can be any
 * bytes) is written with U+FFFD in place of each bad byte instead of failing;
 * opts.first: keys written first, so a log line reads seq, at, kind... */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ljson.h"

typedef struct enc {
  lua_State *L;
  const ltv_json_opts_t *o;
  char *err;
  size_t errlen;
  char path[192];
} enc;

static json_t *fail(enc *e, const char *what) {
  if (!e->err[0]) snprintf(e->err, e->errlen, "%s%s%s", e->path, e->path[0] ? ": " : "", what);
  return NULL;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) len = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) len = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, min = 0x10000;
  else return 0;
  if (n < len) return 0;
  unsigned cp = c & (0x3f >> (len - 1));
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

json_t *ltv_json_lossy_string(const char *s, size_t len) {
  char *buf = malloc(len * 3 + 1);
  if (!buf) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    size_t k = utf8_seq((const unsigned char *)s + i, len - i);
    if (k) {
      memcpy(buf + o, s + i, k);
      o += k, i += k;
    } else {
      memcpy(buf + o, "\xef\xbf\xbd", 3);
      o += 3, i++;
    }
  }
  json_t *v = json_stringn_nocheck(buf, o);
  free(buf);
  return v;
}

static json_t *string_at(enc *e, int idx) {
  size_t len;
  const char *s = lua_tolstring(e->L, idx, &len);
  json_t *v = json_stringn(s, len);
  if (!v && e->o->lossy) v = ltv_json_lossy_string(s, len);
  return v ? v : fail(e, "a string that is not UTF-8");
}

static int is_array(lua_State *L, int idx, size_t *n) {
  *n = lua_rawlen(L, idx);
  if (luaL_getmetafield(L, idx, "__json") != LUA_TNIL) {
    int arr = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "array") == 0;
    lua_pop(L, 1);
    if (arr) return 1;
  }
  if (*n == 0) return 0;
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (++count > *n || !lua_isinteger(L, -1)) {
      lua_pop(L, 1);
      return 0;
    }
  }
  return count == *n;
}

static json_t *encode(enc *e, int idx, int depth);

static int is_first(enc *e, const char *k) {
  for (const char *const *f = e->o->first; f && *f; f++)
    if (strcmp(*f, k) == 0) return 1;
  return 0;
}

/* Encodes the value on top of the stack under key k (klen bytes) into out. */
static int put(enc *e, json_t *out, const char *k, size_t klen, int depth, size_t plen) {
  snprintf(e->path + plen, sizeof e->path - plen, "%s%.*s", plen ? "." : "", (int)klen, k);
  json_t *v = encode(e, lua_gettop(e->L), depth + 1);
  if (!v) return -1;
  if (json_object_setn_new(out, k, klen, v) != 0) {
    fail(e, "a key that is not UTF-8");
    return -1;
  }
  return 0;
}

static json_t *encode_object(enc *e, int idx, int depth, size_t plen) {
  lua_State *L = e->L;
  json_t *out = json_object();
  if (!out) return fail(e, "not enough memory");
  if (depth == 0)
    for (const char *const *f = e->o->first; f && *f; f++) {
      lua_getfield(L, idx, *f);
      int bad = !lua_isnil(L, -1) && put(e, out, *f, strlen(*f), depth, plen) != 0;
      lua_pop(L, 1);
      if (bad) goto fail;
    }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    char num[64];
    const char *k;
    size_t klen;
    if (lua_type(L, -2) == LUA_TSTRING) {
      k = lua_tolstring(L, -2, &klen);
      if (depth == 0 && is_first(e, k)) {
        lua_pop(L, 1);
        continue;
      }
    } else if (lua_type(L, -2) == LUA_TNUMBER) {
      if (lua_isinteger(L, -2))
        snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -2));
      else
        snprintf(num, sizeof num, "%.17g", lua_tonumber(L, -2));
      k = num;
      klen = strlen(num);
    } else {
      lua_pop(L, 2);
      fail(e, "a table key that is neither a string nor a number");
      goto fail;
    }
    if (put(e, out, k, klen, depth, plen) != 0) {
      lua_pop(L, 2);
      goto fail;
    }
    lua_pop(L, 1);
  }
  return out;
fail:
  json_decref(out);
  return NULL;
}

static json_t *encode_table(enc *e, int idx, int depth) {
  lua_State *L = e->L;
  size_t n, plen = strlen(e->path);
  json_t *out;
  if (is_array(L, idx, &n)) {
    out = json_array();
    for (size_t i = 1; out && i <= n; i++) {
      snprintf(e->path + plen, sizeof e->path - plen, "[%zu]", i);
      lua_rawgeti(L, idx, (lua_Integer)i);
      json_t *v = encode(e, lua_gettop(L), depth + 1);
      lua_pop(L, 1);
      if (!v || json_array_append_new(out, v) != 0) {
        json_decref(out);
        return NULL;
      }
    }
    if (!out) return fail(e, "not enough memory");
  } else {
    out = encode_object(e, idx, depth, plen);
  }
  if (out) e->path[plen] = 0;
  return out;
}

/* An object that lists its fields through __pairs (the binding's events) as
 * the table of those fields. */
static json_t *encode_fields(enc *e, int idx, int depth) {
  lua_State *L = e->L;
  if (luaL_getmetafield(L, idx, "__pairs") == LUA_TNIL) return fail(e, "userdata");
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, 3, 0) != LUA_OK) {
    lua_pop(L, 1);
    return fail(e, "userdata (its __pairs failed)");
  }
  lua_newtable(L);
  int t = lua_gettop(L); /* next function t-3, state t-2, control t-1 */
  for (;;) {
    lua_pushvalue(L, t - 3);
    lua_pushvalue(L, t - 2);
    lua_pushvalue(L, t - 1);
    if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
      lua_settop(L, t - 4);
      return fail(e, "userdata (its __pairs failed)");
    }
    if (lua_isnil(L, -2)) {
      lua_pop(L, 2);
      break;
    }
    lua_pushvalue(L, -2);
    lua_replace(L, t - 1);
    lua_rawset(L, t);
  }
  json_t *v = encode_table(e, t, depth);
  lua_settop(L, t - 4);
  return v;
}

static json_t *encode(enc *e, int idx, int depth) {
  lua_State *L = e->L;
  if (depth > LTV_JSON_DEPTH || !lua_checkstack(L, 4)) return fail(e, "nested too deep");
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return json_null();
  case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
    if (!isfinite(lua_tonumber(L, idx))) return json_null(); /* JSON has no inf/nan */
    return json_real(lua_tonumber(L, idx));
  case LUA_TSTRING: return string_at(e, idx);
  case LUA_TTABLE: return encode_table(e, idx, depth);
  case LUA_TUSERDATA: return encode_fields(e, idx, depth);
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) return json_null();
    /* fall through */
  default: return fail(e, luaL_typename(L, idx));
  }
}

json_t *ltv_json_from_lua(lua_State *L, int idx, const ltv_json_opts_t *o, char *err, size_t errlen) {
  static const ltv_json_opts_t none = {0, NULL};
  enc e = {L, o ? o : &none, err, errlen, {0}};
  err[0] = 0;
  return encode(&e, lua_absindex(L, idx), 0);
}

#define MAX_FIRST 16

/* core.json_encode(value [, { lossy = bool, first = { key... } }]): the JSON
 * text, or nil and what could not be encoded. */
static int l_json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  const char *first[MAX_FIRST + 1] = {NULL};
  ltv_json_opts_t o = {0, first};
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "lossy");
    o.lossy = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "first") == LUA_TTABLE) {
      lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
      if (n > MAX_FIRST) return luaL_error(L, "json_encode: 'first' lists at most %d keys", MAX_FIRST);
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i); /* (anchored by the table, which stays on the stack) */
        first[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1);
        if (!first[i - 1]) return luaL_error(L, "json_encode: 'first[%d]' must be a string", (int)i);
      }
    }
  }
  char err[256];
  json_t *v = ltv_json_from_lua(L, 1, &o, err, sizeof err);
  if (!v) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(v);
  if (!s) return luaL_error(L, "json_encode: not enough memory");
  lua_pushstring(L, s);
  free(s);
  return 1;
}

void ltv_json_open(lua_State *L) {
  lua_pushcfunction(L, l_json_encode);
  lua_setfield(L, -2, "json_encode");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "json_null");
}
