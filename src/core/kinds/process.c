/* process.c - process tasks (see process.h): attempts, their outcomes and
 * their readiness. */
#include "core/kinds/process.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/error.h"
#include "core/loop/signals.h"
#include "core/os/memtree.h"

/* Every process task from tv_process_init to tv_process_fini (one loop, one
 * thread). */
static tv_link_t all_processes = {&all_processes, &all_processes};

/* Bumped by every reopen: writers outside the core (tv.json_writer) reopen
 * their files when it changed. */
static unsigned reopen_generation;

unsigned tv_process_reopen_generation(void) { return reopen_generation; }

unsigned tv_process_reopen_logs(void) {
  unsigned n = 0;
  reopen_generation++;
  tv_list_each(l, &all_processes) {
    tv_process_t *p = tv_container_of(l, tv_process_t, all);
    for (int i = 0; i < 2; i++)
      if (p->files[i].fd >= 0) { /* (-1: reopened at the next write; outfile.h) */
        close(p->files[i].fd);
        p->files[i].fd = -1;
        n++;
      }
  }
  return n;
}

char *tv_process_describe(const tv_task_t *t, char *buf, size_t size) {
  const tv_process_t *p = (const tv_process_t *)t;
  buf[0] = 0;
  if (tv_process_is(t) && p->run && p->run->child)
    snprintf(buf, size, " pid=%d containment=%s", (int)p->run->pid,
             tv_child_containment(p->run->child));
  return buf;
}

static int has_code(const int32_t *codes, uint32_t n, int32_t code) {
  for (uint32_t i = 0; i < n; i++)
    if (codes[i] == code) return 1;
  return 0;
}

/* ---- readiness ------------------------------------------------------------- */

/* No more readiness news for this attempt (ready, stopping or ended); the
 * notify socket is kept (with close_socket 0) so that a process still
 * saying STATUS= or STOPPING=1 is not refused. */
static void readiness_stop(tv_process_t *p, int close_socket) {
  tv_timer_stop(p->sched, &p->ready_timer);
  tv_readycheck_stop(&p->check);
  if (close_socket && p->notify) {
    tv_notify_close(p->notify);
    p->notify = NULL;
  }
}

static void on_ready(void *data) {
  tv_process_t *p = data;
  if (!p->run || p->stopping || p->not_ready) return;
  readiness_stop(p, 0);
  tv_task_ready(&p->base);
}

static void on_ready_timeout(tv_timer_t *t) {
  tv_process_t *p = tv_container_of(t, tv_process_t, ready_timer);
  if (!p->run || p->stopping) return;
  p->not_ready = 1;
  readiness_stop(p, 0);
  tv_proc_stop(p->run); /* stop_signal, SIGKILL after stop_timeout */
}

/* "not ready within 5s (ready = "notify")" into buf. */
static char *not_ready_msg(const tv_process_t *p, char *buf, size_t size) {
  char d[32], how[200];
  tv_fmt_duration(p->ready_timeout_ms * TV_NS_PER_MS, d, sizeof d);
  if (p->ready_mode == TV_READY_NOTIFY)
    snprintf(buf, size, "not ready within %s (ready = \"notify\")", d);
  else
    snprintf(buf, size, "not ready within %s (ready.check: %s)", d,
             tv_readycheck_describe(&p->check, how, sizeof how));
  return buf;
}

/* READY=1 counts with ready = "notify" only (the socket may be there for the watchdog). */
static void on_notify_ready(void *data) {
  tv_process_t *p = data;
  if (p->ready_mode == TV_READY_NOTIFY) on_ready(p);
}

/* WATCHDOG=1 (systemd's keep-alive): the attempt's watchdog starts again. */
static void on_alive(void *data) {
  tv_process_t *p = data;
  if (p->run && !p->stopping) tv_task_alive(&p->base);
}

