/* controller.h - slot-based admission in front of a supervisor (reference
 * semantics A16, with the defects of 0.1.3 fixed).
 *
 * A slot is a name; at most one task admitted through it is registered at a
 * time. Slot states: IDLE (no task; an idle slot with an empty queue is not
 * kept) -> RUNNING -> TERMINATING (a replace asked it to stop) -> IDLE.
 * Submissions are decided by the caller (the Lua layer may run a user
 * function to decide) and applied here: start, queue (bounded FIFO), replace
 * (stop the running task, run the newest; a displaced queue head is
 * rejected as "superseded"), or reject.
 *
 * The controller learns that a task is gone straight from its supervisor
 * (tv_sup.on_removed), never from the bus, so no subscriber can leave a slot
 * stuck. Queued work never starts once shutdown has begun: it is rejected
 * ("shutdown") when ShutdownRequested is published.
 *
 * Owner: the embedding (tv_ctl_new / tv_ctl_destroy, before destroying the
 * supervisor). A queued request owns its task until it starts (then the
 * supervisor owns it) or is dropped (then the task's release() is called). */
#ifndef TV_CONTROLLER_H
#define TV_CONTROLLER_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/namemap.h"
#include "core/supervision/policy.h"
#include "core/supervision/supervisor.h"
#include "core/supervision/task.h"

typedef enum tv_slot_status {
  TV_SLOT_IDLE,
  TV_SLOT_RUNNING,
  TV_SLOT_TERMINATING
} tv_slot_status_t;

/* What to do with a submission (the admission policy, or a function's answer). */
typedef enum tv_admit {
  TV_ADMIT_QUEUE,           /* start if idle, else wait in the slot's queue */
  TV_ADMIT_REPLACE,         /* start if idle, else stop the running one first */
  TV_ADMIT_DROP_IF_RUNNING, /* start if idle, else reject (slot_busy) */
  TV_ADMIT_START,           /* a function's "start": as drop_if_running */
  TV_ADMIT_REJECT           /* a function's "reject" */
} tv_admit_t;

typedef struct tv_ctl_req tv_ctl_req_t;
struct tv_ctl_req {
  tv_ctl_req_t *next;
  tv_task_t *task;
  tv_str_t *name;
  tv_policy_t policy;
};

typedef struct tv_slot tv_slot_t;
struct tv_slot {
  tv_str_t *name;
  tv_slot_t *hnext;     /* by slot name */
  tv_str_t *running;    /* the admitted task's name, or NULL when idle */
  tv_slot_t *rnext;     /* by running task name */
  tv_actor_t *actor;    /* the admitted task, while registered */
  uint64_t started;     /* clock ms it started */
  tv_ctl_req_t *head, *tail;
  uint32_t depth;
  uint8_t status;
};

typedef struct tv_ctl {
  tv_sup_t *sup;
  tv_namemap_t slots;   /* every slot that is not idle, or has a queue */
  tv_namemap_t running; /* slots by their running task's name */
  uint32_t max_slot_queue;
} tv_ctl_t;

/* A submission: who and what. `label` names the admission in reasons
 * ("queue", "function(replace)"); `why` (may be NULL) is a function's reason
 * for TV_ADMIT_REJECT. */
typedef struct tv_ctl_submission {
  const char *slot;
  size_t slot_len;
  const char *name;
  size_t name_len;
  tv_task_t *task;
  const tv_policy_t *policy;
  tv_admit_t admit;
  const char *label;
  const char *why;
} tv_ctl_submission_t;

/* Attaches a controller to `sup` (its on_removed / on_stopping hooks). */
int tv_ctl_new(tv_ctl_t **out, tv_sup_t *sup, uint32_t max_slot_queue);
/* Releases every queued task and frees the slots; detaches from the supervisor. */
void tv_ctl_destroy(tv_ctl_t *c);

/* Applies a submission. 0: admitted (started, or queued: the controller now
 * owns the task). Otherwise the caller keeps the task, ControllerRejected was
 * published, and *reason (if not NULL) is a new reference to the rejection's
 * reason: TV_ESHUTDOWN, TV_EFULL (queue_full), TV_EBUSY (slot_busy),
 * TV_EREJECTED (a function said no), TV_EEXIST (the task name is taken),
 * TV_ENOMEM. */
int tv_ctl_submit(tv_ctl_t *c, const tv_ctl_submission_t *sub, tv_str_t **reason);

/* Removes queued (not yet started) work named `name` from every slot, with
 * ControllerRejected ("removed_from_queue: ..."). How many were removed. */
uint32_t tv_ctl_unqueue(tv_ctl_t *c, const char *name, size_t len, const char *why);

/* The slot of that name, or NULL when it is idle with an empty queue. */
tv_slot_t *tv_ctl_slot(const tv_ctl_t *c, const char *name, size_t len);
/* Every kept slot, sorted by name (malloc'd; the caller frees it). */
tv_slot_t **tv_ctl_slots(const tv_ctl_t *c, uint32_t *n);

const char *tv_slot_status_name(int status);
const char *tv_admit_name(int admit);
/* The admission for "queue" / "replace" / "drop_if_running" / "start" /
 * "reject", or -1. */
int tv_admit_parse(const char *name);

#endif
