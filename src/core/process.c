/* process.c - process tasks (see process.h). */
#include "process.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "error.h"
#include "signals.h"

static int has_code(const int32_t *codes, uint32_t n, int32_t code) {
  for (uint32_t i = 0; i < n; i++)
    if (codes[i] == code) return 1;
  return 0;
}

static void on_done(tv_proc_t *run) {
  tv_process_t *p = run->data;
  int st = run->status;
  p->run = NULL;
  tv_proc_release(run);
  char msg[64];
  tv_outcome_t o = {TV_OUTCOME_CANCELED, 0, 0, NULL, 0, NULL, 0};
  if (p->stopping) {
    /* stopped on request: whatever it exited with, a cancellation */
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

static void process_start(tv_task_t *t, uint32_t attempt) {
  tv_process_t *p = (tv_process_t *)t;
  p->stopping = 0;
  tv_proc_cfg_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.spawn.argv = p->argv;
  cfg.spawn.envp = p->envp;
  cfg.spawn.cwd = p->cwd;
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
  int rc = tv_proc_start(&p->run, &cfg, &stage);
  if (rc != 0) { /* nothing was left running: a plain failure, now */
    char msg[512];
    p->run = NULL;
    tv_spawn_strerror(rc, stage, &cfg.spawn, msg, sizeof msg);
    tv_outcome_t o = {TV_OUTCOME_FAIL, 0, 0, msg, strlen(msg), NULL, 0};
    tv_task_done(t, &o);
  }
}

static void process_cancel(tv_task_t *t) {
  tv_process_t *p = (tv_process_t *)t;
  p->stopping = 1;
  if (p->run) tv_proc_stop(p->run);
}

static void process_kill(tv_task_t *t) {
  tv_process_t *p = (tv_process_t *)t;
  if (!p->run) return;
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
  /* A task runs under one supervisor once: its log files are done with now,
   * not whenever the garbage collector gets to its object. */
  for (int i = 0; i < 2; i++) tv_outfile_close(&p->files[i]);
  if (p->on_release) p->on_release(p);
}

static const tv_task_ops_t process_ops = {process_start, process_cancel, process_kill,
                                          process_release, NULL, NULL, NULL};

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
}

void tv_process_fini(tv_process_t *p) {
  free(p->argv);
  free(p->envp);
  free(p->cwd);
  free(p->codes);
  for (int i = 0; i < 2; i++) tv_outfile_close(&p->files[i]);
  p->argv = p->envp = NULL;
  p->cwd = NULL;
  p->codes = NULL;
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
