/* actor.h - one task's retry loop (reference semantics A6/A7).
 *
 * States: QUEUED (next step deferred to the loop) -> WAITING (for a
 * max_concurrent permit) -> RUNNING (an attempt) -> BACKOFF (sleeping before
 * the next attempt) -> ... -> DONE. Every lifecycle event of the task is
 * published from here. The actor lives inside its task (task.h); it never
 * frees anything: when it ends it calls env->on_finish and its supervisor
 * unlinks it and releases the task.
 * Owner: the supervisor's registry, from tv_sup_add until release. */
#ifndef TV_ACTOR_H
#define TV_ACTOR_H

#include <stdint.h>

#include "bus.h"
#include "policy.h"
#include "rng.h"
#include "sched.h"
#include "sem.h"
#include "str.h"

typedef struct tv_actor tv_actor_t;

/* What an actor needs from its owner; shared by all actors of a supervisor. */
typedef struct tv_actor_env {
  tv_sched_t *sched;
  tv_bus_t *bus;
  tv_sem_t *sem;
  tv_rng_t *rng;
  void (*on_finish)(tv_actor_t *a); /* the actor reached DONE */
  void *data;
} tv_actor_env_t;

typedef enum tv_actor_state {
  TV_ACTOR_QUEUED,
  TV_ACTOR_WAITING,
  TV_ACTOR_RUNNING,
  TV_ACTOR_BACKOFF,
  TV_ACTOR_DONE
} tv_actor_state_t;

/* How an actor ended. */
typedef enum tv_actor_end {
  TV_END_NONE,
  TV_END_EXHAUSTED, /* the policy stopped it: ActorExhausted */
  TV_END_DEAD,      /* fatal failure: ActorDead */
  TV_END_CANCELLED, /* removed, cancelled or shut down */
  TV_END_FORCED     /* did not stop within its grace: force-stopped */
} tv_actor_end_t;

enum { TV_KILL_NONE, TV_KILL_TIMEOUT, TV_KILL_FORCED };

/* Every byte here is part of each idle task's memory. */
struct tv_actor {
  tv_str_t *name;
  const tv_policy_t *policy; /* shared, from a pool whose owner is the env */
  uint32_t attempt;          /* attempts started, never reset */
  uint32_t streak;           /* failure retries in the current streak */
  uint8_t state, end, killing, cancel_requested, has_permit;
  uint64_t kill_deadline;    /* clock ms; UINT64_MAX = none */
  uint64_t attempt_deadline; /* clock ms of the attempt timeout, or UINT64_MAX */
  tv_timer_t timer;
  tv_work_t work; /* in the run queue, or in the semaphore's wait list */
  tv_actor_t *hnext; /* registry chain */
};

/* Prepares the actor of a task: takes a reference to `name`. `policy` comes
 * from a tv_policy_pool whose owner is the actor's tv_actor_env_t, and must
 * outlive the actor. Does not start it. */
void tv_actor_init(tv_actor_t *a, tv_str_t *name, const tv_policy_t *policy);
static inline tv_actor_env_t *tv_actor_env(const tv_actor_t *a) {
  return (tv_actor_env_t *)tv_policy_owner(a->policy);
}
/* Schedules the first attempt on the loop. */
void tv_actor_start(tv_actor_t *a);
/* Requests a stop. A running attempt is asked to stop and is force-stopped
 * if it still runs at `kill_deadline` (clock ms; UINT64_MAX: never, the
 * caller enforces its own). Otherwise the actor ends at once. */
void tv_actor_cancel(tv_actor_t *a, uint64_t kill_deadline);
/* Force-stops now (ends as TV_END_FORCED if an attempt was running). */
void tv_actor_kill(tv_actor_t *a);
/* A permit of env->sem was granted to this actor's waiting work node. */
void tv_actor_granted(tv_work_t *w);

static inline int tv_actor_alive(const tv_actor_t *a) {
  return a->state == TV_ACTOR_RUNNING;
}
const char *tv_actor_state_name(int state);

#endif
