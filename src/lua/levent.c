/* levent.c - events as plain Lua tables: seq, at, kind and whichever optional
 * fields the event carries (task, attempt, reason, timeout_ms, delay_ms,
 * backoff_source, exit_code, traceback, slot, signal, stream, line, file,
 * bytes, pid, killed).
 * Hot path (every delivery): the key strings and kind names are pushed once
 * onto the consumer's stack (ltv_event_keys) and fields are set raw, so no
 * C string is re-interned per event. */
#include <lauxlib.h>

#include "core/events/event.h"
#include "core/loop/signals.h"
#include "levent.h"

enum {
  K_SEQ, K_AT, K_KIND, K_TASK, K_ATTEMPT, K_REASON, K_TIMEOUT_MS, K_DELAY_MS,
  K_BACKOFF_SOURCE, K_EXIT_CODE, K_TRACEBACK, K_SLOT, K_SIGNAL, K_STREAM, K_LINE,
  K_FILE, K_BYTES, K_PID, K_KILLED,
  K_SUCCESS, K_FAILURE, K_SCHEDULE, K_COOLDOWN, K_STDOUT, K_STDERR, K__COUNT
};

static const char *const keys[K__COUNT] = {
    "seq", "at", "kind", "task", "attempt", "reason", "timeout_ms", "delay_ms",
    "backoff_source", "exit_code", "traceback", "slot", "signal", "stream", "line",
    "file", "bytes", "pid", "killed", "success", "failure", "schedule", "cooldown", "stdout", "stderr"};

int ltv_event_keys(lua_State *L) {
  luaL_checkstack(L, K__COUNT + TV_EV__COUNT, "event keys");
  for (int i = 0; i < K__COUNT; i++) lua_pushstring(L, keys[i]);
  for (int i = 0; i < TV_EV__COUNT; i++) lua_pushstring(L, tv_event_kind_name(i));
  return K__COUNT + TV_EV__COUNT;
}

#define KEY(k) (base + (k))
#define KIND(kind) (base + K__COUNT + (kind))

static void set_str(lua_State *L, int key, const tv_str_t *s) {
  lua_pushvalue(L, key);
  lua_pushlstring(L, s->s, s->len);
  lua_rawset(L, -3);
}

static void set_int(lua_State *L, int key, lua_Integer v) {
  lua_pushvalue(L, key);
  lua_pushinteger(L, v);
  lua_rawset(L, -3);
}

static void set_value(lua_State *L, int key, int value) {
  lua_pushvalue(L, key);
  lua_pushvalue(L, value);
  lua_rawset(L, -3);
}

void ltv_push_event(lua_State *L, int base, const tv_event_t *ev) {
  unsigned f = ev->fields;
  lua_createtable(L, 0, 3 + __builtin_popcount(f));
  set_int(L, KEY(K_SEQ), (lua_Integer)ev->seq);
  lua_pushvalue(L, KEY(K_AT));
  lua_pushnumber(L, ev->at);
  lua_rawset(L, -3);
  set_value(L, KEY(K_KIND), KIND(ev->kind < TV_EV__COUNT ? ev->kind : 0));
  if (f & TV_F_TASK) set_str(L, KEY(K_TASK), ev->task);
  if (f & TV_F_ATTEMPT) set_int(L, KEY(K_ATTEMPT), ev->attempt);
  if (f & TV_F_REASON) set_str(L, KEY(K_REASON), ev->reason);
  if (f & TV_F_TIMEOUT_MS) set_int(L, KEY(K_TIMEOUT_MS), ev->timeout_ms);
  if (f & TV_F_DELAY_MS) set_int(L, KEY(K_DELAY_MS), ev->delay_ms);
  if (f & TV_F_BACKOFF_SOURCE)
    set_value(L, KEY(K_BACKOFF_SOURCE),
              KEY(K_SUCCESS + (ev->backoff_source <= TV_BACKOFF_COOLDOWN ? ev->backoff_source : 1)));
  if (f & TV_F_EXIT_CODE) set_int(L, KEY(K_EXIT_CODE), ev->exit_code);
  if (f & TV_F_TRACEBACK) set_str(L, KEY(K_TRACEBACK), ev->traceback);
  if (f & TV_F_SLOT) set_str(L, KEY(K_SLOT), ev->slot);
  if (f & TV_F_SIGNAL) {
    lua_pushvalue(L, KEY(K_SIGNAL));
    lua_pushstring(L, tv_signal_name(ev->signal));
    lua_rawset(L, -3);
  }
  if (f & TV_F_STREAM)
    set_value(L, KEY(K_STREAM), KEY(ev->stream == TV_STREAM_STDERR ? K_STDERR : K_STDOUT));
  if (f & TV_F_LINE) set_str(L, KEY(K_LINE), ev->line);
  if (f & TV_F_FILE) set_str(L, KEY(K_FILE), ev->file);
  if (f & TV_F_BYTES) set_int(L, KEY(K_BYTES), (lua_Integer)ev->bytes);
  if (f & TV_F_PID) set_int(L, KEY(K_PID), ev->pid);
  if (f & TV_F_KILLED) {
    lua_pushvalue(L, KEY(K_KILLED));
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
  }
}

/* The list of kind names, for tv.EVENT_KINDS. */
void ltv_event_init(lua_State *L) {
  lua_createtable(L, TV_EV__COUNT, 0);
  for (int i = 0; i < TV_EV__COUNT; i++) {
    lua_pushstring(L, tv_event_kind_name(i));
    lua_rawseti(L, -2, i + 1);
  }
}
