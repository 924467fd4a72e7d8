/* fuzz/lua_api.c - option validation of the public Lua API. Each input is a
 * fresh interpreter with taskvisor loaded as the host embeds it, and a list
 * of calls (tv.task, tv.process, tv.supervisor, tv.once/restartable, a
 * supervisor's add, submit, subscribe and name methods, ctx:exec's
 * arguments, tv.log_writer, tv.fail/fatal, core.signum) on Lua values built
 * from the input: every type, edge numbers, non-UTF-8 and long strings,
 * nested and self-referencing tables, keys that are mostly the real option
 * names. Invariant: a call returns (nil is followed by "CODE: message") or
 * raises a string naming the function ("tv.task: ..."); never a crash, a
 * sanitizer report, a Lua panic or a leak once the interpreter is closed.
 * No loop is ever run: nothing spawns, no task runs. Lua line coverage is
 * fed to libFuzzer (extra counters), so it sees the validation code's paths.
 * Lua code is compiled once and loaded as bytecode in each interpreter
 * (parsing it again for every input took most of the time). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "core/os/outfile.h"
#include "embedded.h"
#include "fuzz.h"

int luaopen_taskvisor_core(lua_State *L);

/* ---- Lua line coverage ------------------------------------------------------ */

#define LUA_EDGES (1u << 14)
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[LUA_EDGES];
static const char *edge_src;
static uint32_t edge_src_hash, edge_prev;

static void line_hook(lua_State *L, lua_Debug *ar) {
  if (!lua_getinfo(L, "S", ar)) return;
  if (ar->source != edge_src) { /* chunk names are stable within one state */
    edge_src = ar->source;
    edge_src_hash = 2166136261u;
    for (const char *s = ar->source; *s; s++) edge_src_hash = (edge_src_hash ^ (uint8_t)*s) * 16777619u;
  }
  uint32_t here = (edge_src_hash ^ (uint32_t)ar->currentline * 2654435761u);
  lua_edges[(here ^ edge_prev) % LUA_EDGES]++;
  edge_prev = here >> 1;
}

/* ---- log files -------------------------------------------------------------- */

/* Process specs may name any log file; core.process opens it when one is
 * added. The path is checked as the C side gets it, then one scratch file is
 * opened instead, so no input creates files anywhere. */
static char scratch[PATH_MAX];
int __real_tv_outfile_open(tv_outfile_t *f, const char *path, uint64_t max, uint32_t backups);
int __wrap_tv_outfile_open(tv_outfile_t *f, const char *path, uint64_t max, uint32_t backups) {
  FZ_CHECK(path && *path, "empty log file path");
  return __real_tv_outfile_open(f, scratch, max, backups);
}

static void remove_scratch(void) {
  unlink(scratch);
  *strrchr(scratch, '/') = '\0';
  rmdir(scratch);
}

/* ---- compiled chunks ----------------------------------------------------------- */

typedef struct chunk {
  const char *name, *text;
  size_t len;
  char *code;
  size_t codelen;
} chunk;

static int dump_part(lua_State *L, const void *p, size_t size, void *ud) {
  (void)L;
  chunk *c = ud;
  c->code = realloc(c->code, c->codelen + size);
  memcpy(c->code + c->codelen, p, size);
  c->codelen += size;
  return 0;
}

/* Pushes the chunk's function (compiled on first use, with debug info). */
static void push_chunk(lua_State *L, chunk *c) {
  if (!c->code) {
    if (!c->len) c->len = strlen(c->text);
    lua_State *S = luaL_newstate();
    if (luaL_loadbufferx(S, c->text, c->len, c->name, "t") != LUA_OK)
      FZ_CHECK(0, "%s: %s", c->name, lua_tostring(S, -1));
    lua_dump(S, dump_part, c, 0);
    lua_close(S);
  }
  if (luaL_loadbufferx(L, c->code, c->codelen, c->name, "b") != LUA_OK)
    FZ_CHECK(0, "%s: %s", c->name, lua_tostring(L, -1));
}

/* package.preload loader of a lua/ module: [name] -> its value. */
static int load_module(lua_State *L) {
  push_chunk(L, lua_touserdata(L, lua_upvalueindex(1)));
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

static chunk *modules; /* one per tv_embedded entry */

static void preload_modules(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_taskvisor_core);
  lua_setfield(L, -2, "taskvisor.core");
  for (size_t i = 0; tv_embedded[i].name; i++) {
    lua_pushlightuserdata(L, &modules[i]);
    lua_pushcclosure(L, load_module, 1);
    lua_setfield(L, -2, tv_embedded[i].name);
  }
  lua_pop(L, 1);
}

