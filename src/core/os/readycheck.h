/* readycheck.h - readiness by a polled check command (s6-notifyoncheck's
 * idea): while a process attempt runs, its check runs on the next loop pass,
 * then `every` ms after each check started, one at a time, until one exits
 * 0: then on_ready, once, and no more checks. A check is a child of its own
 * (own process group, stdio on /dev/null, the process's environment and
 * cwd, reaped by the reaper); one still running after its own timeout
 * (not `every`: a slow check may still be a healthy one) is SIGKILLed with
 * its group and counts as failed.
 * Owner: embedded in the process task; its spawn strings are the task's
 * configuration (borrowed). tv_readycheck_stop must run before the memory
 * goes: it SIGKILLs a running check, which the reaper still reaps. */
#ifndef TV_READYCHECK_H
#define TV_READYCHECK_H

#include <stdint.h>

#include "core/os/proc.h"
#include "core/os/reaper.h"
#include "core/loop/sched.h"
#include "core/os/spawn.h"

typedef struct tv_readycheck {
  tv_spawn_t spawn;     /* argv, envp, cwd (borrowed; fds unused) */
  uint64_t every_ms;
  uint64_t timeout_ms;  /* a check running longer is killed */
  tv_reaper_t *reaper;
  tv_sched_t *sched;
  tv_proc_t *run;       /* the check running now, else NULL */
  tv_timer_t timer;     /* the next check */
  uint64_t started;     /* clock ms the last check started */
  uint32_t count;       /* checks started in this attempt */
  char last[160];       /* how the last finished check went, "" before one */
  void (*on_ready)(void *data);
  void *data;
} tv_readycheck_t;

/* Binds the reaper, scheduler and callback; nothing runs. */
void tv_readycheck_init(tv_readycheck_t *c, tv_reaper_t *r, tv_sched_t *s,
                        void (*on_ready)(void *data), void *data);
/* Starts polling for a new attempt: argv (envp, cwd may be NULL; all
 * borrowed until stopped) every `every_ms`, the first on the next loop pass,
 * each killed after timeout_ms. */
void tv_readycheck_start(tv_readycheck_t *c, char *const *argv, char *const *envp,
                         const char *cwd, uint64_t every_ms, uint64_t timeout_ms);
/* No more checks: a running one is SIGKILLed. Idempotent. */
void tv_readycheck_stop(tv_readycheck_t *c);
/* "4 checks, the last exited with code 1" or "no check finished", into buf. */
char *tv_readycheck_describe(const tv_readycheck_t *c, char *buf, size_t size);

#endif
