/* task.h - what the core supervises: a small vtable plus the core's per-task
 * state (the actor), embedded so a task costs one allocation.
 * One attempt at a time: the actor calls start(), the task later reports the
 * attempt's outcome with tv_task_done() exactly once (possibly from inside
 * start()). Lua coroutines (binding) and OS processes are two implementations.
 * Owner: the implementation owns the memory. Between a successful tv_sup_add
 * and the release() callback the core owns the `actor` part; after release()
 * the implementation calls tv_task_fini() before freeing the memory. */
#ifndef TV_TASK_H
#define TV_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "actor.h"
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
  int term_signal;     /* FAIL/FATAL of a process killed by a signal, else 0 */
} tv_outcome_t;

typedef struct tv_task tv_task_t;

typedef struct tv_task_ops {
  /* Begin attempt number `attempt` (1-based). */
  void (*start)(tv_task_t *t, uint32_t attempt);
  /* Ask the running attempt to stop. Must not report done synchronously. */
  void (*cancel)(tv_task_t *t);
  /* Stop the running attempt now (timeout, grace exceeded). Must still
   * report done, synchronously or later; the outcome is then ignored. */
  void (*kill)(tv_task_t *t);
  /* The core is done with the task (its actor is finished and unlinked). */
  void (*release)(tv_task_t *t);
} tv_task_ops_t;

struct tv_task {
  const tv_task_ops_t *ops;
  tv_actor_t actor; /* the core's; read-only for implementations */
};

static inline void tv_task_init(tv_task_t *t, const tv_task_ops_t *ops) {
  t->ops = ops;
  t->actor.name = NULL;
  t->actor.policy = NULL; /* non-NULL exactly while a supervisor holds the task */
  t->actor.state = TV_ACTOR_DONE;
}
/* Reports the outcome of the running attempt. */
void tv_task_done(tv_task_t *t, const tv_outcome_t *o);
/* Drops what the core left in the task (its name). Call once, after
 * release() or when tv_sup_add failed, before freeing the memory. */
void tv_task_fini(tv_task_t *t);

#endif