/* ---- values ------------------------------------------------------------------ */

static const char *const options[] = {
    "name", "run", "restart", "interval", "backoff", "timeout", "max_retries", "slot", "first",
    "max", "factor", "jitter", "cmd", "cwd", "env", "inherit_env", "stdin", "stdout", "stderr",
    "stop_signal", "stop_timeout", "success_codes", "fatal_codes", "file", "max_bytes",
    "backups", "events", "grace", "max_concurrent", "bus_capacity", "defaults", "seed",
    "controller", "max_slot_queue", "task", "admission", "on_event", "queue", "output",
    "verbose", "max_output", "process", "mode", "intensity", "max_restarts", "within",
    "on_exhausted", "cooldown", "reset_after", "every", "after", "ready", "check", "setup",
    "on_restart", "on_error", "cleanup", "on_shutdown", "max_instructions", "keep_outcomes",
    "children", "strategy"};
/* option values, near misses, paths, odd bytes (raw strings add the rest) */
static const char *const values[] = {
    "never", "on_failure", "always", "none", "full", "equal", "decorrelated", "inherit", "null",
    "pipe", "replace", "drop_if_running", "start", "reject", "TERM", "SIGTERM", "KILL", "SIGHUP",
    "SIG", "USR1", "x.log", "/dev/null", "logs/out.log", "/bin/sh", "true", "sh", "-c", "PATH",
    "HOME", "", "a", "t", "made", "made-p", ".", "..", "=", "A=B", "restrat", "max_retry",
    "subscriber-1", "\xff\xfe", "caf\xc3\xa9", "tab\there", "give_up", "escalate",
    "notify", "completed", "started", "one_for_one", "one_for_all", "rest_for_one"};
#define NOPTIONS (sizeof options / sizeof *options)
#define NVALUES (sizeof values / sizeof *values)

static const lua_Integer int_specials[] = {
    0, 1, -1, 2, 3, 9, 15, 31, 32, 64, 255, 256, 1000, 1001, 0x7fffffff, 0x80000000,
    0xffffffff, 0x100000000, 1 << 24, (1 << 24) + 1, 1LL << 40, 1LL << 53, (1LL << 53) + 1,
    LUA_MAXINTEGER, LUA_MININTEGER, -2147483648LL, -2147483649LL};
static const double float_specials[] = {
    0.0, -0.0, 0.5, 1.5, 0.1, 1e-9, 1e-300, 5e-324, 3.0, 255.0, 256.5, 1e9, 1e9 + 1, 1e10,
    9007199254740992.0, 9007199254740993.0, 9.3e18, 1.8446744073709552e19, 1e308, -1.0,
    -1e9, INFINITY, -INFINITY, NAN, -NAN, 4294967295.0, 4294967296.0, 16777216.5};

enum { DEPTH_MAX = 4, HISTORY = 8 };

typedef struct builder {
  fz_in in;
  int history[HISTORY]; /* registry refs of recent values */
  unsigned nhist;
} builder;

static void push_value(lua_State *L, builder *b, int depth);

static void push_option(lua_State *L, builder *b) {
  lua_pushstring(L, options[fz_u8(&b->in) % NOPTIONS]);
}

static void push_word(lua_State *L, builder *b) { /* an option name or a value */
  size_t i = fz_u8(&b->in) % (NOPTIONS + NVALUES);
  lua_pushstring(L, i < NOPTIONS ? options[i] : values[i - NOPTIONS]);
}

static void push_long_string(lua_State *L, builder *b) {
  size_t len = (size_t)fz_uint(&b->in, 2);
  uint8_t c = fz_u8(&b->in);
  luaL_Buffer buf;
  char *p = luaL_buffinitsize(L, &buf, len ? len : 1);
  memset(p, c, len);
  if (len > 1) p[len / 2] = (char)fz_u8(&b->in); /* one odd byte somewhere */
  luaL_pushresultsize(&buf, len);
}

/* A key: mostly an option name; never nil or NaN (a table cannot hold them). */
static void push_key(lua_State *L, builder *b, int depth) {
  uint8_t c = fz_u8(&b->in);
  if (c < 160) {
    lua_pushstring(L, options[c % NOPTIONS]);
    return;
  }
  push_value(L, b, depth);
  if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) != lua_tonumber(L, -1))) {
    lua_pop(L, 1);
    lua_pushliteral(L, "x");
  }
}

