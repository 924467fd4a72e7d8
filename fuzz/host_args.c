/* fuzz/host_args.c - the host's command line (src/host/main.c, compiled in
 * here for its static functions): argv from the input (NUL-separated), then
 * what the host does with it before loading a script: option parsing, the
 * `arg` table, and the -e chunks, run in a bare Lua state with an instruction
 * and memory budget. Nothing may read past argv; a parse that succeeds names
 * a script inside argv. The host's own output goes to /dev/null. */
#include <stdio.h>

static FILE *fz_null;
#undef stdout
#define stdout fz_null
#undef stderr
#define stderr fz_null
#define printf(...) fprintf(fz_null, __VA_ARGS__)
#define main taskvisor_host_main
#include "../src/host/main.c"
#undef main
#undef printf

#include "fuzz.h"

#define MAX_ARGS 64
#define MEM_BUDGET (8u << 20)

static size_t mem_used;

static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (!ptr) osize = 0;
  if (nsize == 0) {
    mem_used -= osize;
    free(ptr);
    return NULL;
  }
  if (nsize > osize && mem_used + (nsize - osize) > MEM_BUDGET) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) mem_used += nsize - osize;
  return p;
}

static void budget_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  luaL_error(L, "instruction budget exhausted");
}

/* Runs what pmain runs before the script: [argc, argv, script]. */
static int host_options(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  int script = (int)lua_tointeger(L, 3);
  create_arg_table(L, argv, argc, script ? script : argc);
  lua_pushinteger(L, run_options(L, argc, argv, script ? script : argc));
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!fz_null && !(fz_null = fopen("/dev/null", "w"))) abort();
  char *argv[MAX_ARGS + 1];
  int argc = 0;
  argv[argc++] = strdup(PROGNAME);
  for (size_t i = 0; i <= size && argc < MAX_ARGS;) { /* each arg its own block */
    const uint8_t *end = memchr(data + i, '\0', size - i);
    size_t len = end ? (size_t)(end - (data + i)) : size - i;
    argv[argc++] = strndup((const char *)data + i, len);
    i += len + 1;
  }
  argv[argc] = NULL;

  options o;
  int rc = parse(argc, argv, &o);
  FZ_CHECK(rc == 0 || rc == -1, "parse -> %d", rc);
  FZ_CHECK(o.script >= 0 && o.script < argc, "script index %d of %d args", o.script, argc);
  if (rc == 0 && !o.help) {
    mem_used = 0;
    lua_State *L = lua_newstate(budget_alloc, NULL);
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 100000);
    lua_pushcfunction(L, host_options);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    lua_pushinteger(L, o.script);
    lua_pcall(L, 3, 1, 0); /* only out of memory could raise */
    lua_close(L);
    FZ_CHECK(mem_used == 0, "%zu bytes still held after lua_close", mem_used);
  }
  for (int i = 0; i < argc; i++) free(argv[i]);
  return 0;
}
