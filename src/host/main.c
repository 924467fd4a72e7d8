/* main.c - the taskvisor host: an embedded Lua 5.4 with taskvisor built in.
 *   taskvisor [options] [script [args...]]
 * runs a supervision config written in Lua, with `arg` set as lua5.4 does.
 * Exit status: 0 clean, 1 script error (message and traceback on stderr),
 * 2 the last supervisor run ended with its shutdown exceeding the grace
 * period, 3 a restart budget escalated to the supervisor (os.exit(n) in the
 * script decides by itself). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <uv.h>

#include "control/lserver.h"
#include "core/os/reaper.h"
#include "core/os/spawn.h"
#include "ctl.h"
#include "embedded.h"

int luaopen_taskvisor_core(lua_State *L);

#define PROGNAME "taskvisor"
#define GRACE_EXCEEDED_FLAG "taskvisor.grace_exceeded"

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROGNAME " [options] [script [args...]]\n"
          "       " PROGNAME " run [--name NAME] [--control PATH] CONFIG | check CONFIG | simulate CONFIG\n"
          "       " PROGNAME " ctl [--socket PATH | --name NAME] [--json] COMMAND ...\n"
          "       " PROGNAME " help [CMD]\n"
          "Runs a supervision config written in Lua 5.4 with taskvisor built in.\n"
          "Options:\n"
          "  -e code   run the Lua code (may be repeated; before the script)\n"
          "  -v        print version information and exit\n"
          "  -h        print this help and exit\n"
          "  --        stop handling options\n"
          "  -         run the script read from standard input\n"
          "Exit status: 0 clean; 1 script or config error; 2 the last sup:run() ended in\n"
          "GraceExceeded; 3 it ended because a restart budget escalated to the supervisor.\n"
          "Example:  " PROGNAME " examples/quickstart.lua\n");
}

static void print_version(void) {
  printf(PROGNAME " %s (%s, libuv %s)\n", TV_HOST_VERSION, LUA_RELEASE, uv_version_string());
}

/* The chunk names of the library's files as the host embeds them. */
#define LIBRARY_CHUNK "@lua/taskvisor/"

/* A config error (bad options) is raised by the library at the user's line:
 * the library's own frames tell the operator nothing. Returns the stack
 * level of the first frame of user code when the innermost Lua frame is
 * the library's, or 0 (an error in user code, or one whose message points
 * inside the library, which is a bug there: keep every frame). */
static int user_level(lua_State *L, const char *msg) {
  if (strncmp(msg, &LIBRARY_CHUNK[1], sizeof LIBRARY_CHUNK - 2) == 0) return 0;
  lua_Debug ar;
  int in_library = 0;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "S", &ar) || ar.what[0] == 'C') continue; /* error(), the binding */
    if (strncmp(ar.source, LIBRARY_CHUNK, sizeof LIBRARY_CHUNK - 1) == 0) {
      in_library = 1;
      continue;
    }
    return in_library ? level : 0;
  }
  return 0;
}

/* Message handler: the error plus a traceback (as lua.c does); for a config
 * error, the traceback starts at the user's code. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  int level = user_level(L, msg);
  luaL_traceback(L, L, msg, level ? level : 1);
  return 1;
}

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, PROGNAME ": %s\n", msg ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

static int docall_n(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  int status = lua_pcall(L, narg, nres, base);
  lua_remove(L, base);
  return status;
}

static int docall(lua_State *L, int narg) { return docall_n(L, narg, 0); }

/* package.preload loader for a module compiled into the binary. */
static int load_embedded(lua_State *L) {
  const tv_embedded_t *m = lua_touserdata(L, lua_upvalueindex(1));
  if (luaL_loadbufferx(L, (const char *)m->data, m->len, m->chunkname, "t") != LUA_OK)
    return lua_error(L);
  lua_pushvalue(L, 1); /* module name */
  lua_call(L, 1, 1);
  return 1;
}

static void preload(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_taskvisor_core);
  lua_setfield(L, -2, "taskvisor.core");
  lua_pushcfunction(L, luaopen_taskvisor_control_server); /* the control API (run) */
  lua_setfield(L, -2, "taskvisor.control.server");
  for (const tv_embedded_t *m = tv_embedded; m->name; m++) {
    lua_pushlightuserdata(L, (void *)m);
    lua_pushcclosure(L, load_embedded, 1);
    lua_setfield(L, -2, m->name);
  }
  lua_pop(L, 1);
}

/* arg[0] = script, arg[1..] = its arguments, arg[-n..-1] = the interpreter
 * and the options before the script (lua.c's layout). */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  lua_createtable(L, argc - script, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

typedef struct options {
  int script; /* index of the script in argv, or 0 */
  int version, help;
} options;

/* Returns 0, or -1 on a usage error (reported). */
static int parse(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      o->script = i;
      return 0;
    }
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) o->script = i + 1;
      return 0;
    }
    if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      o->version = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      o->help = 1;
    } else if (strcmp(a, "-e") == 0) {
      if (++i >= argc) {
        fprintf(stderr, PROGNAME ": '-e' needs an argument\n");
        return -1;
      }
    } else if (strncmp(a, "-e", 2) == 0) {
      /* -ecode */
    } else {
      fprintf(stderr, PROGNAME ": unrecognized option '%s'\n", a);
      return -1;
    }
  }
  return 0;
}

