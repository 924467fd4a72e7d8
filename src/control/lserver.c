/* lserver.c - taskvisor.control.server for Lua: listen(path), serve{...}
 * with a Lua handler per request, streams, json encode/decode. The handler
 * runs on the loop (in a thread of the server's own, never yielding) and
 * answers status, value: a value encoded as JSON, a string with a content
 * type, or a stream (M.STREAM, content type, on_open(stream)).
 * Owner: the server userdata owns its tvc_server_t until :close() (or __gc);
 * a stream userdata holds the writer's reference of its tvc_stream_t (until a
 * backlog's follower takes it over: lbacklog.c). */
#include <errno.h>
#include <grp.h>
#include <lauxlib.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "core/kinds/process.h"
#include "json.h"
#include "lbacklog.h"
#include "lbase.h"
#include "listener.h"
#include "tcp.h"
#include "lserver.h"
#include "lstatus.h"
#include "server.h"

#define SERVER_MT "taskvisor.control.server"
#define STREAM_MT TVC_LSTREAM_MT
#define MAX_BODY (64 * 1024)

typedef struct lserver {
  tvc_server_t *srv; /* NULL once closed */
  lua_State *T;      /* our thread for handler calls (anchored by thread_ref) */
  int handler_ref, thread_ref, tick_ref;
  uv_loop_t *loop;
} lserver;

typedef tvc_lstream lstream;

/* ---- json -------------------------------------------------------------------- */

/* encode(v): the JSON text, or nil and what could not be encoded. */
static int l_encode(lua_State *L) {
  char err[320];
  luaL_checkany(L, 1);
  json_t *j = tvc_json_from_lua(L, 1, err, sizeof err);
  if (!j) {
    lua_pushnil(L);
    lua_pushfstring(L, "EINVAL: cannot encode as JSON: %s", err);
    return 2;
  }
  char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(j);
  if (!text) return luaL_error(L, "not enough memory");
  lua_pushstring(L, text);
  free(text);
  return 1;
}

/* Pushes the value of JSON text, or nil + "EBADJSON: ...". Returns 1 or 2. */
static int decode(lua_State *L, const char *s, size_t len) {
  json_error_t e;
  json_t *j = json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
  if (!j) {
    lua_pushnil(L);
    lua_pushfstring(L, "EBADJSON: malformed JSON at line %d, column %d: %s", e.line, e.column, e.text);
    return 2;
  }
  int rc = tvc_json_push(L, j);
  json_decref(j);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "EBADJSON: JSON nested deeper than %d levels", TVC_JSON_DEPTH);
    return 2;
  }
  return 1;
}

static int l_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  return decode(L, s, len);
}

/* ---- listen ------------------------------------------------------------------ */

/* listen(path): fd, or nil, message, pid of the live host answering there. */
static int l_listen(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char err[512];
  pid_t pid;
  int fd = tvc_listen(path, &pid, err, sizeof err);
  if (fd >= 0) {
    lua_pushinteger(L, fd);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, err);
  if (fd == -EADDRINUSE) {
    lua_pushinteger(L, pid);
    return 3;
  }
  return 2;
}

/* listen_tcp(host, port): the fd and the port bound (port 0: any free one),
 * or nil and a message (the --http listener: tcp.c). */
