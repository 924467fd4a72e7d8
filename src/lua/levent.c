/* levent.c - events as small read-only Lua objects: seq, at, kind and
 * whichever optional fields the event carries (task, attempt, reason,
 * timeout_ms, delay_ms, backoff_source, exit_code, traceback, slot, signal,
 * stream, line, file, bytes, pid, killed), read by name (ev.task), listed by
 * pairs(ev) in that order.
 * Why not a table: building one per delivered event (two allocations, a key
 * insertion per field, their collection) was most of a subscriber's cost. An
 * event is now one userdata: the numbers copied from the pooled C event, its
 * strings as user values (the same allocation), no finalizer, so a kept event
 * stays readable for as long as it is referenced. A field is looked up when
 * it is read. A subscriber that keeps or changes its events (taskvisor
 * simulate's) gets plain tables instead, made here in one go: copying each
 * object into a table field by field in Lua cost 10 times as much. */
#include <lauxlib.h>
#include <string.h>

#include "core/events/event.h"
#include "core/loop/signals.h"
#include "levent.h"

#define LTV_EVENT "taskvisor.event"

/* Field ids, in the order pairs() lists them. From K_TASK on, id - K_TASK is
 * the field's TV_F_* bit (event.h keeps the same order). */
enum {
  K_SEQ, K_AT, K_KIND, K_TASK, K_ATTEMPT, K_REASON, K_TIMEOUT_MS, K_DELAY_MS,
  K_BACKOFF_SOURCE, K_EXIT_CODE, K_TRACEBACK, K_SLOT, K_SIGNAL, K_STREAM, K_LINE,
  K_FILE, K_BYTES, K_PID, K_KILLED, K__COUNT
};
#define K_BIT(id) (1u << ((id) - K_TASK))

_Static_assert(K_BIT(K_KILLED) == TV_F_KILLED && K_BIT(K_PID) == TV_F_PID &&
                   K_BIT(K_SLOT) == TV_F_SLOT && K_BIT(K_FILE) == TV_F_FILE,
               "field ids follow the TV_F_* bits");

static const char *const keys[K__COUNT] = {
    "seq", "at", "kind", "task", "attempt", "reason", "timeout_ms", "delay_ms",
    "backoff_source", "exit_code", "traceback", "slot", "signal", "stream", "line",
    "file", "bytes", "pid", "killed"};

/* The string fields, stored as user values 1.. in bit order. */
#define STRING_FIELDS (TV_F_TASK | TV_F_REASON | TV_F_TRACEBACK | TV_F_SLOT | TV_F_LINE | TV_F_FILE)

typedef struct ltv_ev {
  uint64_t seq, bytes;
  double at;
  uint32_t fields, attempt, timeout_ms, delay_ms;
  int32_t exit_code, signal, pid;
  uint16_t kind;
  uint8_t backoff_source, stream;
} ltv_ev;

/* The user value of each string field: 1 + the string fields before it. */
static int uv_of(unsigned fields, unsigned bit) {
  unsigned before = fields & STRING_FIELDS & (bit - 1);
  int n = 1;
  for (; before; before &= before - 1) n++; /* at most 5 steps; no popcnt call */
  return n;
}

/* The metatable's own slot of the kind names, for the plain tables. */
#define KINDS_SLOT 1

/* Upvalues of every metamethod: 1 = the metatable (to know our events),
 * 2 = the kind names, 3 = the key strings (both sequences). */
#define UV_MT lua_upvalueindex(1)
#define UV_KINDS lua_upvalueindex(2)
#define UV_KEYS lua_upvalueindex(3)

static const ltv_ev *to_event(lua_State *L, int idx) {
  const ltv_ev *e = lua_touserdata(L, idx);
  if (e && lua_getmetatable(L, idx)) {
    int ours = lua_rawequal(L, -1, UV_MT);
    lua_pop(L, 1);
    if (ours) return e;
  }
  luaL_typeerror(L, idx, LTV_EVENT);
  return NULL;
}

