/* readycheck.c - a process attempt's polled readiness check (see readycheck.h). */
#include "core/os/readycheck.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "core/loop/signals.h"
#include "core/base/str.h"

static void on_check_done(tv_proc_t *run) {
  tv_readycheck_t *c = run->data;
  int st = run->status;
  /* Only our SIGKILL is an overrun: a check that exited before it (its exit
   * seen after the timer, on a busy loop) went the way it went. */
  int timed_out = run->timed_out && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
  c->run = NULL;
  tv_proc_release(run);
  if (timed_out) {
    char d[32];
    snprintf(c->last, sizeof c->last, "ran over %s and was killed",
             tv_fmt_duration(c->timeout_ms * TV_NS_PER_MS, d, sizeof d));
  } else if (WIFEXITED(st)) {
    if (WEXITSTATUS(st) == 0) {
      snprintf(c->last, sizeof c->last, "exited with code 0");
      c->on_ready(c->data); /* may stop c */
      return;
    }
    snprintf(c->last, sizeof c->last, "exited with code %d", WEXITSTATUS(st));
  } else {
    snprintf(c->last, sizeof c->last, "was killed by signal %s",
             tv_signal_name(WIFSIGNALED(st) ? WTERMSIG(st) : SIGKILL));
  }
  /* every `every` from the last start; at once when that check overran */
  tv_timer_start_at(c->sched, &c->timer, c->started + c->every_ms);
}

static void on_tick(tv_timer_t *t) {
  tv_readycheck_t *c = tv_container_of(t, tv_readycheck_t, timer);
  if (c->run) return;
  tv_proc_cfg_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.spawn = c->spawn;
  cfg.stdin_mode = TV_IO_NULL;
  cfg.out[0].mode = cfg.out[1].mode = TV_IO_NULL;
  cfg.timeout_ms = c->timeout_ms;
  cfg.stop_signal = SIGKILL; /* a probe: no graceful stop */
  cfg.stop_timeout_ms = c->timeout_ms;
  cfg.reaper = c->reaper;
  cfg.sched = c->sched;
  cfg.on_done = on_check_done;
  cfg.data = c;
  c->started = tv_sched_now(c->sched);
  c->count++;
  int stage, rc = tv_proc_start(&c->run, &cfg, &stage);
  if (rc != 0) { /* counts as a failed check; the program may appear later */
    char msg[sizeof c->last - sizeof "could not start: " + 1];
    c->run = NULL;
    tv_spawn_strerror(rc, stage, &cfg.spawn, msg, sizeof msg);
    snprintf(c->last, sizeof c->last, "could not start: %s", msg);
    tv_timer_start_at(c->sched, &c->timer, c->started + c->every_ms);
  }
}

void tv_readycheck_init(tv_readycheck_t *c, tv_reaper_t *r, tv_sched_t *s,
                        void (*on_ready)(void *data), void *data) {
  memset(c, 0, sizeof *c);
  c->reaper = r;
  c->sched = s;
  c->on_ready = on_ready;
  c->data = data;
  tv_timer_init(&c->timer, on_tick);
}

void tv_readycheck_start(tv_readycheck_t *c, char *const *argv, char *const *envp,
                         const char *cwd, uint64_t every_ms, uint64_t timeout_ms) {
  tv_readycheck_stop(c);
  c->spawn.argv = argv;
  c->spawn.envp = envp;
  c->spawn.cwd = cwd;
  c->every_ms = every_ms ? every_ms : 1;
  c->timeout_ms = timeout_ms ? timeout_ms : 1;
  c->count = 0;
  c->last[0] = '\0';
  tv_timer_start(c->sched, &c->timer, 0);
}

void tv_readycheck_stop(tv_readycheck_t *c) {
  tv_timer_stop(c->sched, &c->timer);
  if (c->run) {
    tv_proc_release(c->run); /* SIGKILLs its group; the reaper reaps it */
    c->run = NULL;
  }
}

char *tv_readycheck_describe(const tv_readycheck_t *c, char *buf, size_t size) {
  if (!c->last[0])
    snprintf(buf, size, "no check finished");
  else
    snprintf(buf, size, "%u check%s, the last %s", c->count, c->count == 1 ? "" : "s", c->last);
  return buf;
}
