/* sem.h - FIFO-fair counting semaphore for max_concurrent.
 * A waiter is embedded in its owner (the actor); granting only calls the
 * waiter's callback, which must defer real work. Owner: the supervisor. */
#ifndef TV_SEM_H
#define TV_SEM_H

#include <stdint.h>

typedef struct tv_sem_waiter tv_sem_waiter_t;
struct tv_sem_waiter {
  tv_sem_waiter_t *next, *prev; /* self-linked when not waiting */
  void (*granted)(tv_sem_waiter_t *w);
};

typedef struct tv_sem {
  uint32_t limit; /* 0 = unlimited */
  uint32_t held;
  tv_sem_waiter_t waiters; /* sentinel */
} tv_sem_t;

void tv_sem_init(tv_sem_t *s, uint32_t limit);
static inline void tv_sem_waiter_init(tv_sem_waiter_t *w,
                                      void (*granted)(tv_sem_waiter_t *)) {
  w->next = w->prev = w;
  w->granted = granted;
}
static inline int tv_sem_waiting(const tv_sem_waiter_t *w) { return w->next != w; }
/* 1: acquired now. 0: queued; `granted` is called when it is acquired. */
int tv_sem_acquire(tv_sem_t *s, tv_sem_waiter_t *w);
/* Leaves the queue (no-op when not queued). */
void tv_sem_cancel(tv_sem_waiter_t *w);
/* Gives one permit back; the longest waiter gets it. */
void tv_sem_release(tv_sem_t *s);

#endif
