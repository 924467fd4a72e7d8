/* levent.c - events as plain Lua tables: seq, at, kind and whichever optional
 * fields the event carries (task, attempt, reason, timeout_ms, delay_ms,
 * backoff_source, exit_code, traceback). */
#include "core/event.h"
#include "ltv.h"

static void set_str(lua_State *L, const char *key, const tv_str_t *s) {
  lua_pushlstring(L, s->s, s->len);
  lua_setfield(L, -2, key);
}

static void set_int(lua_State *L, const char *key, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, key);
}

void ltv_push_event(lua_State *L, const tv_event_t *ev) {
  unsigned f = ev->fields;
  lua_createtable(L, 0, 4 + __builtin_popcount(f));
  set_int(L, "seq", (lua_Integer)ev->seq);
  lua_pushnumber(L, ev->at);
  lua_setfield(L, -2, "at");
  lua_pushstring(L, tv_event_kind_name(ev->kind));
  lua_setfield(L, -2, "kind");
  if (f & TV_F_TASK) set_str(L, "task", ev->task);
  if (f & TV_F_ATTEMPT) set_int(L, "attempt", ev->attempt);
  if (f & TV_F_REASON) set_str(L, "reason", ev->reason);
  if (f & TV_F_TIMEOUT_MS) set_int(L, "timeout_ms", ev->timeout_ms);
  if (f & TV_F_DELAY_MS) set_int(L, "delay_ms", ev->delay_ms);
  if (f & TV_F_BACKOFF_SOURCE) {
    lua_pushstring(L, ev->backoff_source == TV_BACKOFF_SUCCESS ? "success" : "failure");
    lua_setfield(L, -2, "backoff_source");
  }
  if (f & TV_F_EXIT_CODE) set_int(L, "exit_code", ev->exit_code);
  if (f & TV_F_TRACEBACK) set_str(L, "traceback", ev->traceback);
}

/* The list of kind names, for tv.EVENT_KINDS. */
void ltv_event_init(lua_State *L) {
  lua_createtable(L, TV_EV__COUNT, 0);
  for (int i = 0; i < TV_EV__COUNT; i++) {
    lua_pushstring(L, tv_event_kind_name(i));
    lua_rawseti(L, -2, i + 1);
  }
}
