/* lstatus.c - the control API's task views, read in C from the core's status
 * (core/supervision/status.h) rather than from Lua tables: the tasks of
 * GET /v1/tasks as JSON text (jansson) and the host's task counts. A request
 * about 10,000 tasks builds no Lua value per task, and nothing here
 * subscribes to events: the state is the core's, read when asked. */
#include "lstatus.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "core/events/event.h"
#include "core/loop/signals.h"
#include "jbuf.h"
#include "tasklist.h"

/* Pushes info[name] (a table) or nothing; returns whether it pushed. */
static int push_info(lua_State *L, int info, const tv_str_t *name) {
  if (!info) return 0;
  lua_pushlstring(L, name->s, name->len);
  if (lua_rawget(L, info) == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  return 0;
}

/* ---- one task as JSON ----------------------------------------------------------- */

static void put_tvstr(jbuf_t *b, const tv_str_t *s) {
  if (s) jb_str(b, s->s, s->len);
  else jb_cstr(b, "null");
}

/* info.field (info at the stack top), a string or NULL. */
static const char *info_str(lua_State *L, const char *field, size_t *len) {
  lua_getfield(L, -1, field);
  const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
  lua_pop(L, 1); /* (info still holds the string) */
  return s;
}

static void put_info_str(jbuf_t *b, lua_State *L, const char *field) {
  size_t len;
  const char *s = info_str(L, field, &len);
  if (s) jb_str(b, s, len);
  else jb_cstr(b, "null");
}

static void put_children(jbuf_t *b, lua_State *L, int has_info) {
  jb_put(b, "[", 1);
  if (has_info) {
    lua_getfield(L, -1, "children");
    if (lua_istable(L, -1)) {
      lua_Integer n = luaL_len(L, -1);
      for (lua_Integer k = 1; k <= n; k++) {
        size_t len;
        lua_rawgeti(L, -1, k);
        const char *s = lua_tolstring(L, -1, &len);
        if (s) {
          if (k > 1) jb_put(b, ",", 1);
          jb_str(b, s, len);
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  jb_put(b, "]", 1);
}

/* "group/name", or "name". */
static void put_path(jbuf_t *b, const tv_str_t *group, const tv_str_t *name) {
  if (!group) {
    jb_str(b, name->s, name->len);
    return;
  }
  size_t n = group->len + 1 + name->len;
  char *p = malloc(n);
  if (!p) {
    b->failed = 1;
    return;
  }
  memcpy(p, group->s, group->len);
  p[group->len] = '/';
  memcpy(p + group->len + 1, name->s, name->len);
  jb_str(b, p, n);
  free(p);
}

static void put_last_exit(jbuf_t *b, const tvc_tasks_t *l, const tv_status_t *st, int process) {
  if (!st->has_last) {
    jb_cstr(b, "null");
    return;
  }
  const tv_str_t *why = st->last_reason;
  int op = why && why->len == 8 && memcmp(why->s, "operator", 8) == 0;
  jb_cstr(b, "{\"code\":");
  if (st->last_has_code) jb_int(b, st->last_code);
  else jb_cstr(b, !st->last_failed && !why && process ? "0" : "null"); /* a clean end of a process */
  jb_cstr(b, ",\"signal\":");
  if (st->last_signal) jb_str(b, tv_signal_name(st->last_signal), strlen(tv_signal_name(st->last_signal)));
  else jb_cstr(b, "null");
  jb_cstr(b, ",\"reason\":");
  if (op) jb_cstr(b, "\"stopped by an operator\"");
  else if (why) put_tvstr(b, why);
  else jb_cstr(b, st->last_failed ? "\"failed\"" : st->state == TV_ST_EXITED ? "\"completed\"" : "\"stopped\"");
  jb_cstr(b, ",\"at\":");
  if (st->last_at) jb_secs(b, tvc_wall_of(l, st->last_at));
  else jb_cstr(b, "null");
  jb_put(b, "}", 1);
}

static void put_bool(jbuf_t *b, int v) { jb_cstr(b, v ? "true" : "false"); }

/* One task's object (docs/control-api.md, "A task"). */
static void put_task(jbuf_t *b, lua_State *L, const tvc_tasks_t *l, const tv_str_t *name,
                     const tv_status_t *st, int has_info) {
  size_t klen = 0;
  const char *kind = st->registered && st->kind ? st->kind : NULL;
  if (kind) klen = strlen(kind);
  else if (has_info) kind = info_str(L, "kind", &klen);
  if (!kind) kind = st->kind ? st->kind : "task", klen = strlen(kind);
  jb_cstr(b, "{\"name\":");
  jb_str(b, name->s, name->len);
  jb_cstr(b, ",\"kind\":");
  jb_str(b, kind, klen);
  jb_cstr(b, ",\"group\":");
  if (has_info) put_info_str(b, L, "group");
  else put_tvstr(b, st->group);
  jb_cstr(b, ",\"path\":");
  if (has_info) put_info_str(b, L, "path");
  else put_path(b, st->group, name);
  jb_cstr(b, ",\"state\":\"");
  jb_cstr(b, tv_status_name(st->state));
  jb_cstr(b, "\",\"since\":");
  jb_secs(b, tvc_wall_of(l, st->since));
  jb_cstr(b, ",\"pid\":");
  if (st->pid) jb_int(b, st->pid);
  else jb_cstr(b, "null");
  jb_cstr(b, ",\"attempt\":");
  jb_int(b, st->attempt);
  jb_cstr(b, ",\"restarts\":");
  jb_int(b, st->restarts);
  jb_cstr(b, ",\"uptime\":");
  if (st->started && (st->state == TV_ST_RUNNING || st->state == TV_ST_STARTING))
    jb_secs(b, (double)(l->now - st->started) / 1000.0);
  else
    jb_cstr(b, "0");
  jb_cstr(b, ",\"ready\":");
  put_bool(b, st->ready);
  jb_cstr(b, ",\"operator_stopped\":");
  put_bool(b, st->operator_stopped);
  jb_cstr(b, ",\"last_exit\":");
  put_last_exit(b, l, st, klen == 7 && memcmp(kind, "process", 7) == 0);
  jb_cstr(b, ",\"next_retry_at\":");
  if (st->state == TV_ST_BACKOFF && st->next_retry) jb_secs(b, tvc_wall_of(l, st->next_retry));
  else jb_cstr(b, "null");
  jb_cstr(b, ",\"children\":");
  put_children(b, L, has_info);
  jb_put(b, "}", 1);
}

/* The arguments of every view: (sup, order, info, started_at [, names]). */
static const tv_sup_t *view_args(lua_State *L, int *order, int *info, double *started) {
  lua_settop(L, 6);
  const tv_sup_t *sup = tvc_sup_arg(L);
  *order = lua_istable(L, 2) ? 2 : 0;
  *info = lua_istable(L, 3) ? 3 : 0;
  *started = luaL_optnumber(L, 4, 0);
  return sup;
}

/* tasks_json(sup, order, info, started_at [, names [, changed_since]]): the
 * JSON text of {"tasks": [...]}: every task (the config's, in `order`,
 * described by info[name] = { kind =, group =, path =, children = }, then
 * every other registered one by name), or those of the array `names` in its
 * order; nil + "ENOENT: no task 'x'" for a name unknown now and before.
 * changed_since (wall s): only tasks whose state was entered, or whose last
 * attempt ended, since then (a new attempt counts as entering its state). */
static int l_tasks_json(lua_State *L) {
  int order, info;
  double started;
  const tv_sup_t *sup = view_args(L, &order, &info, &started);
  int names = lua_istable(L, 5) ? 5 : 0;
  tvc_tasks_t l;
  lua_Integer unknown;
  int has_since = !lua_isnoneornil(L, 6);
  double since = has_since ? luaL_checknumber(L, 6) : 0; /* (checked before anything is held) */
  if (tvc_tasks_list(L, sup, names ? names : order, names != 0, info, started, &l, &unknown)) {
    if (!unknown) return luaL_error(L, "not enough memory");
    lua_rawgeti(L, names, unknown);
    lua_pushnil(L);
    lua_pushfstring(L, "ENOENT: no task '%s'", lua_tostring(L, -2));
    return 2;
  }
  jbuf_t b = {0};
  jb_cstr(&b, "{\"tasks\":[");
  uint64_t after = 0; /* changed_since: tasks whose state or last exit is that recent */
  if (has_since) {
    double ago = l.wall - since;
    after = ago <= 0 ? l.now : ago * 1000.0 >= (double)l.now ? 0 : l.now - (uint64_t)(ago * 1000.0);
  }
  int first = 1;
  for (uint32_t i = 0; i < l.n; i++) {
    if (after && l.v[i].st.since < after && l.v[i].st.last_at < after) continue;
    int has_info = push_info(L, info, l.v[i].name);
    if (!first) jb_put(&b, ",", 1);
    first = 0;
    put_task(&b, L, &l, l.v[i].name, &l.v[i].st, has_info);
    lua_pop(L, has_info);
  }
  tvc_tasks_free(&l);
  jb_cstr(&b, "]}");
  if (b.failed) {
    jb_free(&b);
    return luaL_error(L, "not enough memory");
  }
  lua_pushlstring(L, b.s, b.len);
  jb_free(&b);
  return 1;
}

/* ---- counts ------------------------------------------------------------------------ */

typedef struct counts {
  lua_Integer total, running, ready, backoff, stopped, failed;
} counts_t;

static void count_task(counts_t *c, const tv_status_t *st) {
  c->total++;
  if (st->state == TV_ST_RUNNING || st->state == TV_ST_STARTING) c->running++;
  if (st->ready) c->ready++;
  if (st->state == TV_ST_BACKOFF) c->backoff++;
  if (st->state == TV_ST_STOPPED || st->state == TV_ST_EXITED) c->stopped++;
  if (st->state == TV_ST_FATAL) c->failed++;
}

/* task_counts(sup, order, info, started_at): { total, running, ready,
 * backoff, stopped, failed } over the listing. */
static int l_task_counts(lua_State *L) {
  int order, info;
  double started;
  const tv_sup_t *sup = view_args(L, &order, &info, &started);
  tvc_tasks_t l;
  lua_Integer unknown;
  if (tvc_tasks_list(L, sup, order, 0, 0, started, &l, &unknown))
    return luaL_error(L, "not enough memory");
  counts_t c = {0};
  for (uint32_t i = 0; i < l.n; i++) count_task(&c, &l.v[i].st);
  tvc_tasks_free(&l);
  lua_createtable(L, 0, 6);
  const lua_Integer v[] = {c.total, c.running, c.ready, c.backoff, c.stopped, c.failed};
  const char *const k[] = {"total", "running", "ready", "backoff", "stopped", "failed"};
  for (int i = 0; i < 6; i++) {
    lua_pushinteger(L, v[i]);
    lua_setfield(L, -2, k[i]);
  }
  return 1;
}

/* events_published(): the last event seq given (events published so far). */
static int l_events_published(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)tv_event_last_seq());
  return 1;
}

void tvc_status_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"tasks_json", l_tasks_json},
                                   {"task_counts", l_task_counts},
                                   {"events_published", l_events_published},
                                   {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
}