static int run_options(lua_State *L, int argc, char **argv, int last) {
  for (int i = 1; i < last; i++) {
    if (strncmp(argv[i], "-e", 2) != 0) continue;
    const char *code = argv[i][2] ? argv[i] + 2 : argv[++i];
    int status = luaL_loadbuffer(L, code, strlen(code), "=(command line)");
    if (status == LUA_OK) status = docall(L, 0);
    if (report(L, status) != LUA_OK) return status;
  }
  return LUA_OK;
}

static int run_script(lua_State *L, char **argv, int argc, int script) {
  const char *fname = argv[script];
  if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0) fname = NULL;
  int status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = argc - script - 1;
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (int i = 1; i <= n; i++) lua_pushstring(L, argv[script + i]);
    status = docall(L, n);
  }
  return report(L, status);
}

/* Warns on stderr about each supervisor that was given tasks and never ran
 * (a script that forgets sup:run() would otherwise exit 0 having run
 * nothing): taskvisor.supervisor's unran() words them. Only if the script
 * loaded it; a failure here is not the script's. */
static void warn_unran(lua_State *L) {
  int top = lua_gettop(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "taskvisor.supervisor") == LUA_TTABLE &&
      lua_getfield(L, -1, "unran") == LUA_TFUNCTION && lua_pcall(L, 0, 1, 0) == LUA_OK &&
      lua_istable(L, -1)) {
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
      fprintf(stderr, PROGNAME ": warning: %s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    fflush(stderr);
  }
  lua_settop(L, top);
}

/* ---- subcommands -------------------------------------------------------------
 * taskvisor run | check CONFIG ...: the Lua module taskvisor.cli. */
static const char *const LUA_COMMANDS[] = {"run", "check", "simulate", NULL};

static int is_lua_command(const char *w) {
  for (int i = 0; LUA_COMMANDS[i]; i++)
    if (strcmp(w, LUA_COMMANDS[i]) == 0) return 1;
  return 0;
}

static void command_usage(FILE *out, const char *cmd) {
  if (strcmp(cmd, "run") == 0)
    fprintf(out, "usage: " PROGNAME " run [options] CONFIG [options] [-- args...]\n"
                 "Runs a declarative config (a Lua file ending in 'return tv.config{...}');\n"
                 "a script that calls sup:run() itself runs as with '" PROGNAME " SCRIPT'.\n"
                 "Either way the run serves the control API (docs/control-api.md) on a Unix socket.\n"
                 "Options go before or after CONFIG; other words after it, and all after '--',\n"
                 "are the config's own arguments (its '...').\n"
                 "  --name NAME     the host's name (default: CONFIG's file name without .lua)\n"
                 "  --control PATH  the socket (default: $XDG_RUNTIME_DIR/taskvisor/NAME.sock, else\n"
                 "                  /run/taskvisor/NAME.sock as root, else /tmp/taskvisor-UID/NAME.sock)\n"
                 "  --events-json FILE|-     every event as a JSON line (- : standard output)\n"
                 "  --http ADDR:PORT         /metrics (Prometheus) and the status page over TCP\n"
                 "  --http-token-file PATH   where --http's bearer token is written\n"
                 "Exit status as '" PROGNAME " SCRIPT': 0, 1 config error, 2 GraceExceeded, 3 escalated.\n");
  else if (strcmp(cmd, "check") == 0)
    fprintf(out, "usage: " PROGNAME " check CONFIG [args...]\n"
                 "Loads and validates a declarative config without starting anything, prints\n"
                 "its task tree and exits 0; or prints every error (file:line) and exits 1.\n");
  else if (strcmp(cmd, "simulate") == 0)
    fprintf(out, "usage: " PROGNAME " simulate CONFIG [--for 24h] [--seed N] [--trace TRACE.lua] [--json] [--svg FILE]\n"
                 "Runs the config's tasks in virtual time (nothing waits for real; process tasks\n"
                 "are not spawned: the trace says how each attempt goes) and prints the events\n"
                 "with virtual timestamps, then a summary per task. Same inputs, same output.\n");
}

/* Runs taskvisor.cli's main(cmd, {words}) and returns the exit status: its
 * result, or (nil) the status of the last supervisor run. */
static int run_lua_command(lua_State *L, int argc, char **argv) {
  const char *cmd = argv[1];
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      command_usage(stdout, cmd);
      return 0;
    } else if (strcmp(argv[i], "--") == 0 || argv[i][0] != '-') {
      break;
    }
  lua_getglobal(L, "require");
  lua_pushstring(L, "taskvisor.cli");
  if (report(L, docall_n(L, 1, 1)) != LUA_OK) return 1;
  lua_getfield(L, -1, "main");
  lua_pushstring(L, cmd);
  lua_createtable(L, argc - 2, 0);
  for (int i = 2; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  if (report(L, docall_n(L, 2, 1)) != LUA_OK) return 1;
  if (lua_isinteger(L, -1)) return (int)lua_tointeger(L, -1);
  warn_unran(L);
  lua_getfield(L, LUA_REGISTRYINDEX, GRACE_EXCEEDED_FLAG);
  return lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
}

