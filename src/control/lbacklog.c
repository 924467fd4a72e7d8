/* lbacklog.c - S.backlog(sup, cap): the control API's event backlog as a Lua
 * object, with :events(since, limit) (the JSON text of a /v1/events answer,
 * or nil and the oldest kept seq), :gone(since), :follow(stream, since,
 * limit), :followers(), :last() and :close().
 * Owner: the userdata owns its tvc_backlog_t until :close() or __gc; a
 * follower takes the stream's writer reference out of its userdata. */
#include <lauxlib.h>

#include "backlog.h"
#include "core/base/error.h"
#include "lserver.h"
#include "lsup.h"

#define BACKLOG_MT "taskvisor.control.backlog"
#define MAX_BACKLOG (1 << 24)

typedef struct lbacklog {
  tvc_backlog_t *b; /* NULL once closed */
} lbacklog;

static tvc_backlog_t *check_open(lua_State *L) {
  lbacklog *lb = luaL_checkudata(L, 1, BACKLOG_MT);
  if (!lb->b) luaL_error(L, "the event backlog is closed");
  return lb->b;
}

/* An optional seq argument: -1 when nil. */
static int64_t opt_since(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return -1;
  lua_Integer v = luaL_checkinteger(L, idx);
  luaL_argcheck(L, v >= 0, idx, "'since' must be an event seq (an integer >= 0)");
  return (int64_t)v;
}

static uint64_t opt_limit(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return 0;
  lua_Integer v = luaL_checkinteger(L, idx);
  luaL_argcheck(L, v >= 1, idx, "'limit' must be an integer >= 1");
  return (uint64_t)v;
}

/* backlog(sup, cap): the backlog of sup's events (cap kept; 10,000 when nil),
 * or nil and "CODE: message". */
static int l_backlog(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  lua_Integer cap = luaL_optinteger(L, 2, 10000);
  luaL_argcheck(L, cap >= 1 && cap <= MAX_BACKLOG, 2, "'backlog' must be an integer in [1, 16777216]");
  lbacklog *lb = lua_newuserdatauv(L, sizeof *lb, 0);
  lb->b = NULL;
  luaL_setmetatable(L, BACKLOG_MT);
  int rc = tvc_backlog_open(s->sup, (uint32_t)cap, &lb->b);
  if (rc != 0) {
    lb->b = NULL;
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", tv_err_name(rc), tv_strerror(rc));
    return 2;
  }
  return 1;
}

/* b:events(since, limit): the answer's JSON text, or nil and the oldest kept
 * seq when since has fallen out. */
static int backlog_events(lua_State *L) {
  tvc_backlog_t *b = check_open(L);
  int64_t since = opt_since(L, 2);
  uint64_t limit = opt_limit(L, 3), oldest = 0;
  tvc_buf_t out = {0};
  int rc = tvc_backlog_events(b, since, limit, &out, &oldest);
  if (rc == 0) lua_pushlstring(L, out.p, out.len);
  tvc_buf_free(&out);
  if (rc < 0) return luaL_error(L, "not enough memory");
  if (rc == 1) {
    lua_pushnil(L);
    lua_pushinteger(L, (lua_Integer)oldest);
    return 2;
  }
  return 1;
}

/* b:gone(since): the oldest kept seq when since has fallen out, else nil. */
static int backlog_gone(lua_State *L) {
  tvc_backlog_t *b = check_open(L);
  uint64_t oldest;
  if (!tvc_backlog_gone(b, opt_since(L, 2), &oldest)) return 0;
  lua_pushinteger(L, (lua_Integer)oldest);
  return 1;
}

/* b:follow(stream, since, limit): the stream is the follower's from now on
 * (its Lua object is left ended). true, or nil and "CODE: message". */
static int backlog_follow(lua_State *L) {
  tvc_backlog_t *b = check_open(L);
  tvc_lstream *ls = luaL_checkudata(L, 2, TVC_LSTREAM_MT);
  int64_t since = opt_since(L, 3);
  uint64_t limit = opt_limit(L, 4);
  if (!ls->st) return luaL_error(L, "the stream is already ended");
  tvc_stream_t *st = ls->st;
  ls->st = NULL;
  int rc = tvc_backlog_follow(b, st, since, limit);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", tv_err_name(rc), tv_strerror(rc));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int backlog_followers(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)tvc_backlog_followers(check_open(L)));
  return 1;
}

static int backlog_last(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)tvc_backlog_last(check_open(L)));
  return 1;
}

/* b:close(): ends every follower and unsubscribes (idempotent). */
static int backlog_close(lua_State *L) {
  lbacklog *lb = luaL_checkudata(L, 1, BACKLOG_MT);
  if (lb->b) tvc_backlog_close(lb->b);
  lb->b = NULL;
  return 0;
}

void tvc_lbacklog_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"events", backlog_events}, {"gone", backlog_gone},
                                     {"follow", backlog_follow}, {"followers", backlog_followers},
                                     {"last", backlog_last}, {"close", backlog_close},
                                     {NULL, NULL}};
  luaL_newmetatable(L, BACKLOG_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, backlog_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_backlog);
  lua_setfield(L, -2, "backlog");
}
