/* sem.c - FIFO-fair counting semaphore over run-queue nodes. */
#include "sem.h"

void tv_sem_init(tv_sem_t *s, uint32_t limit, void (*granted)(tv_work_t *w)) {
  s->limit = limit;
  s->held = 0;
  tv_work_init(&s->waiters, NULL);
  s->granted = granted;
}

int tv_sem_acquire(tv_sem_t *s, tv_work_t *w) {
  if (s->limit == 0) return 1;
  if (s->held < s->limit && !tv_work_queued(&s->waiters)) {
    s->held++;
    return 1;
  }
  w->prev = s->waiters.prev;
  w->next = &s->waiters;
  s->waiters.prev->next = w;
  s->waiters.prev = w;
  return 0;
}

void tv_sem_release(tv_sem_t *s) {
  if (s->limit == 0) return;
  if (!tv_work_queued(&s->waiters)) {
    if (s->held) s->held--;
    return;
  }
  tv_work_t *w = s->waiters.next; /* the permit passes straight to it */
  tv_work_cancel(w);
  s->granted(w);
}
