/* sem.c - FIFO-fair counting semaphore. */
#include "sem.h"

void tv_sem_init(tv_sem_t *s, uint32_t limit) {
  s->limit = limit;
  s->held = 0;
  s->waiters.next = s->waiters.prev = &s->waiters;
}

int tv_sem_acquire(tv_sem_t *s, tv_sem_waiter_t *w) {
  if (s->limit == 0) return 1;
  if (s->held < s->limit && s->waiters.next == &s->waiters) {
    s->held++;
    return 1;
  }
  w->prev = s->waiters.prev;
  w->next = &s->waiters;
  s->waiters.prev->next = w;
  s->waiters.prev = w;
  return 0;
}

void tv_sem_cancel(tv_sem_waiter_t *w) {
  w->prev->next = w->next;
  w->next->prev = w->prev;
  w->next = w->prev = w;
}

void tv_sem_release(tv_sem_t *s) {
  if (s->limit == 0) return;
  tv_sem_waiter_t *w = s->waiters.next;
  if (w == &s->waiters) {
    if (s->held) s->held--;
    return;
  }
  tv_sem_cancel(w); /* the permit passes straight to the head waiter */
  w->granted(w);
}