static void fill_table(lua_State *L, builder *b, int depth, int t) {
  int n = fz_u8(&b->in) % 8;
  for (int i = 0; i < n && b->in.n; i++) {
    push_key(L, b, depth + 1);
    push_value(L, b, depth + 1);
    lua_rawset(L, t);
  }
}

/* Valid option tables to start from, so that changes to them reach deep
 * into validation. Order: tasks, processes, supervisor, submit, subscriber,
 * ctx:exec options (struct call refers to these by index). */
#define TEMPLATE(src) {.name = "=template", .text = src}
static chunk templates[] = {
    TEMPLATE("return { name = 't', run = function() end }"),
    TEMPLATE("return { name = 't', run = function() end, restart = 'always', interval = 1, "
             "backoff = { first = 0.1, max = 2, factor = 2, jitter = 'full' }, timeout = 3, "
             "max_retries = 2, slot = 's' }"),
    TEMPLATE("return { name = 'p', cmd = { 'true' } }"),
    TEMPLATE("return { name = 'p', cmd = { '/bin/sh', '-c', 'exit 0' }, cwd = '/', "
             "stdout = { file = 'a.log', max_bytes = 100, backups = 2 }, stderr = 'events', "
             "env = { A = 'b' }, inherit_env = false, stdin = 'inherit', stop_signal = 'HUP', "
             "stop_timeout = 1, success_codes = { 0, 2 }, fatal_codes = { 3 } }"),
    TEMPLATE("return { grace = 1, max_concurrent = 2, bus_capacity = 8, seed = 1, "
             "controller = { max_slot_queue = 1 }, "
             "defaults = { restart = 'never', backoff = { first = 1 } } }"),
    TEMPLATE("return { slot = 's', admission = 'replace', task = { name = 't', run = function() end } }"),
    TEMPLATE("return { name = 'sub', on_event = function() end, queue = 4 }"),
    TEMPLATE("return { cwd = '/', env = { X = '1' }, inherit_env = false, stdin = 'in', "
             "timeout = 1, max_output = 10, stop_timeout = 1 }"),
    /* 8..: restart budgets, schedules, start order, readiness, hooks, policy
     * functions, groups and the supervisor's newer options */
    TEMPLATE("return { name = 't', run = function() end, intensity = { max_restarts = 3, "
             "within = 5 }, on_exhausted = { cooldown = 1 }, reset_after = 2, after = { 'a' }, "
             "ready = 'notify', setup = function() end, on_error = function() end, "
             "max_instructions = 5000 }"),
    TEMPLATE("return { name = 't', run = function() end, every = 1, "
             "restart = function() return true end, backoff = function() return 1 end }"),
    TEMPLATE("return { name = 'p', cmd = { 'true' }, ready = { check = { 'true' }, every = 0.1, "
             "timeout = 1 }, cleanup = function() end }"),
    TEMPLATE("return { name = 'g', strategy = 'rest_for_one', intensity = { max_restarts = 1, "
             "within = 1 }, children = { { name = 'c1', run = function() end }, "
             "{ name = 'c2', cmd = { 'true' }, after = { 'c1' } } } }"),
    TEMPLATE("return { intensity = { max_restarts = 2, within = 1 }, on_exhausted = 'give_up', "
             "max_instructions = false, keep_outcomes = 5 }"),
};
#define NTEMPLATES (sizeof templates / sizeof *templates)

static void push_template(lua_State *L, builder *b, unsigned i, int depth) {
  push_chunk(L, &templates[i]);
  lua_call(L, 0, 1);
  fill_table(L, b, depth, lua_gettop(L));
}

