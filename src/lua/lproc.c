/* lproc.c - process task objects: core.process(opts) builds a tv_process_t
 * from options already validated by lua/taskvisor/init.lua (checks here only
 * keep the C side safe), plus the helpers ctx:exec shares (argv, env,
 * signal names, the context's reaper).
 * Owner: the userdata; anchored in the registry while the core holds it
 * (lheld.c), until release(); its configuration is freed by __gc. */
#include <signal.h>
#include <sys/resource.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"
#include "core/kinds/process.h"
#include "core/loop/signals.h"
#include "lbase.h"
#include "lcmd.h"
#include "lheld.h"
#include "lhooks.h"
#include "lproc.h"

#define LTV_PROCESS "taskvisor.process"

typedef struct ltv_process {
  tv_process_t p; /* first: the task object starts with its tv_task_t */
  ltv_ctx *ctx;
  int anchor;       /* while the core holds it */
  uint8_t orphaned; /* __gc ran while still held (lua_close) */
} ltv_process;

/* core.signum(name | number): "HUP", "SIGHUP" or 1 -> 1; nil if unknown. */
int ltv_signum(lua_State *L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_Integer n = lua_tointeger(L, 1);
    if (n >= 1 && n < 32 && strcmp(tv_signal_name((int)n), "SIG?") != 0) {
      lua_pushinteger(L, n);
      return 1;
    }
  } else if (lua_type(L, 1) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (strlen(s) == len) { /* the whole string: "TERM\0x" is no name */
      if (strncmp(s, "SIG", 3) == 0) s += 3;
      for (int i = 1; i < 32; i++) {
        const char *name = tv_signal_name(i); /* "SIG?" for numbers without a name */
        if (strcmp(name, "SIG?") != 0 && strcmp(name + 3, s) == 0) {
          lua_pushinteger(L, i);
          return 1;
        }
      }
    }
  }
  lua_pushnil(L);
  return 1;
}

/* The core's process ops plus the Lua extras (hooks, policy functions). */
static tv_task_ops_t proc_ops;

static void on_release(tv_process_t *tp) {
  ltv_process *u = (ltv_process *)tp;
  ltv_extras_drop(u->ctx->L, u->ctx, &tp->base);
  luaL_unref(u->ctx->L, LUA_REGISTRYINDEX, u->anchor);
  u->anchor = LUA_NOREF;
  if (u->orphaned) tv_process_fini(tp);
}

/* One of stdout/stderr: { mode = "inherit"|"null"|"pipe", file =, max_bytes =,
 * backups =, events =, timestamps =, compress =, rotate_every = seconds }. Returns 0 or the negative errno of the log file. */