/* The field id of a key, or -1. */
static int key_id(const char *s, size_t len) {
  switch (len) {
  case 2: return memcmp(s, "at", 2) == 0 ? K_AT : -1;
  case 3: return memcmp(s, "seq", 3) == 0 ? K_SEQ : memcmp(s, "pid", 3) == 0 ? K_PID : -1;
  case 4:
    switch (s[0]) {
    case 'k': return memcmp(s, "kind", 4) == 0 ? K_KIND : -1;
    case 't': return memcmp(s, "task", 4) == 0 ? K_TASK : -1;
    case 's': return memcmp(s, "slot", 4) == 0 ? K_SLOT : -1;
    case 'l': return memcmp(s, "line", 4) == 0 ? K_LINE : -1;
    case 'f': return memcmp(s, "file", 4) == 0 ? K_FILE : -1;
    default: return -1;
    }
  case 5: return memcmp(s, "bytes", 5) == 0 ? K_BYTES : -1;
  case 6:
    switch (s[0]) {
    case 'r': return memcmp(s, "reason", 6) == 0 ? K_REASON : -1;
    case 'k': return memcmp(s, "killed", 6) == 0 ? K_KILLED : -1;
    case 's':
      return memcmp(s, "signal", 6) == 0 ? K_SIGNAL : memcmp(s, "stream", 6) == 0 ? K_STREAM : -1;
    default: return -1;
    }
  case 7: return memcmp(s, "attempt", 7) == 0 ? K_ATTEMPT : -1;
  case 8: return memcmp(s, "delay_ms", 8) == 0 ? K_DELAY_MS : -1;
  case 9:
    return memcmp(s, "exit_code", 9) == 0 ? K_EXIT_CODE
           : memcmp(s, "traceback", 9) == 0 ? K_TRACEBACK : -1;
  case 10: return memcmp(s, "timeout_ms", 10) == 0 ? K_TIMEOUT_MS : -1;
  case 14: return memcmp(s, "backoff_source", 14) == 0 ? K_BACKOFF_SOURCE : -1;
  default: return -1;
  }
}

static int has(const ltv_ev *e, int id) { return id < K_TASK || (e->fields & K_BIT(id)); }

/* Pushes non-string field `id` of e (present: has() holds); `kinds` is the
 * index of the kind names. */
static void push_value(lua_State *L, const ltv_ev *e, int id, int kinds) {
  static const char *const sources[] = {"success", "failure", "schedule", "cooldown"};
  switch (id) {
  case K_SEQ: lua_pushinteger(L, (lua_Integer)e->seq); break;
  case K_AT: lua_pushnumber(L, e->at); break;
  case K_KIND: lua_rawgeti(L, kinds, e->kind < TV_EV__COUNT ? e->kind + 1 : 1); break;
  case K_ATTEMPT: lua_pushinteger(L, e->attempt); break;
  case K_TIMEOUT_MS: lua_pushinteger(L, e->timeout_ms); break;
  case K_DELAY_MS: lua_pushinteger(L, e->delay_ms); break;
  case K_BACKOFF_SOURCE:
    lua_pushstring(L, sources[e->backoff_source <= TV_BACKOFF_COOLDOWN ? e->backoff_source : 1]);
    break;
  case K_EXIT_CODE: lua_pushinteger(L, e->exit_code); break;
  case K_SIGNAL: lua_pushstring(L, tv_signal_name(e->signal)); break;
  case K_STREAM: lua_pushstring(L, e->stream == TV_STREAM_STDERR ? "stderr" : "stdout"); break;
  case K_BYTES: lua_pushinteger(L, (lua_Integer)e->bytes); break;
  case K_PID: lua_pushinteger(L, e->pid); break;
  case K_KILLED: lua_pushboolean(L, 1); break;
  default: lua_pushnil(L); break;
  }
}

/* Pushes field `id` of the event at index 1 (present: has() holds). */
static void push_field(lua_State *L, const ltv_ev *e, int id) {
  if (id >= K_TASK && (K_BIT(id) & STRING_FIELDS))
    lua_getiuservalue(L, 1, uv_of(e->fields, K_BIT(id)));
  else
    push_value(L, e, id, UV_KINDS);
}

/* ev.name: the field, or nil (an unknown name, or a field this event lacks).
 * The hot path of every read: Lua calls it only for an object with this
 * metatable, which __metatable hides from getmetatable, so it does not check
 * its argument again (reaching it by hand takes the debug library). */
static int ev_index(lua_State *L) {
  const ltv_ev *e = lua_touserdata(L, 1);
  size_t len = 0;
  /* (a number key becomes its digits in this call's own copy: no field
   * name is digits, so it reads nil as before, without a lua_type call) */
  const char *k = lua_tolstring(L, 2, &len);
  int id = k ? key_id(k, len) : -1;
  if (id < 0 || !has(e, id)) return 0; /* nil */
  push_field(L, e, id);
  return 1;
}

