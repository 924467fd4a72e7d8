/* lexec.c - ctx:exec(cmd [, opts]): runs a command to completion from a Lua
 * task without blocking the loop. The task's fiber waits (LTV_WAIT_OWNER)
 * while a tv_proc_t captures stdout/stderr (bounded by max_output); a
 * cancelled task stops the command (stop signal, then SIGKILL) and the wait
 * returns ECANCELED once it is gone; a killed task's command is SIGKILLed.
 * Owner: each wait's exec_t is on the context's list from the spawn until
 * the waiting fiber reads its result or is aborted. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/error.h"
#include "core/os/proc.h"
#include "core/loop/signals.h"
#include "lbase.h"
#include "lcmd.h"
#include "lexec.h"
#include "lfiber.h"

typedef struct ltv_exec {
  ltv_fiber *f;
  tv_proc_t *run;   /* NULL once done */
  int status;
  uint8_t done, timed_out, truncated;
  char *out[2];     /* captured stdout, stderr (malloc'd) */
  size_t len[2];
  double timeout;
  char err[256];    /* the spawn failed: "ENOENT: ..." */
  struct ltv_exec *next;
} exec_t;

static exec_t *find(ltv_fiber *f, int unlink) {
  for (exec_t **p = &f->ctx->execs; *p; p = &(*p)->next) {
    if ((*p)->f != f) continue;
    exec_t *e = *p;
    if (unlink) *p = e->next;
    return e;
  }
  return NULL;
}

static void free_exec(exec_t *e) {
  if (e->run) tv_proc_release(e->run); /* SIGKILLs a command still running */
  free(e->out[0]);
  free(e->out[1]);
  free(e);
}

static void on_done(tv_proc_t *run) {
  exec_t *e = run->data;
  e->run = NULL;
  e->done = 1;
  e->status = run->status;
  e->timed_out = run->timed_out;
  for (int i = 0; i < 2; i++) { /* take the captures */
    e->out[i] = run->pumps[i].cap;
    e->len[i] = run->pumps[i].caplen;
    e->truncated |= run->pumps[i].truncated;
    run->pumps[i].cap = NULL;
  }
  tv_proc_release(run);
  ltv_fiber *f = e->f;
  ltv_fiber_wake(f, f->cancelled ? LTV_WAKE_CANCELLED : LTV_WAKE_OK);
}

void ltv_exec_interrupt(ltv_fiber *f) {
  exec_t *e = find(f, 0);
  if (e && e->run) tv_proc_stop(e->run);
}

void ltv_exec_abort(ltv_fiber *f) {
  exec_t *e = find(f, 1);
  if (e) free_exec(e);
}

static void push_outputs(lua_State *L, exec_t *e) {
  lua_pushlstring(L, e->out[0] ? e->out[0] : "", e->len[0]);
  lua_pushlstring(L, e->out[1] ? e->out[1] : "", e->len[1]);
}

/* Resumed once the command is done (or the wait was cut short); the result
 * is in the fiber's exec_t. */
static int exec_k(lua_State *L, int status, lua_KContext k) {
  (void)status;
  ltv_fiber *f = (ltv_fiber *)k;
  exec_t *e = find(f, 1);
  if (f->ctx->current != f) { /* resumed by coroutine.resume: refuse */
    if (e) free_exec(e);
    return luaL_error(L, "ctx:exec: the task's coroutine was resumed outside its supervisor");
  }
  if (!e) return ltv_push_error(L, TV_ECANCELED, "the task was cancelled; the command was not run");
  int n = 4;
  if (e->err[0]) {
    lua_pushnil(L);
    lua_pushstring(L, e->err);
    n = 2;
  } else if (f->result == LTV_WAKE_CANCELLED) {
    lua_pushnil(L);
    lua_pushliteral(L, "ECANCELED: the task was cancelled; the command was stopped");
    push_outputs(L, e);
  } else if (e->timed_out) {
    lua_pushnil(L);
    lua_pushfstring(L, "ETIMEDOUT: the command timed out after %fs and was stopped", e->timeout);
    push_outputs(L, e);
  } else if (WIFEXITED(e->status)) {
    lua_pushinteger(L, WEXITSTATUS(e->status));
    push_outputs(L, e);
    lua_pushboolean(L, e->truncated);
  } else {
    lua_pushnil(L);
    lua_pushfstring(L, "killed by signal %s",
                    tv_signal_name(WIFSIGNALED(e->status) ? WTERMSIG(e->status) : SIGKILL));
    push_outputs(L, e);
  }
  free_exec(e);
  return n;
}

