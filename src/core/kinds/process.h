/* process.h - process tasks: the tv_task_t implementation for an OS process.
 * One attempt = one run of the command (proc.h). Exit codes map to outcomes
 * (success_codes -> OK, fatal_codes -> FATAL, other codes and signals ->
 * FAIL); an attempt the supervisor stopped is a cancellation. cancel() sends
 * stop_signal to the group and SIGKILL after stop_timeout; kill() (grace
 * exceeded) SIGKILLs at once, or stops gracefully on an attempt timeout; both
 * report done when the exit is seen.
 * Readiness (ready_mode): "started" (the actor's default), an sd_notify
 * socket (notify.h) or a polled check (readycheck.h) call tv_task_ready;
 * an attempt not ready within ready_timeout_ms is stopped gracefully and
 * fails ("not ready within 5s (ready = \"notify\")").
 * A memory limit (max_memory) samples the attempt's tree every
 * memory_every_ms; past it, the attempt is stopped gracefully and fails
 * ("memory limit exceeded: 212 MiB > 200 MiB").
 * Owner: the embedding allocates it (the binding's userdata starts with it),
 * fills the configuration (each field's owner is the task: freed by
 * tv_process_fini) and hands it to tv_sup_add; release() calls on_release. */
#ifndef TV_PROCESS_H
#define TV_PROCESS_H

#include <stdint.h>

#include "core/os/creds.h"
#include "core/os/notify.h"
#include "core/os/outfile.h"
#include "core/os/proc.h"
#include "core/os/readycheck.h"
#include "core/os/reaper.h"
#include "core/supervision/task.h"

enum { TV_READY_STARTED, TV_READY_NOTIFY, TV_READY_CHECK };

typedef struct tv_process tv_process_t;
struct tv_process {
  tv_task_t base;        /* first: the embedding's object starts here */
  char **argv;           /* one block (tv_strv_new) */
  char **envp;           /* one block (tv_env_build), or NULL: the host's at each spawn */
  char *cwd;             /* malloc'd, or NULL */
  tv_creds_t *creds;     /* malloc'd, or NULL: the host's limits and identity */
  uint8_t stdin_mode;    /* TV_IO_NULL or TV_IO_INHERIT */
  tv_proc_out_t out[2];  /* stdout, stderr; out[i].file is &files[i] or NULL */
  tv_outfile_t files[2]; /* fd -1 / path NULL when unused */
  int stop_signal;
  uint64_t stop_timeout_ms;
  int32_t *codes;        /* malloc'd: nsuccess success codes, then nfatal fatal ones */
  uint32_t nsuccess, nfatal;
  uint8_t ready_mode;    /* TV_READY_*; not STARTED: the task is added with explicit_ready */
  uint32_t watchdog_ms;  /* the spec's watchdog: the child gets NOTIFY_SOCKET and WATCHDOG_USEC */
  uint64_t ready_timeout_ms; /* not ready within this: the attempt fails; 0: no limit */
  char **check_argv;     /* TV_READY_CHECK: one block (tv_strv_new) */
  uint64_t check_every_ms;
  uint64_t check_timeout_ms; /* a check running longer is killed and failed */
  tv_reaper_t *reaper;
  tv_sched_t *sched;
  tv_proc_t *run;        /* the running attempt's child, else NULL */
  uint8_t stopping;      /* this attempt was asked to stop by the supervisor */
  uint8_t not_ready;     /* this attempt is being stopped: not ready in time */
  uint8_t spawned;       /* spawn() ran for the attempt start() begins */
  uint8_t killed;        /* the attempt that ended needed SIGKILL */
  char start_error[512]; /* why spawn() failed, reported by start(); "" if it did not */
  tv_notify_t *notify;   /* this attempt's sd_notify socket, else NULL */
  tv_readycheck_t check; /* this attempt's readiness check */
  tv_timer_t ready_timer; /* ready_timeout_ms */
  uint64_t max_memory;   /* bytes the tree may keep resident; 0: no limit (memtree.h) */
  uint64_t memory_every_ms; /* how often it is sampled */
  uint64_t memory_seen;  /* the sample over the limit, for the message */
  uint8_t over_memory;   /* this attempt is being stopped: over max_memory */
  tv_timer_t memory_timer;
  void (*on_release)(tv_process_t *p);
  tv_link_t all;         /* in the list tv_process_reopen_logs walks (init to fini) */
};

/* Defaults: stdin /dev/null, output inherited, SIGTERM, 10 s, success {0}. */
void tv_process_init(tv_process_t *p, tv_reaper_t *r, tv_sched_t *s,
                     void (*on_release)(tv_process_t *));
/* Frees the configuration and what the core left (tv_task_fini). Only while
 * no supervisor holds the task. */
void tv_process_fini(tv_process_t *p);
int tv_process_is(const tv_task_t *t);
/* The process task's ops, for an embedding that adds its own optional ones
 * (decide, hook) and sets base.ops to its copy after tv_process_init. */
void tv_process_ops_copy(tv_task_ops_t *out);
/* Whether the task says itself when an attempt is ready (tv_task_ready). */
static inline int tv_process_explicit_ready(const tv_process_t *p) {
  return p->ready_mode != TV_READY_STARTED;
}
/* Forwards sig to the running attempt's group: 0, TV_ENOTSUP (not a process
 * task) or TV_ESRCH (no process running: between attempts). */
int tv_process_signal(tv_task_t *t, int sig);
/* Closes every process task's log files; each is reopened by path at its
 * next write, so a file moved away (logrotate) is created afresh (SIGHUP,
 * SIGUSR1). Returns how many were open. */
unsigned tv_process_reopen_logs(void);
/* How many times tv_process_reopen_logs ran (other writers follow it). */
unsigned tv_process_reopen_generation(void);
/* " pid=123 containment=cgroup" for the running attempt, "" between
 * attempts, into buf (a status line's tail). */
char *tv_process_describe(const tv_task_t *t, char *buf, size_t size);
/* A NULL-terminated copy of n strings in one malloc block; NULL if out of memory. */
char **tv_strv_new(const char *const *src, size_t n);

#endif