/* The stateless iterator of pairs(ev): the present field after `key`. */
static int ev_next(lua_State *L) {
  const ltv_ev *e = to_event(L, 1);
  int id = 0;
  if (!lua_isnoneornil(L, 2)) {
    size_t len;
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : NULL;
    id = k ? key_id(k, len) : -1;
    if (id < 0) return luaL_error(L, "invalid key to 'next' of an event");
    id++;
  }
  while (id < K__COUNT && !has(e, id)) id++;
  if (id == K__COUNT) {
    lua_pushnil(L);
    return 1;
  }
  lua_rawgeti(L, UV_KEYS, id + 1);
  push_field(L, e, id);
  return 2;
}

static int ev_pairs(lua_State *L) {
  to_event(L, 1);
  lua_pushvalue(L, UV_MT);
  lua_rawgetp(L, -1, (void *)ev_next); /* the iterator, made once (below) */
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

static int ev_newindex(lua_State *L) {
  to_event(L, 1);
  return luaL_error(L, "events are read-only (setting '%s'): copy the fields you need into a "
                       "table of your own", luaL_tolstring(L, 2, NULL));
}

static int ev_tostring(lua_State *L) {
  const ltv_ev *e = to_event(L, 1);
  lua_rawgeti(L, UV_KINDS, e->kind < TV_EV__COUNT ? e->kind + 1 : 1);
  lua_pushfstring(L, "event %I %s", (LUAI_UACINT)e->seq, lua_tostring(L, -1));
  return 1;
}

static void fill(ltv_ev *e, const tv_event_t *ev) {
  e->seq = ev->seq;
  e->bytes = ev->bytes;
  e->at = ev->at;
  e->fields = ev->fields;
  e->attempt = ev->attempt;
  e->timeout_ms = ev->timeout_ms;
  e->delay_ms = ev->delay_ms;
  e->exit_code = ev->exit_code;
  e->signal = ev->signal;
  e->pid = ev->pid;
  e->kind = ev->kind;
  e->backoff_source = ev->backoff_source;
  e->stream = ev->stream;
}

/* Pushes the task name; runs of events about one task intern it once (the
 * last one is kept at `slot`). */
static inline void push_task(lua_State *L, int slot, const tv_str_t *task) {
  size_t n;
  const char *last = lua_tolstring(L, slot, &n); /* NULL: nil */
  if (last && n == task->len && memcmp(last, task->s, n) == 0) {
    lua_pushvalue(L, slot);
  } else {
    lua_pushlstring(L, task->s, task->len);
    lua_pushvalue(L, -1);
    lua_replace(L, slot);
  }
}

static const unsigned str_bits[] = {TV_F_TASK, TV_F_REASON, TV_F_TRACEBACK,
                                    TV_F_SLOT, TV_F_LINE, TV_F_FILE};

void ltv_push_event(lua_State *L, int mt, const tv_event_t *ev) {
  unsigned f = ev->fields;
  int nstr = 0;
  for (unsigned m = f & STRING_FIELDS; m; m &= m - 1) nstr++;
  ltv_ev *e = lua_newuserdatauv(L, sizeof *e, nstr);
  fill(e, ev);
  lua_pushvalue(L, mt);
  lua_setmetatable(L, -2);
  if (!(f & STRING_FIELDS)) return;
  const tv_str_t *strs[] = {ev->task, ev->reason, ev->traceback, ev->slot, ev->line, ev->file};
  int i = 0, uv = 1;
  if (f & TV_F_TASK) {
    push_task(L, mt + 1, ev->task);
    lua_setiuservalue(L, -2, uv++);
    i = 1;
  }
  for (; i < 6; i++) {
    if (!(f & str_bits[i])) continue;
    lua_pushlstring(L, strs[i]->s, strs[i]->len);
    lua_setiuservalue(L, -2, uv++);
  }
}

/* The string of field id (a string field the event has). */
static const tv_str_t *str_of(const tv_event_t *ev, int id) {
  switch (id) {
  case K_TASK: return ev->task;
  case K_REASON: return ev->reason;
  case K_TRACEBACK: return ev->traceback;
  case K_SLOT: return ev->slot;
  case K_LINE: return ev->line;
  default: return ev->file;
  }
}

/* Whether the string at idx is the n bytes at p. */
static int same_string(lua_State *L, int idx, const char *p, size_t n) {
  size_t len;
  const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
  return s && len == n && memcmp(s, p, n) == 0;
}

/* Sets ev's fields in the table at t, the top (which has no others, or the
 * same ones: `reused`, whose strings are replaced only when they differ). */
static void set_fields(lua_State *L, int t, int mt, const tv_event_t *ev, int reused) {
  ltv_ev e;
  fill(&e, ev);
  lua_rawgeti(L, mt, KINDS_SLOT); /* t + 1 */
  for (int id = 0; id < K__COUNT; id++) {
    if (!has(&e, id)) continue;
    if (id == K_TASK) {
      push_task(L, mt + 1, ev->task);
    } else if (id > K_TASK && (K_BIT(id) & STRING_FIELDS)) {
      const tv_str_t *str = str_of(ev, id);
      if (reused) { /* (a reason repeats: "exited with code 1") */
        lua_getfield(L, t, keys[id]);
        int same = same_string(L, -1, str->s, str->len);
        lua_pop(L, 1);
        if (same) continue;
      }
      lua_pushlstring(L, str->s, str->len);
    } else {
      push_value(L, &e, id, t + 1);
    }
    lua_setfield(L, t, keys[id]); /* (no metatable: raw; the key strings are Lua's cached ones) */
  }
  lua_settop(L, t);
}

void ltv_push_event_table(lua_State *L, int mt, const tv_event_t *ev) {
  int n = 3;
  for (unsigned m = ev->fields; m; m &= m - 1) n++;
  lua_createtable(L, 0, n); /* sized once: no rehash as fields go in */
  set_fields(L, lua_gettop(L), mt, ev, 0);
}

void ltv_push_event_scratch(lua_State *L, int mt, int cache, const tv_event_t *ev) {
  if (lua_rawgeti(L, cache, (lua_Integer)ev->fields) == LUA_TTABLE) {
    set_fields(L, lua_gettop(L), mt, ev, 1); /* the same keys: every value replaced */
    return;
  }
  lua_pop(L, 1);
  ltv_push_event_table(L, mt, ev);
  lua_pushvalue(L, -1);
  lua_rawseti(L, cache, (lua_Integer)ev->fields);
}

int ltv_event_meta(lua_State *L) {
  if (luaL_newmetatable(L, LTV_EVENT)) { /* sets __name */
    int mt = lua_gettop(L);
    lua_createtable(L, TV_EV__COUNT, 0);
    for (int i = 0; i < TV_EV__COUNT; i++) {
      lua_pushstring(L, tv_event_kind_name(i));
      lua_rawseti(L, -2, i + 1);
    }
    lua_createtable(L, K__COUNT, 0);
    for (int i = 0; i < K__COUNT; i++) {
      lua_pushstring(L, keys[i]);
      lua_rawseti(L, -2, i + 1);
    }
    static const luaL_Reg methods[] = {{"__index", ev_index},       {"__pairs", ev_pairs},
                                       {"__newindex", ev_newindex}, {"__tostring", ev_tostring},
                                       {NULL, NULL}};
    for (const luaL_Reg *r = methods; r->name; r++) {
      lua_pushvalue(L, mt);
      lua_pushvalue(L, mt + 1);
      lua_pushvalue(L, mt + 2);
      lua_pushcclosure(L, r->func, 3);
      lua_setfield(L, mt, r->name);
    }
    lua_pushvalue(L, mt);
    lua_pushvalue(L, mt + 1);
    lua_pushvalue(L, mt + 2);
    lua_pushcclosure(L, ev_next, 3);
    lua_rawsetp(L, mt, (void *)ev_next);
    lua_pushvalue(L, mt + 1); /* for the plain tables */
    lua_rawseti(L, mt, KINDS_SLOT);
    lua_pushliteral(L, LTV_EVENT); /* getmetatable(ev): the name, not the table */
    lua_setfield(L, mt, "__metatable");
    lua_settop(L, mt);
  }
  return 1;
}

/* The list of kind names, for tv.EVENT_KINDS. */
void ltv_event_init(lua_State *L) {
  lua_createtable(L, TV_EV__COUNT, 0);
  for (int i = 0; i < TV_EV__COUNT; i++) {
    lua_pushstring(L, tv_event_kind_name(i));
    lua_rawseti(L, -2, i + 1);
  }
}