/* The readiness watch of a new attempt, before its spawn: *envp is the
 * environment to spawn with (a block to free when it is not p->envp). */
static int readiness_open(tv_process_t *p, char ***envp) {
  *envp = p->envp;
  if (p->ready_mode != TV_READY_NOTIFY && !p->watchdog_ms) return 0;
  int rc = tv_notify_open(&p->notify, p->reaper->loop, p->sched, on_notify_ready, p);
  if (rc == 0) p->notify->on_alive = on_alive;
  if (rc == 0 && !(*envp = tv_notify_env(p->envp, p->notify->addr, (uint64_t)p->watchdog_ms * 1000)))
    rc = -ENOMEM;
  if (rc != 0) readiness_stop(p, 1);
  return rc;
}

/* The attempt's child runs: watch for its readiness. */
static void readiness_start(tv_process_t *p) {
  if (p->notify && tv_notify_start(p->notify, p->run->pid) != 0)
    readiness_stop(p, 1); /* cannot happen on a fresh socket; the timeout still applies */
  p->check.spawn.creds = p->creds; /* (the check runs as the process does) */
  if (p->ready_mode == TV_READY_CHECK)
    tv_readycheck_start(&p->check, p->check_argv, p->envp, p->cwd, p->check_every_ms,
                        p->check_timeout_ms);
  if (p->ready_mode != TV_READY_STARTED && p->ready_timeout_ms)
    tv_timer_start(p->sched, &p->ready_timer, p->ready_timeout_ms);
}

/* ---- memory limit ---------------------------------------------------------- */

static void on_memory_timer(tv_timer_t *t) {
  tv_process_t *p = tv_container_of(t, tv_process_t, memory_timer);
  if (!p->run || !p->run->child || p->stopping || p->not_ready || p->over_memory) return;
  int64_t bytes = tv_memtree_bytes(p->run->child->cg, p->run->pid);
  if (bytes > (int64_t)p->max_memory) {
    p->over_memory = 1;
    p->memory_seen = (uint64_t)bytes;
    readiness_stop(p, 0);
    tv_proc_stop(p->run); /* stop_signal, SIGKILL after stop_timeout */
    return;
  }
  tv_timer_start(p->sched, &p->memory_timer, p->memory_every_ms);
}

static void memory_msg(const tv_process_t *p, char *buf, size_t size) {
  char seen[32], max[32];
  snprintf(buf, size, "memory limit exceeded: %s > %s", tv_fmt_bytes(p->memory_seen, seen, sizeof seen),
           tv_fmt_bytes(p->max_memory, max, sizeof max));
}

/* ---- attempts -------------------------------------------------------------- */

static void on_done(tv_proc_t *run) {
  tv_process_t *p = run->data;
  int st = run->status;
  p->killed = run->killed;
  if (p->notify) tv_notify_drain(p->notify); /* (may call on_ready: p->run is still set) */
  p->run = NULL;
  tv_proc_release(run);
  readiness_stop(p, 1);
  tv_timer_stop(p->sched, &p->memory_timer);
  char msg[320];
  tv_outcome_t o = {TV_OUTCOME_CANCELED, 0, 0, NULL, 0, NULL, 0};
  if (p->stopping) {
    /* stopped on request: whatever it exited with, a cancellation */
  } else if (p->not_ready) { /* stopped by us: whatever it exited with, this failure */
    o.kind = TV_OUTCOME_FAIL;
    not_ready_msg(p, msg, sizeof msg);
  } else if (p->over_memory) { /* stopped by us: whatever it exited with, this failure */
    o.kind = TV_OUTCOME_FAIL;
    memory_msg(p, msg, sizeof msg);
  } else if (WIFEXITED(st)) {
    int32_t code = WEXITSTATUS(st);
    if (p->codes ? has_code(p->codes, p->nsuccess, code) : code == 0) {
      o.kind = TV_OUTCOME_OK;
    } else {
      o.kind = has_code(p->codes + p->nsuccess, p->nfatal, code) ? TV_OUTCOME_FATAL
                                                                  : TV_OUTCOME_FAIL;
      o.has_exit_code = 1;
      o.exit_code = code;
      snprintf(msg, sizeof msg, "exited with code %d", (int)code);
    }
  } else {
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : SIGKILL;
    o.kind = TV_OUTCOME_FAIL;
    o.term_signal = sig;
    snprintf(msg, sizeof msg, "killed by signal %s", tv_signal_name(sig));
  }
  if (o.kind == TV_OUTCOME_FAIL || o.kind == TV_OUTCOME_FATAL) {
    o.msg = msg;
    o.msg_len = strlen(msg);
  }
  tv_task_done(&p->base, &o);
}