static void push_value(lua_State *L, builder *b, int depth) {
  luaL_checkstack(L, 8, "fuzz value");
  uint8_t kind = fz_u8(&b->in) % 24;
  if (depth >= DEPTH_MAX && (kind >= 13 && kind <= 15)) kind = 8;
  switch (kind) {
    case 0: lua_pushnil(L); return;
    case 1: lua_pushboolean(L, 0); return;
    case 2: lua_pushboolean(L, 1); return;
    case 3: lua_pushinteger(L, (int8_t)fz_u8(&b->in)); return;
    case 4: lua_pushinteger(L, int_specials[fz_u8(&b->in) % (sizeof int_specials / sizeof *int_specials)]); return;
    case 5: lua_pushinteger(L, (lua_Integer)fz_uint(&b->in, 8)); return;
    case 6: lua_pushnumber(L, float_specials[fz_u8(&b->in) % (sizeof float_specials / sizeof *float_specials)]); return;
    case 7: lua_pushnumber(L, fz_double(&b->in)); return;
    case 8: case 9: case 10: push_word(L, b); return;
    case 11: {
      size_t len = fz_u8(&b->in) % 64;
      const uint8_t *p = fz_bytes(&b->in, &len);
      lua_pushlstring(L, (const char *)p, len);
      return;
    }
    case 12: push_long_string(L, b); return;
    case 13: case 14: /* a table of key = value */
      lua_newtable(L);
      fill_table(L, b, depth, lua_gettop(L));
      return;
    case 15: { /* a list */
      int n = fz_u8(&b->in) % 8;
      lua_createtable(L, n, 0);
      for (int i = 1; i <= n; i++) {
        push_value(L, b, depth + 1);
        lua_rawseti(L, -2, i);
      }
      return;
    }
    case 16: case 17: /* a function, or another kind of object, from the pool */
      lua_getfield(L, LUA_REGISTRYINDEX, kind == 16 ? "fuzz.functions" : "fuzz.objects");
      lua_rawgeti(L, -1, 1 + fz_u8(&b->in) % (int)lua_rawlen(L, -1));
      lua_remove(L, -2);
      return;
    case 18: lua_pushlightuserdata(L, (void *)(uintptr_t)fz_u8(&b->in)); return;
    case 19: /* a value built earlier: shared subtables */
      if (b->nhist) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, b->history[fz_u8(&b->in) % (b->nhist < HISTORY ? b->nhist : HISTORY)]);
        return;
      }
      lua_pushnil(L);
      return;
    case 20: /* a valid table, then changed */
      push_template(L, b, fz_u8(&b->in) % NTEMPLATES, depth);
      return;
    case 21: { /* a table with a metatable: callable, inheriting, or locked */
      lua_newtable(L);
      lua_newtable(L);
      uint8_t m = fz_u8(&b->in);
      if (m & 1) {
        lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.functions");
        lua_rawgeti(L, -1, 1);
        lua_setfield(L, -3, "__call");
        lua_pop(L, 1);
      }
      if (m & 2 && depth < DEPTH_MAX) { /* only tables: an __index function may raise */
        push_value(L, b, depth + 1);
        if (lua_istable(L, -1))
          lua_setfield(L, -2, "__index");
        else
          lua_pop(L, 1);
      }
      if (m & 4) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
      }
      lua_setmetatable(L, -2);
      fill_table(L, b, depth, lua_gettop(L));
      return;
    }
    case 22: { /* a table that holds itself */
      lua_newtable(L);
      push_key(L, b, depth + 1);
      lua_pushvalue(L, -2);
      lua_rawset(L, -3);
      fill_table(L, b, depth, lua_gettop(L));
      return;
    }
    default: push_option(L, b); return;
  }
}