/* taskvisor help [CMD] */
static int help_command(int argc, char **argv) {
  if (argc < 3) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[2], "ctl") == 0) {
    if (argc > 3 && tv_client_usage(NULL, argv[3]) != 0) {
      fprintf(stderr, PROGNAME ": help: unknown ctl command '%s' (see '" PROGNAME " help ctl')\n", argv[3]);
      return 1;
    }
    tv_client_usage(stdout, argc > 3 ? argv[3] : NULL);
    return 0;
  }
  if (!is_lua_command(argv[2])) {
    fprintf(stderr, PROGNAME ": help: unknown command '%s'\n", argv[2]);
    return 1;
  }
  command_usage(stdout, argv[2]);
  return 0;
}

/* Everything that may raise runs here, under lua_pcall. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  if (argc > 1 && strcmp(argv[1], "help") == 0) {
    lua_pushinteger(L, help_command(argc, argv));
    return 1;
  }
  if (argc > 1 && strcmp(argv[1], "ctl") == 0) { /* a client: no Lua needed */
    lua_pushinteger(L, tv_client_main(argc - 1, argv + 1));
    return 1;
  }
  if (argc > 1 && is_lua_command(argv[1])) {
    luaL_openlibs(L);
    preload(L);
    create_arg_table(L, argv, argc, argc > 2 ? 2 : 1);
    lua_gc(L, LUA_GCGEN, 0, 0);
    lua_pushinteger(L, run_lua_command(L, argc, argv));
    return 1;
  }
  options o;
  if (parse(argc, argv, &o) != 0) {
    usage(stderr);
    lua_pushinteger(L, 1);
    return 1;
  }
  if (o.help) {
    usage(stdout);
    lua_pushinteger(L, 0);
    return 1;
  }
  if (o.version) print_version();
  luaL_openlibs(L);
  preload(L);
  create_arg_table(L, argv, argc, o.script ? o.script : argc);
  lua_gc(L, LUA_GCGEN, 0, 0); /* as lua.c: generational mode */
  int last = o.script ? o.script : argc;
  if (run_options(L, argc, argv, last) != LUA_OK) {
    lua_pushinteger(L, 1);
    return 1;
  }
  if (o.script && run_script(L, argv, argc, o.script) != LUA_OK) {
    lua_pushinteger(L, 1);
    return 1;
  }
  if (!o.script && !o.version && last == argc && argc == 1) {
    usage(stderr);
    lua_pushinteger(L, 1);
    return 1;
  }
  warn_unran(L);
  lua_getfield(L, LUA_REGISTRYINDEX, GRACE_EXCEEDED_FLAG);
  lua_pushinteger(L, lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0);
  return 1;
}

/* ---- signals ---------------------------------------------------------------
 * During sup:run() the run's watchers handle INT/TERM/QUIT (shutdown),
 * HUP/USR1 (reopen log files), USR2 (status) and ALRM (nothing); outside a
 * run the dispositions below hold (the run puts them back when it ends).
 * HUP/USR1/USR2/ALRM then do nothing (caught, not ignored: a child started
 * by os.execute or io.popen gets the default back at exec). Every other
 * signal that would end the host, INT/TERM/QUIT outside a run included,
 * first SIGKILLs every task's tree, then ends the host as it would have:
 * no way the host ends but SIGKILL leaves a task's process behind. */

static void on_harmless(int sig) { (void)sig; }

static void on_fatal(int sig) {
  tv_reaper_kill_all_now();
  raise(sig); /* SA_RESETHAND: the default action now, as if never caught */
}

static void install_signals(void) {
  static const int harmless[] = {SIGHUP, SIGUSR1, SIGUSR2, SIGALRM};
  static const int fatal[] = {SIGINT,  SIGTERM, SIGQUIT,   SIGSEGV,   SIGBUS,  SIGFPE,
                              SIGILL,  SIGABRT, SIGSYS,    SIGTRAP,   SIGXCPU, SIGXFSZ,
                              SIGVTALRM, SIGPROF, SIGPWR, SIGSTKFLT, SIGIO};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_harmless;
  sa.sa_flags = SA_RESTART;
  for (size_t i = 0; i < sizeof harmless / sizeof *harmless; i++) sigaction(harmless[i], &sa, NULL);
  sa.sa_handler = on_fatal;
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) {
    struct sigaction old;
    /* (a sanitizer's own handlers stay: they report and end the host themselves) */
    if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL) sigaction(fatal[i], &sa, NULL);
  }
}

int main(int argc, char **argv) {
  tv_stdio_guard(); /* before the first descriptor is opened */
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, PROGNAME ": cannot create Lua state: not enough memory\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN); /* a closed pipe is an error to report, not a death */
  install_signals();
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int code = 1;
  if (status == LUA_OK)
    code = (int)lua_tointeger(L, -1);
  else
    report(L, status);
  lua_close(L);
  return code;
}
