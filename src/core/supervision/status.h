/* status.h - a task's state as an operator reads it, in supervisord's words:
 * STARTING (its attempt runs, not ready yet), RUNNING (ready), BACKOFF
 * (waiting to restart), STOPPING, STOPPED (stopped by an operator, removed,
 * or shut down), EXITED (completed, not restarted) and FATAL (its policy or
 * budget gave up), each with the time it entered it. The actor keeps the
 * state and its time as it publishes events (tv_actor_note, ext.c); the
 * views here add what is derived (pid, uptime, next retry) and answer for
 * tasks that have ended from the outcome record. */
#ifndef TV_STATUS_H
#define TV_STATUS_H

#include <stdint.h>

#include "core/base/str.h"

typedef enum tv_status_state {
  TV_ST_STARTING,
  TV_ST_RUNNING,
  TV_ST_BACKOFF,
  TV_ST_STOPPING,
  TV_ST_STOPPED,
  TV_ST_EXITED,
  TV_ST_FATAL,
  TV_ST__COUNT
} tv_status_state_t;

/* "STARTING", ... ("?" out of range). */
const char *tv_status_name(int state);
static inline int tv_status_final(int state) {
  return state == TV_ST_STOPPED || state == TV_ST_EXITED || state == TV_ST_FATAL;
}

/* Why an attempt failed, for counters: a process's exit code, a signal, a
 * timeout (or missed watchdog), or anything else (a Lua error, a spawn
 * failure). */
enum { TV_CAUSE_EXIT_CODE, TV_CAUSE_SIGNAL, TV_CAUSE_TIMEOUT, TV_CAUSE_ERROR, TV_CAUSE__COUNT };
const char *tv_cause_name(int cause);

typedef struct tv_actor tv_actor_t;
typedef struct tv_sup tv_sup_t;

/* One task's status. Times are clock milliseconds (0: none). Strings are
 * borrowed: valid until the loop runs again. */
typedef struct tv_status {
  const tv_str_t *name;
  const char *kind;          /* "task", "process", "group", ... */
  const tv_str_t *group;     /* the group it belongs to, or NULL */
  uint8_t state;             /* tv_status_state_t */
  uint8_t registered;        /* 0: it has ended (from the outcome record) */
  uint8_t ready, operator_stopped;
  uint8_t has_last, last_has_code, last_signal, last_failed;
  uint32_t attempt, restarts;
  int32_t pid;               /* the running attempt's process, or 0 */
  int32_t last_code;
  uint64_t since;            /* entered `state` */
  uint64_t started;          /* the running attempt started (0: none runs) */
  uint64_t next_retry;       /* BACKOFF: the next attempt's time */
  uint64_t last_at;          /* the last attempt ended (0: unknown) */
  const tv_str_t *last_reason;
  uint32_t failures[TV_CAUSE__COUNT]; /* failed attempts by cause (registered tasks) */
} tv_status_t;

/* The status of a registered task. */
void tv_status_of_actor(const tv_sup_t *s, const tv_actor_t *a, tv_status_t *out);
/* The status of `name`: 1 registered, 2 ended (its outcome is recorded),
 * 0 unknown. */
int tv_sup_status(const tv_sup_t *s, const char *name, size_t len, tv_status_t *out);
/* Calls fn for every registered task (in no particular order) while it
 * returns 0; returns what fn returned last. fn must not add or remove tasks. */
int tv_sup_each_status(const tv_sup_t *s, int (*fn)(void *arg, const tv_status_t *st),
                       void *arg);

#endif