/* An argument: often the call's own kind of option table, changed. */
static void push_arg(lua_State *L, builder *b, unsigned first, unsigned count) {
  if (count && fz_u8(&b->in) < 128)
    push_template(L, b, first + fz_u8(&b->in) % count, 0);
  else
    push_value(L, b, 0);
  lua_pushvalue(L, -1);
  if (b->nhist >= HISTORY) luaL_unref(L, LUA_REGISTRYINDEX, b->history[b->nhist % HISTORY]);
  b->history[b->nhist++ % HISTORY] = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* ---- the calls ----------------------------------------------------------------- */

typedef struct call {
  const char *fn; /* a field of tv, a method of the supervisor (":m"), or special */
  int nargs;
  int tmpl_arg;       /* which argument may start from a template (-1: none) */
  unsigned tmpl_first, tmpl_count;
} call;

/* Calls without a template; NONE marks the fields that say so. */
#define NONE -1, 0, 0
static const call calls[] = {
    {"task", 1, 0, 0, 2},    {"process", 1, 0, 2, 2},   {"supervisor", 1, 0, 4, 1},
    {"once", 3, NONE},       {"restartable", 3, NONE},  {":add", 1, 0, 0, 4},
    {":submit", 1, 0, 5, 1}, {":subscribe", 1, 0, 6, 1}, {":remove", 1, NONE},
    {":cancel", 2, NONE},    {":signal", 2, NONE},      {":slot", 1, NONE},
    {":contains", 1, NONE},  {":is_alive", 1, NONE},    {"exec", 2, 1, 7, 1},
    {"log_writer", 1, NONE}, {"fail", 2, NONE},         {"fatal", 2, NONE},
    {"signum", 1, NONE},     {":shutdown", 0, NONE},    {":state", 0, NONE},
    {":list", 0, NONE},      {":slots", 0, NONE},       {"fresh", 0, NONE},
    {"self", 2, NONE}, /* a method (chosen by the input) called on a bad self */
    {"task", 1, 0, 8, 2},    {"process", 1, 0, 10, 1},  {"group", 1, 0, 11, 1},
    {"supervisor", 1, 0, 12, 1}, {":add", 1, 0, 8, 4},
    {":wait", 2, NONE},      {":wait_any", 1, NONE},    {":wait_all", 1, NONE},
    {":outcomes", 0, NONE},
};
#define NCALLS (sizeof calls / sizeof *calls)

static const char *const methods[] = {"add",  "submit",   "subscribe", "remove",   "cancel",
                                      "signal", "slot",   "state",     "shutdown", "list",
                                      "snapshot", "slots", "wait",     "wait_any", "wait_all",
                                      "outcomes"};

static int is_code_message(const char *s) { /* "ECODE: ..." */
  if (!s || s[0] != 'E') return 0;
  const char *p = s + 1;
  while (*p >= 'A' && *p <= 'Z') p++;
  return p > s + 1 && p[0] == ':' && p[1] == ' ';
}

/* Registry "fuzz.sup": the supervisor the methods are called on. */
static chunk fresh = {.name = "=fresh", .text = "return require('taskvisor').supervisor{ controller = true }"};

static void fresh_supervisor(lua_State *L) {
  push_chunk(L, &fresh);
  lua_call(L, 0, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.sup");
}

static int trace;

static void run_call(lua_State *L, builder *b) {
  const call *c = &calls[fz_u8(&b->in) % NCALLS];
  int base = lua_gettop(L);
  char prefix[40]; /* every error must start with it */
  snprintf(prefix, sizeof prefix, c->fn[0] == ':' ? "sup:%s: " : "tv.%s: ", c->fn + (c->fn[0] == ':'));
  if (strcmp(c->fn, "fresh") == 0) {
    fresh_supervisor(L);
    return;
  }
  if (strcmp(c->fn, "self") == 0) {
    const char *m = methods[fz_u8(&b->in) % (sizeof methods / sizeof *methods)];
    snprintf(prefix, sizeof prefix, "sup:%s: ", m);
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.sup");
    lua_getfield(L, -1, m);
    lua_remove(L, -2);
  } else if (c->fn[0] == ':') {
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.sup");
    lua_getfield(L, -1, c->fn + 1);
    lua_insert(L, -2); /* method, self */
  } else if (strcmp(c->fn, "exec") == 0) { /* ctx:exec on a stand-in ctx */
    strcpy(prefix, "ctx:exec: ");
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.exec");
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.ctx");
  } else if (strcmp(c->fn, "signum") == 0) {
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.signum");
  } else {
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.tv");
    lua_getfield(L, -1, c->fn);
    lua_remove(L, -2);
  }
  for (int i = 0; i < c->nargs; i++) push_arg(L, b, c->tmpl_first, i == c->tmpl_arg ? c->tmpl_count : 0);
  int nargs = lua_gettop(L) - base - 1;
  lua_sethook(L, line_hook, LUA_MASKLINE, 0);
  int status = lua_pcall(L, nargs, 2, 0);
  lua_sethook(L, NULL, 0, 0);
  if (trace) /* TV_FUZZ_TRACE=1: what each call did, to see how deep inputs reach */
    fprintf(stderr, "%-12s %s %.200s\n", c->fn, status == LUA_OK ? "->" : "raised",
            luaL_tolstring(L, status == LUA_OK ? -2 : -1, NULL)), lua_pop(L, 1);
  if (status != LUA_OK) {
    if (strcmp(c->fn, "fail") == 0 || strcmp(c->fn, "fatal") == 0) {
      lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.failure_mt");
      int ours = lua_getmetatable(L, -2) && lua_rawequal(L, -1, -2);
      if (ours) {
        lua_settop(L, base);
        return;
      }
      lua_settop(L, base + 1);
    }
    const char *msg = lua_tostring(L, -1);
    FZ_CHECK(lua_type(L, -1) == LUA_TSTRING && strncmp(msg, prefix, strlen(prefix)) == 0,
             "%s raised %s, not \"%s...\"", c->fn,
             lua_type(L, -1) == LUA_TSTRING ? msg : luaL_typename(L, -1), prefix);
  } else if (strcmp(c->fn, "signum") == 0) {
    FZ_CHECK(lua_isnil(L, -2) || (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 &&
                                  lua_tointeger(L, -2) <= 31),
             "core.signum returned %s", luaL_tolstring(L, -2, NULL));
  } else if (lua_isnil(L, -2)) {
    FZ_CHECK(is_code_message(lua_tostring(L, -1)), "%s returned nil, %s", c->fn,
             luaL_tolstring(L, -1, NULL));
  } else if (strcmp(c->fn, "supervisor") == 0) {
    lua_pushvalue(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.sup");
  }
  lua_settop(L, base);
}

/* What the calls need: the module, a supervisor, stand-ins; pools of
 * functions (admission decisions, raising ones, C functions) and of other
 * objects (files, task objects, made specs, coroutines, tables with
 * metatables). */
static chunk setup = {.name = "=setup", .text =
    "local tv, core = require('taskvisor'), require('taskvisor.core')\n"
    "local function bad() return setmetatable({}, { __tostring = function() error('tostring') end }) end\n"
    "local fns = { function() end, function(...) return ... end, function() error('boom') end,\n"
    "  function() error({}) end, function() error() end, function() return 'start' end,\n"
    "  function() return 'queue' end, function() return 'replace' end,\n"
    "  function() return 'reject', 'full' end, function() return 'reject', bad() end,\n"
    "  function() return bad() end, function() return 0 / 0 end, function() coroutine.yield() end,\n"
    "  function(slot) return slot.status == 'idle' and 'start' or 'queue' end,\n"
    "  function(_, req) return req.spec.name and 'replace' end,\n"
    "  function(slot) slot.x = 1 end, tostring, type, pcall, coroutine.wrap(function() end) }\n"
    "local open, closed = io.tmpfile(), io.tmpfile()\n"
    "closed:close()\n"
    "local objs = { open, closed, core.task(fns[1]), tv.supervisor(), tv.task{ name = 'made', run = fns[1] },\n"
    "  tv.process{ name = 'made-p', cmd = { 'true' } }, coroutine.create(fns[1]), tv, core.failure_mt,\n"
    "  setmetatable({}, { __call = fns[1] }), setmetatable({}, { __index = { name = 'inh', run = fns[1] } }),\n"
    "  setmetatable({}, { __metatable = 'locked' }) }\n"
    "local function check_exec(_, cmd, opts)\n"
    "  assert(type(cmd) == 'table' and #cmd > 0 and type(opts) == 'table', 'fuzz: bad ctx:exec arguments')\n"
    "  for i = 1, #cmd do assert(type(cmd[i]) == 'string', 'fuzz: bad ctx:exec argv') end\n"
    "  return 0, '', '', false\n"
    "end\n"
    "return tv, core, fns, objs, core.ctx_methods.exec, { _exec = check_exec }\n"};

static lua_State *open_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  preload_modules(L);
  push_chunk(L, &setup);
  lua_call(L, 0, 6);
  static const char *const keys[] = {"fuzz.ctx", "fuzz.exec", "fuzz.objects", "fuzz.functions",
                                     "fuzz.core", "fuzz.tv"};
  for (int i = 0; i < 6; i++) lua_setfield(L, LUA_REGISTRYINDEX, keys[i]);
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.core");
  lua_getfield(L, -1, "signum");
  lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.signum");
  lua_getfield(L, -1, "failure_mt");
  lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.failure_mt");
  lua_pop(L, 1);
  fresh_supervisor(L);
  return L;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  if (strlen(tmp) > sizeof scratch - 40) abort();
  snprintf(scratch, sizeof scratch, "%s/tv-fuzz-lua-XXXXXX", tmp);
  if (!mkdtemp(scratch)) abort();
  strcat(scratch, "/out.log");
  atexit(remove_scratch);
  trace = getenv("TV_FUZZ_TRACE") != NULL;
  size_t n = 0;
  while (tv_embedded[n].name) n++;
  modules = calloc(n, sizeof *modules);
  for (size_t i = 0; i < n; i++) {
    modules[i].name = tv_embedded[i].chunkname;
    modules[i].text = (const char *)tv_embedded[i].data;
    modules[i].len = tv_embedded[i].len;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = open_state();
  edge_src = NULL;
  edge_prev = 0;
  builder b = {{data, size}, {0}, 0};
  for (int n = 0; b.in.n && n < 64; n++) run_call(L, &b);
  lua_close(L);
  return 0;
}