static int read_output(lua_State *L, ltv_ctx *ctx, int opts, const char *k, tv_process_t *p, int i) {
  if (lua_getfield(L, opts, k) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  int t = lua_gettop(L);
  lua_getfield(L, t, "mode");
  const char *mode = lua_tostring(L, -1);
  p->out[i].mode = !mode || strcmp(mode, "inherit") == 0 ? TV_IO_INHERIT
                   : strcmp(mode, "null") == 0            ? TV_IO_NULL
                                                          : TV_IO_PIPE;
  lua_getfield(L, t, "events");
  p->out[i].events = (uint8_t)lua_toboolean(L, -1);
  int rc = 0;
  if (lua_getfield(L, t, "file") == LUA_TSTRING) {
    const char *path = lua_tostring(L, -1);
    if (i == 1 && p->out[0].file && strcmp(p->files[0].path, path) == 0) {
      /* stderr into stdout's file: one writer, so one size and one rotation
       * (two would each rotate the file under the other) */
      p->out[1].file = &p->files[0];
    } else {
      double max = ltv_opt_number(L, t, "max_bytes", 0), backups = ltv_opt_number(L, t, "backups", 0);
      rc = tv_outfile_open(&p->files[i], path, max > 0 ? (uint64_t)max : 0,
                           backups > 0 ? (uint32_t)backups : 0);
      if (rc == 0) {
        double every = ltv_opt_number(L, t, "rotate_every", 0);
        tv_outfile_extra_t x = {
            .timestamps = lua_getfield(L, t, "timestamps") != LUA_TNIL && lua_toboolean(L, -1),
            .compress = lua_getfield(L, t, "compress") != LUA_TNIL && lua_toboolean(L, -1),
            .every_s = every > 0 ? (uint64_t)every : 0,
            .clock = &ctx->clock,
            .loop = ctx->loop};
        lua_pop(L, 2);
        tv_outfile_extras(&p->files[i], &x);
        p->out[i].file = &p->files[i];
      }
    }
  }
  lua_settop(L, t - 1);
  return rc;
}

static int read_codes(lua_State *L, int opts, tv_process_t *p) {
  lua_getfield(L, opts, "success_codes");
  lua_getfield(L, opts, "fatal_codes");
  size_t ns = lua_istable(L, -2) ? lua_rawlen(L, -2) : 0;
  size_t nf = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
  if (ns + nf > 0) {
    if (!(p->codes = malloc((ns + nf) * sizeof *p->codes))) return luaL_error(L, "not enough memory");
    for (size_t i = 0; i < ns + nf; i++) {
      lua_rawgeti(L, i < ns ? -2 : -1, (lua_Integer)(i < ns ? i + 1 : i - ns + 1));
      p->codes[i] = (int32_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
    p->nsuccess = (uint32_t)ns;
    p->nfatal = (uint32_t)nf;
  } else if (lua_istable(L, -2)) { /* success_codes = {}: nothing succeeds */
    if (!(p->codes = malloc(sizeof *p->codes))) return luaL_error(L, "not enough memory");
  }
  lua_pop(L, 2);
  return 0;
}

/* ready = nil (started) | { mode = "notify"|"check", timeout = s (0: none),
 * check = {argv...}, every = s, check_timeout = s }. */
static void read_ready(lua_State *L, int opts, tv_process_t *p) {
  if (lua_getfield(L, opts, "ready") != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  int t = lua_gettop(L);
  lua_getfield(L, t, "mode");
  const char *mode = lua_tostring(L, -1);
  p->ready_mode = mode && strcmp(mode, "notify") == 0  ? TV_READY_NOTIFY
                  : mode && strcmp(mode, "check") == 0 ? TV_READY_CHECK
                                                       : TV_READY_STARTED;
  p->ready_timeout_ms = ltv_opt_ms(L, t, "timeout", (double)p->ready_timeout_ms / 1000.0);
  p->check_every_ms = ltv_opt_ms(L, t, "every", (double)p->check_every_ms / 1000.0);
  p->check_timeout_ms = ltv_opt_ms(L, t, "check_timeout", (double)p->check_timeout_ms / 1000.0);
  if (p->ready_mode == TV_READY_CHECK) {
    if (lua_getfield(L, t, "check") != LUA_TTABLE || lua_rawlen(L, -1) == 0)
      luaL_error(L, "core.process: 'ready.check' must be a non-empty list");
    p->check_argv = ltv_strv(L, -1);
  }
  lua_settop(L, t - 1);
}

static lua_Integer int_field(lua_State *L, int t, const char *k, lua_Integer dflt) {
  lua_getfield(L, t, k);
  lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : dflt;
  lua_pop(L, 1);
  return v;
}

static rlim_t as_rlim(lua_Integer v) { return v < 0 ? RLIM_INFINITY : (rlim_t)v; }

/* creds = { uid =, gid =, groups = {gid...}, umask =, nice =, limits = {
 * { resource =, soft =, hard = (-1: infinity) }... } }, resolved and checked
 * by preflight.lua at add time; each field absent: left as the host's. */
static void read_creds(lua_State *L, int opts, tv_process_t *p) {
  if (lua_getfield(L, opts, "creds") != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  int t = lua_gettop(L);
  tv_creds_t *c = p->creds = calloc(1, sizeof *c);
  if (!c) luaL_error(L, "not enough memory");
  lua_Integer v;
  if ((v = int_field(L, t, "uid", -1)) >= 0) c->set_uid = 1, c->uid = (uid_t)v;
  if ((v = int_field(L, t, "gid", -1)) >= 0) c->set_gid = 1, c->gid = (gid_t)v;
  if ((v = int_field(L, t, "umask", -1)) >= 0) c->set_umask = 1, c->umask = (mode_t)v;
  lua_getfield(L, t, "nice");
  if (lua_isinteger(L, -1)) c->set_nice = 1, c->nice = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, t, "groups") == LUA_TTABLE) {
    size_t n = lua_rawlen(L, -1);
    if (n > TV_CREDS_MAX_GROUPS) luaL_error(L, "core.process: more than %d groups", TV_CREDS_MAX_GROUPS);
    c->set_groups = 1;
    c->ngroups = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i + 1);
      c->groups[i] = (gid_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (lua_getfield(L, t, "limits") == LUA_TTABLE) {
    size_t n = lua_rawlen(L, -1);
    if (n > TV_CREDS_MAX_LIMITS) luaL_error(L, "core.process: more than %d limits", TV_CREDS_MAX_LIMITS);
    int lt = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, lt, (lua_Integer)i + 1);
      int e = lua_gettop(L);
      c->limits[i].resource = (int)int_field(L, e, "resource", 0);
      c->limits[i].lim.rlim_cur = as_rlim(int_field(L, e, "soft", -1));
      c->limits[i].lim.rlim_max = as_rlim(int_field(L, e, "hard", -1));
      lua_pop(L, 1);
    }
    c->nlimits = (uint32_t)n;
  }
  lua_settop(L, t - 1);
}

/* core.process{ cmd =, cwd =, env =, inherit_env =, stdin = "null"|"inherit",
 * stdout =, stderr = (see read_output), stop_signal = n, stop_timeout = s,
 * success_codes =, fatal_codes =, ready = (see read_ready), creds = (see
 * read_creds), max_memory = { bytes =, every = s } }: a task object,
 * or nil, "CODE: message" when a log file cannot be opened. */
int ltv_process_new(lua_State *L) {
  ltv_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  tv_reaper_t *r = ltv_reaper(L, ctx);
  ltv_process *u = lua_newuserdatauv(L, sizeof *u, 0);
  tv_process_init(&u->p, r, &ctx->sched, on_release);
  u->p.base.ops = &proc_ops;
  u->ctx = ctx;
  u->anchor = LUA_NOREF;
  u->orphaned = 0;
  luaL_setmetatable(L, LTV_PROCESS); /* from here __gc frees what is built */
  tv_process_t *p = &u->p;
  if (lua_getfield(L, 1, "cmd") != LUA_TTABLE || lua_rawlen(L, -1) == 0)
    return luaL_error(L, "core.process: 'cmd' must be a non-empty list");
  p->argv = ltv_strv(L, -1);
  lua_pop(L, 1);
  ltv_envp(L, 1, &p->envp);
  if (lua_getfield(L, 1, "cwd") == LUA_TSTRING && !(p->cwd = strdup(lua_tostring(L, -1))))
    return luaL_error(L, "not enough memory");
  lua_pop(L, 1);
  lua_getfield(L, 1, "stdin");
  const char *in = lua_tostring(L, -1);
  p->stdin_mode = in && strcmp(in, "inherit") == 0 ? TV_IO_INHERIT : TV_IO_NULL;
  lua_pop(L, 1);
  p->stop_signal = (int)ltv_opt_number(L, 1, "stop_signal", SIGTERM);
  p->stop_timeout_ms = ltv_opt_ms(L, 1, "stop_timeout", (double)p->stop_timeout_ms / 1000.0);
  read_codes(L, 1, p);
  read_ready(L, 1, p);
  p->watchdog_ms = (uint32_t)ltv_opt_ms(L, 1, "watchdog", 0); /* (the spec's, copied by spec.lua) */
  read_creds(L, 1, p);
  if (lua_getfield(L, 1, "max_memory") == LUA_TTABLE) { /* { bytes =, every = s } */
    p->max_memory = (uint64_t)int_field(L, lua_gettop(L), "bytes", 0);
    p->memory_every_ms = ltv_opt_ms(L, lua_gettop(L), "every", (double)p->memory_every_ms / 1000.0);
  }
  lua_pop(L, 1);
  static const char *const streams[2] = {"stdout", "stderr"};
  for (int i = 0; i < 2; i++) {
    int rc = read_output(L, ctx, 1, streams[i], p, i);
    if (rc) {
      lua_getfield(L, 1, streams[i]);
      lua_getfield(L, -1, "file");
      const char *path = lua_tostring(L, -1);
      lua_pushnil(L);
      lua_pushfstring(L, "%s: %s: cannot open log file '%s': %s", uv_err_name(rc), streams[i],
                      path, uv_strerror(rc));
      return 2;
    }
  }
  return 1;
}

/* The live state of process task t: { pid = n (while an attempt's process
 * runs), attempt = n, stdout = { file =, lost_bytes =, error = }, stderr = ... }
 * (a stream's table only when it goes to a file; stderr sharing stdout's file
 * shows the same one). */
void ltv_process_push_state(lua_State *L, tv_task_t *t) {
  tv_process_t *p = (tv_process_t *)t;
  lua_createtable(L, 0, 4);
  if (p->run) {
    lua_pushinteger(L, p->run->pid);
    lua_setfield(L, -2, "pid");
  }
  lua_pushinteger(L, t->actor.attempt);
  lua_setfield(L, -2, "attempt");
  if (p->run && p->run->child) {
    lua_pushstring(L, tv_child_containment(p->run->child));
    lua_setfield(L, -2, "containment");
  }
  static const char *const streams[2] = {"stdout", "stderr"};
  for (int i = 0; i < 2; i++) {
    const tv_outfile_t *f = p->out[i].file;
    if (!f || !f->path) continue;
    lua_createtable(L, 0, 3);
    lua_pushstring(L, f->path);
    lua_setfield(L, -2, "file");
    lua_pushinteger(L, (lua_Integer)f->dropped);
    lua_setfield(L, -2, "lost_bytes");
    if (f->dropped) {
      lua_pushfstring(L, "%s: %s", uv_err_name(f->error), uv_strerror(f->error));
      lua_setfield(L, -2, "error");
    }
    lua_setfield(L, -2, streams[i]);
  }
}

/* sup:process_info's table for a process task t: { pid =, containment =
 * "cgroup" | "pgroup", cgroup = directory (cgroup only) }; 0 pushed nothing
 * (no process runs: between attempts, or the last one is ending). */
int ltv_process_info(lua_State *L, tv_task_t *t) {
  tv_process_t *p = (tv_process_t *)t;
  if (!p->run || !p->run->child) return 0;
  const tv_child_t *c = p->run->child;
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, p->run->pid);
  lua_setfield(L, -2, "pid");
  lua_pushstring(L, tv_child_containment(c));
  lua_setfield(L, -2, "containment");
  if (c->cg) {
    lua_pushstring(L, c->cg);
    lua_setfield(L, -2, "cgroup");
  }
  return 1;
}

int ltv_process_explicit_ready(tv_task_t *t) {
  return tv_process_is(t) && tv_process_explicit_ready((tv_process_t *)t);
}

static int process_gc(lua_State *L) {
  ltv_process *u = luaL_checkudata(L, 1, LTV_PROCESS);
  if (u->p.base.actor.policy) /* still held: only while lua_close runs */
    u->orphaned = 1;
  else
    tv_process_fini(&u->p);
  tv_list_unlink(&u->p.all); /* (no log reopening reaches it from here on) */
  ltv_extras_drop(L, u->ctx, &u->p.base); /* before the address can be reused */
  return 0;
}

static int process_tostring(lua_State *L) {
  ltv_process *u = luaL_checkudata(L, 1, LTV_PROCESS);
  const tv_actor_t *a = &u->p.base.actor;
  lua_pushfstring(L, "taskvisor.process(%s, pid %d)", a->name ? a->name->s : "?",
                  u->p.run ? (int)u->p.run->pid : 0);
  return 1;
}

void ltv_process_open(lua_State *L) {
  tv_process_ops_copy(&proc_ops);
  ltv_extras_ops(&proc_ops);
  static const luaL_Reg meta[] = {{"__gc", process_gc}, {"__tostring", process_tostring},
                                  {NULL, NULL}};
  luaL_newmetatable(L, LTV_PROCESS); /* sets __name */
  luaL_setfuncs(L, meta, 0);
  ltv_held_kind(L, offsetof(ltv_process, anchor));
  lua_pop(L, 1);
}