/* A spawn that failed is reported by start(), after TaskStarting. */
static void fail_now(tv_task_t *t, const char *msg) {
  tv_process_t *p = (tv_process_t *)t;
  snprintf(p->start_error, sizeof p->start_error, "%s", msg);
}

/* Spawns before TaskStarting is published, so the event can carry the pid. */
static int32_t process_spawn(tv_task_t *t, uint32_t attempt) {
  tv_process_t *p = (tv_process_t *)t;
  p->stopping = p->not_ready = p->over_memory = 0;
  p->spawned = 1;
  p->start_error[0] = '\0';
  char **envp, msg[512];
  int rc = readiness_open(p, &envp);
  if (rc != 0) {
    snprintf(msg, sizeof msg, "%s: cannot open the readiness socket (ready = \"notify\"): %s",
             uv_err_name(rc), uv_strerror(rc));
    fail_now(t, msg);
    return 0;
  }
  tv_proc_cfg_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.spawn.argv = p->argv;
  cfg.spawn.envp = envp;
  cfg.spawn.cwd = p->cwd;
  cfg.spawn.creds = p->creds;
  cfg.stdin_mode = p->stdin_mode;
  memcpy(cfg.out, p->out, sizeof cfg.out);
  cfg.stop_signal = p->stop_signal;
  cfg.stop_timeout_ms = p->stop_timeout_ms;
  cfg.reaper = p->reaper;
  cfg.sched = p->sched;
  cfg.bus = tv_actor_env(&t->actor)->bus;
  cfg.task = t->actor.name;
  cfg.attempt = attempt;
  cfg.on_done = on_done;
  cfg.data = p;
  int stage;
  rc = tv_proc_start(&p->run, &cfg, &stage);
  if (envp != p->envp) free(envp);
  if (rc != 0) { /* nothing was left running: a plain failure, now */
    p->run = NULL;
    readiness_stop(p, 1);
    tv_spawn_strerror(rc, stage, &cfg.spawn, msg, sizeof msg);
    fail_now(t, msg);
    return 0;
  }
  readiness_start(p);
  if (p->max_memory) tv_timer_start(p->sched, &p->memory_timer, p->memory_every_ms);
  return (int32_t)p->run->pid;
}

static int process_killed(const tv_task_t *t) { return ((const tv_process_t *)t)->killed; }

static void process_start(tv_task_t *t, uint32_t attempt) {
  tv_process_t *p = (tv_process_t *)t;
  p->killed = 0;
  if (!p->spawned) process_spawn(t, attempt); /* an embedding that calls start() alone */
  p->spawned = 0;
  if (p->start_error[0]) {
    tv_outcome_t o = {TV_OUTCOME_FAIL, 0, 0, p->start_error, strlen(p->start_error), NULL, 0};
    tv_task_done(t, &o);
  }
}

static void process_cancel(tv_task_t *t) {
  tv_process_t *p = (tv_process_t *)t;
  p->stopping = 1;
  readiness_stop(p, 0);
  tv_timer_stop(p->sched, &p->memory_timer);
  if (p->run) tv_proc_stop(p->run);
}

