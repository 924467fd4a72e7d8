/* sem.c - FIFO-fair counting semaphore over run-queue nodes. */
#include "core/loop/sem.h"

void tv_sem_init(tv_sem_t *s, uint32_t limit, void (*granted)(tv_work_t *w)) {
  s->limit = limit;
  s->held = 0;
  tv_list_init(&s->waiters);
  s->granted = granted;
}

int tv_sem_acquire(tv_sem_t *s, tv_work_t *w) {
  if (s->limit == 0) return 1;
  if (s->held < s->limit && tv_list_empty(&s->waiters)) {
    s->held++;
    return 1;
  }
  tv_list_push(&s->waiters, &w->link);
  return 0;
}

void tv_sem_release(tv_sem_t *s) {
  if (s->limit == 0) return;
  if (tv_list_empty(&s->waiters)) {
    if (s->held) s->held--;
    return;
  }
  tv_work_t *w = tv_container_of(s->waiters.next, tv_work_t, link); /* the permit passes to it */
  tv_work_cancel(w);
  s->granted(w);
}
