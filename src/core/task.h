/* task.h - what the core supervises: a small vtable.
 * One attempt at a time: the actor calls start(), the task later reports the
 * attempt's outcome with tv_task_done() exactly once (possibly from inside
 * start()). Lua coroutines (binding) and OS processes are two implementations.
 * Owner: the task's creator until tv_sup_add succeeds; from then on the actor,
 * which calls release() once it no longer needs it. */
#ifndef TV_TASK_H
#define TV_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "str.h"

typedef enum tv_outcome_kind {
  TV_OUTCOME_OK,       /* returned normally */
  TV_OUTCOME_FAIL,     /* retryable failure */
  TV_OUTCOME_FATAL,    /* failure that must not be retried */
  TV_OUTCOME_CANCELED  /* stopped: on request, or by itself */
} tv_outcome_kind_t;

typedef struct tv_outcome {
  tv_outcome_kind_t kind;
  int has_exit_code;
  int32_t exit_code;
  const char *msg; /* FAIL/FATAL: the failure's message (borrowed) */
  size_t msg_len;
  tv_str_t *traceback; /* optional (borrowed) */
} tv_outcome_t;

typedef struct tv_task tv_task_t;
struct tv_actor;

typedef struct tv_task_ops {
  /* Begin attempt number `attempt` (1-based). */
  void (*start)(tv_task_t *t, uint32_t attempt);
  /* Ask the running attempt to stop. Must not report done synchronously. */
  void (*cancel)(tv_task_t *t);
  /* Stop the running attempt now (timeout, grace exceeded). Must still
   * report done, synchronously or later; the outcome is then ignored. */
  void (*kill)(tv_task_t *t);
  /* The core is done with the task: free it. */
  void (*release)(tv_task_t *t);
} tv_task_ops_t;

struct tv_task {
  const tv_task_ops_t *ops;
  struct tv_actor *actor; /* set by the core while the task is attached */
};

/* Reports the outcome of the running attempt. */
void tv_task_done(tv_task_t *t, const tv_outcome_t *o);

#endif