static void process_kill(tv_task_t *t) {
  tv_process_t *p = (tv_process_t *)t;
  if (!p->run) return;
  readiness_stop(p, 0);
  tv_timer_stop(p->sched, &p->memory_timer);
  if (t->actor.killing == TV_KILL_TIMEOUT) { /* the attempt's timeout: stop it properly */
    tv_proc_stop(p->run);
  } else {
    p->stopping = 1;
    tv_proc_kill(p->run);
  }
}

static void process_release(tv_task_t *t) {
  tv_process_t *p = (tv_process_t *)t;
  if (p->run) {
    tv_proc_release(p->run);
    p->run = NULL;
  }
  readiness_stop(p, 1);
  tv_timer_stop(p->sched, &p->memory_timer);
  /* A task runs under one supervisor once: its log files are done with now,
   * not whenever the garbage collector gets to its object. */
  for (int i = 0; i < 2; i++) tv_outfile_close(&p->files[i]);
  if (p->on_release) p->on_release(p);
}

static int32_t process_pid(const tv_task_t *t) {
  const tv_process_t *p = (const tv_process_t *)t;
  return p->run && !p->run->exited ? (int32_t)p->run->pid : 0;
}

static const tv_task_ops_t process_ops = {
    .pid = process_pid,
    .kind = "process",
    .start = process_start,
    .spawn = process_spawn,
    .killed = process_killed,
    .cancel = process_cancel,
    .kill = process_kill,
    .release = process_release,
};

int tv_process_is(const tv_task_t *t) { return t->ops->start == process_start; }

void tv_process_ops_copy(tv_task_ops_t *out) { *out = process_ops; }

int tv_process_signal(tv_task_t *t, int sig) {
  if (!tv_process_is(t)) return TV_ENOTSUP;
  tv_process_t *p = (tv_process_t *)t;
  return p->run ? tv_proc_signal(p->run, sig) : TV_ESRCH;
}

void tv_process_init(tv_process_t *p, tv_reaper_t *r, tv_sched_t *s,
                     void (*on_release)(tv_process_t *)) {
  memset(p, 0, sizeof *p);
  tv_task_init(&p->base, &process_ops);
  p->stdin_mode = TV_IO_NULL;
  p->out[0].mode = p->out[1].mode = TV_IO_INHERIT;
  p->files[0].fd = p->files[1].fd = -1;
  p->stop_signal = SIGTERM;
  p->stop_timeout_ms = 10000;
  p->reaper = r;
  p->sched = s;
  p->on_release = on_release;
  p->check_every_ms = 1000;
  p->check_timeout_ms = 5000;
  p->ready_timeout_ms = 90000;
  tv_readycheck_init(&p->check, r, s, on_ready, p);
  tv_timer_init(&p->ready_timer, on_ready_timeout);
  tv_timer_init(&p->memory_timer, on_memory_timer);
  p->memory_every_ms = 1000;
  tv_list_push(&all_processes, &p->all);
}

void tv_process_fini(tv_process_t *p) {
  free(p->argv);
  free(p->envp);
  free(p->cwd);
  free(p->creds);
  free(p->codes);
  free(p->check_argv);
  for (int i = 0; i < 2; i++) tv_outfile_close(&p->files[i]);
  p->argv = p->envp = NULL;
  p->cwd = NULL;
  p->creds = NULL;
  p->codes = NULL;
  p->check_argv = NULL;
  tv_list_unlink(&p->all);
  tv_task_fini(&p->base);
}

char **tv_strv_new(const char *const *src, size_t n) {
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++) bytes += strlen(src[i]) + 1;
  char **v = malloc((n + 1) * sizeof *v + bytes);
  if (!v) return NULL;
  char *s = (char *)(v + n + 1);
  for (size_t i = 0; i < n; i++) {
    v[i] = strcpy(s, src[i]);
    s += strlen(s) + 1;
  }
  v[n] = NULL;
  return v;
}
