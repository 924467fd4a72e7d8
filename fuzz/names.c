/* fuzz/names.c - every name the project parses back into a number: restart
 * and jitter policies, controller decisions, event kinds (C core), and
 * signal names and numbers (core.signum, what stop_signal and sup:signal go
 * through). A parser must accept exactly its names, byte for byte (a name
 * followed by a NUL and more bytes is not the name), and each name must
 * parse back to its own number. */
#include <lauxlib.h>
#include <lua.h>

#include "core/supervision/controller.h"
#include "core/events/event.h"
#include "core/supervision/policy.h"
#include "core/loop/signals.h"
#include "fuzz.h"

int ltv_signum(lua_State *L);

typedef struct parser {
  const char *what;
  int count;
  const char *(*name)(int);
  int (*parse)(const char *);
} parser;

static const char *restart_name(int i) { return tv_restart_name((tv_restart_t)i); }
static const char *jitter_name(int i) { return tv_jitter_name((tv_jitter_t)i); }

static const parser parsers[] = {
    {"restart", 3, restart_name, tv_restart_parse},
    {"jitter", 4, jitter_name, tv_jitter_parse},
    {"admission decision", 5, tv_admit_name, tv_admit_parse},
    {"event kind", TV_EV__COUNT, tv_event_kind_name, tv_event_kind_parse},
};

static void check_c_parsers(const char *s) {
  for (size_t p = 0; p < sizeof parsers / sizeof *parsers; p++) {
    const parser *ps = &parsers[p];
    int v = ps->parse(s);
    FZ_CHECK(v >= -1 && v < ps->count, "%s \"%s\" -> %d", ps->what, s, v);
    if (v >= 0) FZ_CHECK(strcmp(ps->name(v), s) == 0, "%s \"%s\" -> %d", ps->what, s, v);
    for (int i = 0; i < ps->count; i++)
      FZ_CHECK(ps->parse(ps->name(i)) == i, "%s %d does not round-trip", ps->what, i);
  }
}

/* core.signum(v): nil, or the signal whose name v is (with or without SIG). */
static void check_signum(lua_State *L, const char *s, size_t len, lua_Integer n, int as_number) {
  lua_settop(L, 0);
  lua_pushcfunction(L, ltv_signum);
  if (as_number)
    lua_pushinteger(L, n);
  else
    lua_pushlstring(L, s, len);
  FZ_CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK, "core.signum raised: %s", lua_tostring(L, -1));
  if (lua_isnil(L, -1)) {
    if (as_number)
      FZ_CHECK(n < 1 || n > 31 || strcmp(tv_signal_name((int)n), "SIG?") == 0,
               "signal %lld rejected", (long long)n);
    return;
  }
  FZ_CHECK(lua_isinteger(L, -1), "core.signum returned a %s", luaL_typename(L, -1));
  lua_Integer sig = lua_tointeger(L, -1);
  FZ_CHECK(sig >= 1 && sig <= 31, "core.signum -> %lld", (long long)sig);
  const char *name = tv_signal_name((int)sig);
  if (as_number) {
    FZ_CHECK(sig == n, "signal %lld -> %lld", (long long)n, (long long)sig);
  } else {
    size_t off = len >= 3 && memcmp(s, "SIG", 3) == 0 ? 0 : 3; /* "TERM" is "SIGTERM" */
    FZ_CHECK(strlen(name) - off == len && memcmp(name + off, s, len) == 0,
             "\"%.*s\" (%zu bytes) taken as %s", (int)len, s, len, name);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1); /* the C parsers read up to the first NUL */
  memcpy(s, data, size);
  s[size] = '\0';
  check_c_parsers(s);
  /* A state per input: one kept across inputs would free their strings
   * during later ones, and libFuzzer would look for leaks after each. */
  lua_State *L = luaL_newstate();
  check_signum(L, s, size, 0, 0);
  fz_in in = {data, size};
  check_signum(L, NULL, 0, (lua_Integer)fz_uint(&in, 8), 1);
  lua_close(L);
  free(s);
  return 0;
}