/* A memfd holding `s` (rewound), so the child reads stdin from a file: no
 * pipe to feed, no SIGPIPE, nothing to block on. -1 on failure. */
static int stdin_file(const char *s, size_t len) {
  int fd = memfd_create("taskvisor-stdin", MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, s + off, len - off);
    if (w <= 0) {
      close(fd);
      return -1;
    }
    off += (size_t)w;
  }
  if (lseek(fd, 0, SEEK_SET) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* ctx:exec(cmd, opts) with cmd a validated list and opts a table (init.lua):
 * cwd, env, inherit_env, stdin (a string), timeout, max_output, stop_timeout. */
int ltv_exec(lua_State *L, ltv_fiber *f) {
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  if (!lua_isyieldable(L))
    return luaL_error(L, "ctx:exec: cannot wait here: Lua cannot yield from this point");
  if (f->cancelled) { /* still yields once, like every waiting primitive */
    ltv_fiber_wake(f, LTV_WAKE_CANCELLED);
    return lua_yieldk(L, 0, (lua_KContext)f, exec_k);
  }
  tv_reaper_t *r = ltv_reaper(L, f->ctx);
  char **envp, **argv = ltv_strv(L, 2); /* validated: these raise only when out of memory */
  ltv_envp(L, 3, &envp);
  exec_t *e = calloc(1, sizeof *e);
  if (!e) {
    free(argv);
    free(envp);
    return luaL_error(L, "not enough memory");
  }
  e->f = f;
  e->next = f->ctx->execs;
  f->ctx->execs = e;
  lua_getfield(L, 3, "cwd");
  lua_getfield(L, 3, "stdin");
  size_t inlen = 0;
  const char *in = lua_tolstring(L, -1, &inlen);
  int infd = in ? stdin_file(in, inlen) : -1;
  double max = ltv_opt_number(L, 3, "max_output", 1 << 20);
  tv_proc_cfg_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.spawn.argv = argv;
  cfg.spawn.envp = envp;
  cfg.spawn.cwd = lua_tostring(L, 4);
  cfg.stdin_mode = infd >= 0 ? TV_IO_FD : TV_IO_NULL;
  cfg.stdin_fd = infd;
  for (int i = 0; i < 2; i++) {
    cfg.out[i].mode = TV_IO_PIPE;
    cfg.out[i].capture_max = (size_t)max;
  }
  e->timeout = ltv_opt_number(L, 3, "timeout", 0);
  cfg.timeout_ms = ltv_opt_ms(L, 3, "timeout", 0);
  cfg.stop_signal = SIGTERM;
  cfg.stop_timeout_ms = ltv_opt_ms(L, 3, "stop_timeout", 5);
  cfg.reaper = r;
  cfg.sched = &f->ctx->sched;
  cfg.on_done = on_done;
  cfg.data = e;
  int stage = TV_SPAWN_AT_SETUP, rc = in && infd < 0 ? -ENOMEM : 0;
  if (rc == 0) rc = tv_proc_start(&e->run, &cfg, &stage);
  if (rc != 0) { /* reported after one pass of the loop, like any wait */
    e->run = NULL;
    tv_spawn_strerror(rc, stage, &cfg.spawn, e->err, sizeof e->err);
    ltv_fiber_wake(f, LTV_WAKE_OK);
  } else {
    f->wait = LTV_WAIT_OWNER;
  }
  if (infd >= 0) close(infd);
  free(argv);
  free(envp);
  return lua_yieldk(L, 0, (lua_KContext)f, exec_k);
}
