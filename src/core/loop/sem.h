/* sem.h - FIFO-fair counting semaphore for max_concurrent.
 * Waiters are run-queue work items: an actor waits in the semaphore's list
 * with the same node it uses for the run queue (it is never in both), and a
 * granted waiter is handed to the `granted` callback, which defers it.
 * Owner: the supervisor. */
#ifndef TV_SEM_H
#define TV_SEM_H

#include <stdint.h>

#include "core/loop/sched.h"

typedef struct tv_sem {
  uint32_t limit; /* 0 = unlimited */
  uint32_t held;
  tv_link_t waiters; /* of tv_work_t */
  void (*granted)(tv_work_t *w);
} tv_sem_t;

void tv_sem_init(tv_sem_t *s, uint32_t limit, void (*granted)(tv_work_t *w));
/* 1: acquired now. 0: w queued; `granted(w)` runs when it gets a permit.
 * A queued waiter leaves the queue with tv_work_cancel(w). */
int tv_sem_acquire(tv_sem_t *s, tv_work_t *w);
/* Gives one permit back; the longest waiter gets it. */
void tv_sem_release(tv_sem_t *s);

#endif