static int l_listen_tcp(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  lua_Integer port = luaL_checkinteger(L, 2);
  char err[256];
  int bound = 0;
  int fd = tvc_listen_tcp(host, (int)port, &bound, err, sizeof err);
  if (fd < 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushinteger(L, fd);
  lua_pushinteger(L, bound);
  return 2;
}

/* write_secret(path, text): true, or nil and a message (tcp.c). */
static int l_write_secret(lua_State *L) {
  size_t len;
  const char *path = luaL_checkstring(L, 1), *data = luaL_checklstring(L, 2, &len);
  char err[320];
  if (tvc_write_secret(path, data, len, err, sizeof err) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

/* close_fd(fd): a socket listen() returned that will not be served. */
static int l_close_fd(lua_State *L) {
  close((int)luaL_checkinteger(L, 1));
  return 0;
}

/* ---- streams ----------------------------------------------------------------- */

static lstream *check_stream(lua_State *L) { return luaL_checkudata(L, 1, STREAM_MT); }

/* stream:write(text): true, or nil when the client is gone or too far behind. */
static int stream_write(lua_State *L) {
  lstream *ls = check_stream(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  if (ls->st && tvc_stream_write(ls->st, s, len) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushliteral(L, "EPIPE: the client is gone or does not keep up");
  return 2;
}

static int stream_alive(lua_State *L) {
  lstream *ls = check_stream(L);
  lua_pushboolean(L, ls->st && tvc_stream_alive(ls->st));
  return 1;
}

/* stream:pending(): bytes written that the client has not taken yet (0 once
 * it is gone). */
static int stream_pending(lua_State *L) {
  lstream *ls = check_stream(L);
  lua_pushinteger(L, ls->st && tvc_stream_alive(ls->st) ? (lua_Integer)tvc_stream_pending(ls->st) : 0);
  return 1;
}

/* stream:close(): the end of the body (idempotent). */
static int stream_close(lua_State *L) {
  lstream *ls = check_stream(L);
  if (ls->st) tvc_stream_end(ls->st);
  ls->st = NULL;
  return 0;
}

/* ---- requests ---------------------------------------------------------------- */

static void push_arg(void *arg, const char *k, const char *v) {
  lua_State *L = arg;
  if (lua_getfield(L, -1, k) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, k);
  }
  if (v)
    lua_pushstring(L, v);
  else
    lua_pushliteral(L, "");
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
}

/* The request as a table: method, path, query (name -> list of values),
 * body (decoded JSON or nil), peer. 0, or -1 when the body is not JSON
 * (the 400 is sent). */
static int push_request(lua_State *T, tvc_request_t *r) {
  lua_createtable(T, 0, 5);
  lua_pushstring(T, tvc_request_method(r));
  lua_setfield(T, -2, "method");
  lua_pushstring(T, tvc_request_path(r));
  lua_setfield(T, -2, "path");
  lua_newtable(T);
  tvc_request_args(r, push_arg, T);
  lua_setfield(T, -2, "query");
  const tvc_peer_t *p = tvc_request_peer(r);
  lua_createtable(T, 0, 3);
  lua_pushinteger(T, p->uid);
  lua_setfield(T, -2, "uid");
  lua_pushinteger(T, p->gid);
  lua_setfield(T, -2, "gid");
  lua_pushinteger(T, p->pid);
  lua_setfield(T, -2, "pid");
  lua_setfield(T, -2, "peer");
  static const char *const headers[] = {"host", "origin", "x-taskvisor-token", "authorization",
                                        "sec-fetch-site", NULL}; /* (the --http checks: issue 16) */
  lua_createtable(T, 0, 5);
  for (const char *const *h = headers; *h; h++) {
    const char *v = tvc_request_header(r, *h);
    if (v) {
      lua_pushstring(T, v);
      lua_setfield(T, -2, *h);
    }
  }
  lua_setfield(T, -2, "headers");
  size_t len;
  const char *body = tvc_request_body(r, &len);
  size_t i = 0;
  while (i < len && strchr(" \t\r\n", body[i])) i++;
  if (i < len) {
    if (decode(T, body, len) == 2) {
      tvc_reply_error(r, 400, "EBADJSON", lua_tostring(T, -1) + sizeof "EBADJSON: " - 1);
      return -1;
    }
    lua_setfield(T, -2, "body");
  }
  return 0;
}

static void reply_json(lua_State *T, tvc_request_t *r, unsigned status, int idx) {
  char err[320];
  json_t *j = tvc_json_from_lua(T, idx, err, sizeof err);
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(j);
  if (!text) {
    fprintf(stderr, "taskvisor: control: %s %s: cannot encode the answer: %s\n",
            tvc_request_method(r), tvc_request_path(r), err);
    tvc_reply_error(r, 500, "EINTERNAL", "cannot encode the answer as JSON");
    return;
  }
  size_t n = strlen(text);
  text[n] = '\n'; /* (json_dumps leaves room: its NUL) */
  tvc_reply(r, status, "application/json", text, n + 1);
  free(text);
}

static void open_stream(lua_State *T, tvc_request_t *r, unsigned status, int base) {
  const char *ctype = luaL_optstring(T, base + 2, "application/x-ndjson");
  lstream *ls = lua_newuserdatauv(T, sizeof *ls, 0);
  ls->st = NULL;
  luaL_setmetatable(T, STREAM_MT);
  ls->st = tvc_reply_stream(r, status, ctype);
  if (!ls->st) {
    tvc_reply_error(r, 500, "ENOMEM", "cannot open a stream");
    return;
  }
  if (lua_type(T, base + 3) != LUA_TFUNCTION) return;
  lua_pushvalue(T, base + 3);
  lua_pushvalue(T, -2);
  if (lua_pcall(T, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "taskvisor: control: %s %s: %s\n", tvc_request_method(r), tvc_request_path(r),
            lua_tostring(T, -1));
    if (ls->st) tvc_stream_end(ls->st); /* (NULL: a follower took it over, and ended it) */
    ls->st = NULL;
  }
}

static int traceback(lua_State *L) {
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

/* A complete request: the Lua handler answers it. */
static void on_request(void *data, tvc_request_t *r) {
  lserver *s = data;
  lua_State *T = s->T;
  int top = lua_gettop(T);
  if (!lua_checkstack(T, 16)) {
    tvc_reply_error(r, 500, "ENOMEM", "not enough memory");
    return;
  }
  lua_pushcfunction(T, traceback);
  lua_rawgeti(T, LUA_REGISTRYINDEX, s->handler_ref);
  if (push_request(T, r) != 0) {
    lua_settop(T, top);
    return;
  }
  if (lua_pcall(T, 1, 4, top + 1) != LUA_OK) {
    fprintf(stderr, "taskvisor: control: %s %s: %s\n", tvc_request_method(r), tvc_request_path(r),
            lua_tostring(T, -1));
    fflush(stderr);
    tvc_reply_error(r, 500, "EINTERNAL", "the request handler failed (see the host's stderr)");
    lua_settop(T, top);
    return;
  }
  int base = top + 2; /* status, value, ctype, on_open */
  unsigned status = (unsigned)luaL_optinteger(T, base, 200);
  lua_getfield(T, LUA_REGISTRYINDEX, STREAM_MT ".marker");
  int is_stream = lua_rawequal(T, -1, base + 1);
  lua_pop(T, 1);
  if (is_stream)
    open_stream(T, r, status, base);
  else if (lua_type(T, base + 1) == LUA_TSTRING && lua_type(T, base + 2) == LUA_TSTRING) {
    size_t len;
    const char *body = lua_tolstring(T, base + 1, &len);
    tvc_reply(r, status, lua_tostring(T, base + 2), body, len);
  } else
    reply_json(T, r, status, base + 1);
  lua_settop(T, top);
}

/* The tick function (pcall; its errors are logged). */
static void on_tick(void *data) {
  lserver *s = data;
  lua_State *T = s->T;
  int top = lua_gettop(T);
  lua_pushcfunction(T, traceback);
  lua_rawgeti(T, LUA_REGISTRYINDEX, s->tick_ref);
  if (lua_type(T, -1) == LUA_TFUNCTION && lua_pcall(T, 0, 0, top + 1) != LUA_OK) {
    fprintf(stderr, "taskvisor: control: tick: %s\n", lua_tostring(T, -1));
    fflush(stderr);
  }
  lua_settop(T, top);
}

/* ---- the server -------------------------------------------------------------- */

static lserver *check_server(lua_State *L) { return luaL_checkudata(L, 1, SERVER_MT); }

static unsigned opt_uint(lua_State *L, const char *k, unsigned def) {
  lua_getfield(L, 1, k);
  lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : def;
  lua_pop(L, 1);
  return v < 0 ? def : (unsigned)v;
}

/* serve{ fd =, handler =, idle_timeout = 10, max_conn = 64, group = gid }:
 * a server on the loop, or nil + message (fd is closed either way). */
static int l_serve(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "fd");
  int fd = (int)luaL_checkinteger(L, -1);
  lua_getfield(L, 1, "handler");
  luaL_checktype(L, -1, LUA_TFUNCTION);
  ltv_ctx *ctx = ltv_ctx_get(L);
  if (!ctx || !ctx->loop) return luaL_error(L, "control: taskvisor.core is not loaded");
  lserver *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  s->handler_ref = s->thread_ref = s->tick_ref = LUA_NOREF;
  luaL_setmetatable(L, SERVER_MT);
  s->loop = ctx->loop;
  lua_pushvalue(L, -2);
  s->handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, 1, "on_tick");
  s->tick_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  s->T = lua_newthread(L);
  s->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, 1, "group");
  gid_t group = lua_isinteger(L, -1) ? (gid_t)lua_tointeger(L, -1) : TVC_NO_GROUP;
  lua_pop(L, 1);
  tvc_server_cfg_t cfg = {opt_uint(L, "idle_timeout", 10), opt_uint(L, "max_conn", 64), MAX_BODY,
                          group, on_request, on_tick, s, 0};
  lua_getfield(L, 1, "tcp");
  cfg.tcp = lua_toboolean(L, -1);
  lua_pop(L, 1);
  char err[256];
  if (tvc_server_start(ctx->loop, fd, &cfg, &s->srv, err, sizeof err) != 0) {
    s->srv = NULL;
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

static void server_release(lua_State *L, lserver *s) {
  if (s->srv) {
    tvc_server_close(s->srv);
    s->srv = NULL;
    ltv_ctx *ctx = ltv_ctx_get(L);
    /* the handles' close callbacks: now, unless a run drives the loop */
    if (ctx && ctx->loop && !ctx->running) uv_run(s->loop, UV_RUN_NOWAIT);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, s->handler_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, s->thread_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, s->tick_ref);
  s->handler_ref = s->thread_ref = s->tick_ref = LUA_NOREF;
  s->T = NULL;
}

/* server:close(): ends every stream, closes the socket (idempotent). */
static int server_close(lua_State *L) {
  server_release(L, check_server(L));
  return 0;
}

/* server:tick(seconds): on_tick every so often (0: stop). */
static int server_tick(lua_State *L) {
  lserver *s = check_server(L);
  double secs = luaL_checknumber(L, 2);
  if (s->srv) tvc_server_tick(s->srv, secs > 0 ? (uint64_t)(secs * 1000) + 1 : 0);
  return 0;
}

/* reopen_logs(): closes every process task's log files (reopened by path at
 * the next write), as SIGHUP does; how many were open. */
static int l_reopen_logs(lua_State *L) {
  lua_pushinteger(L, tv_process_reopen_logs());
  return 1;
}

/* host(): pid, uid and the wall clock (seconds since the epoch, float). */
static int l_host(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushinteger(L, getpid());
  lua_pushinteger(L, getuid());
  lua_pushnumber(L, (double)ts.tv_sec + ts.tv_nsec / 1e9);
  return 3;
}

/* gid(name): the group's id, or nil. */
static int l_gid(lua_State *L) {
  struct group *g = getgrnam(luaL_checkstring(L, 1));
  if (!g) return 0;
  lua_pushinteger(L, g->gr_gid);
  return 1;
}

static int server_connections(lua_State *L) {
  lserver *s = check_server(L);
  lua_pushinteger(L, s->srv ? tvc_server_connections(s->srv) : 0);
  return 1;
}

static int l_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) lua_newtable(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_getmetatable(L, "taskvisor.control.array");
  lua_setmetatable(L, 1);
  return 1;
}

int luaopen_taskvisor_control_server(lua_State *L) {
  static const luaL_Reg stream_m[] = {{"write", stream_write}, {"alive", stream_alive},
                                      {"pending", stream_pending}, {"close", stream_close},
                                      {NULL, NULL}};
  static const luaL_Reg server_m[] = {{"close", server_close}, {"connections", server_connections},
                                      {"tick", server_tick},
                                      {NULL, NULL}};
  luaL_newmetatable(L, STREAM_MT);
  luaL_newlib(L, stream_m);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, stream_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, SERVER_MT);
  luaL_newlib(L, server_m);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, server_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, "taskvisor.control.array");
  lua_pushliteral(L, "array");
  lua_setfield(L, -2, TVC_JSON_KIND);
  lua_pop(L, 1);

  static const luaL_Reg funcs[] = {{"listen", l_listen}, {"listen_tcp", l_listen_tcp},
                                   {"write_secret", l_write_secret}, {"serve", l_serve}, {"encode", l_encode},
                                   {"decode", l_decode}, {"array", l_array}, {"reopen_logs", l_reopen_logs},
                                   {"host", l_host}, {"gid", l_gid}, {"close_fd", l_close_fd},
                                   {NULL, NULL}};
  luaL_newlib(L, funcs);
  tvc_status_open(L);
  tvc_metrics_open(L);
  tvc_lbacklog_open(L); /* S.backlog */
  lua_pushlightuserdata(L, TVC_JSON_NULL);
  lua_setfield(L, -2, "null");
  lua_newtable(L); /* the marker a handler returns to open a stream */
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, STREAM_MT ".marker");
  lua_setfield(L, -2, "STREAM");
  lua_pushinteger(L, MAX_BODY);
  lua_setfield(L, -2, "MAX_BODY");
  return 1;
}
