/* sched.c - timer heap and two-lane run queue on top of one uv_timer_t and
 * one uv_idle_t (or driven by hand when there is no loop). On a virtual clock
 * the uv timer is never armed: the idle handle moves the clock to the next
 * deadline whenever no work is left (virtual time on a real loop). */
#include "core/loop/sched.h"

#include <stdlib.h>

#include "core/base/error.h"

/* ---- timer heap --------------------------------------------------------- */

static int before(const tv_timer_t *a, const tv_timer_t *b) {
  if (a->due != b->due) return a->due < b->due;
  return (int32_t)(a->order - b->order) < 0;
}

static void heap_set(tv_sched_t *s, uint32_t i, tv_timer_t *t) {
  s->heap[i] = t;
  t->slot = (t->slot & TV_TIMER_RESERVED) | (i + 1);
}

/* Room for `more` timers beyond those armed and those reserved. */
static int heap_room(tv_sched_t *s, uint32_t more) {
  uint64_t need = (uint64_t)s->nheap + s->spare + more;
  if (need <= s->capheap) return 0;
  uint64_t cap = s->capheap ? (uint64_t)s->capheap * 2 : 64;
  if (cap < need) cap = need;
  if (cap > TV_TIMER_RESERVED - 1) return TV_ENOMEM;
  tv_timer_t **heap = realloc(s->heap, cap * sizeof *heap);
  if (!heap) return TV_ENOMEM;
  s->heap = heap;
  s->capheap = (uint32_t)cap;
  return 0;
}

static void sift_up(tv_sched_t *s, uint32_t i) {
  tv_timer_t *t = s->heap[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!before(t, s->heap[parent])) break;
    heap_set(s, i, s->heap[parent]);
    i = parent;
  }
  heap_set(s, i, t);
}

static void sift_down(tv_sched_t *s, uint32_t i) {
  tv_timer_t *t = s->heap[i];
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = i;
    tv_timer_t *best = t;
    if (l < s->nheap && before(s->heap[l], best)) m = l, best = s->heap[l];
    if (r < s->nheap && before(s->heap[r], best)) m = r, best = s->heap[r];
    if (m == i) break;
    heap_set(s, i, best);
    i = m;
  }
  heap_set(s, i, t);
}

static void heap_remove(tv_sched_t *s, tv_timer_t *t) {
  uint32_t i = TV_TIMER_INDEX(t) - 1;
  t->slot &= TV_TIMER_RESERVED;
  if (t->slot) s->spare++; /* its room stays kept for it */
  tv_timer_t *last = s->heap[--s->nheap];
  if (last == t) return;
  heap_set(s, i, last);
  if (i > 0 && before(last, s->heap[(i - 1) / 2]))
    sift_up(s, i);
  else
    sift_down(s, i);
}

/* ---- libuv driver -------------------------------------------------------- */

static void drain_pass(tv_sched_t *s);
static void run_timers(tv_sched_t *s);
static void sync_uv_timer(tv_sched_t *s);

static int timers_due(const tv_sched_t *s) {
  return s->nheap && s->heap[0]->due <= tv_sched_now(s);
}

static int is_virtual(const tv_sched_t *s) { return tv_clock_is_virtual(s->clock); }

static void on_uv_idle(uv_idle_t *h) {
  tv_sched_t *s = h->data;
  drain_pass(s);
  if (is_virtual(s) && !tv_sched_has_work(s) && s->nheap)
    tv_clock_set(s->clock, s->heap[0]->due); /* nothing runnable: jump */
  if (timers_due(s)) run_timers(s);
  sync_uv_timer(s); /* the timer this pass served may have been stopped meanwhile */
  if (!tv_sched_has_work(s) && !timers_due(s) && !(is_virtual(s) && s->nheap)) uv_idle_stop(h);
}

static void on_uv_timer(uv_timer_t *h) {
  tv_sched_t *s = h->data;
  s->armed_due = UINT64_MAX;
  run_timers(s);
}

/* Makes the uv timer fire for the earliest deadline (or stops it). It may
 * fire early (a stopped earliest timer does not re-arm it), never late. A
 * deadline already reached goes through the idle handle instead: a uv timer
 * armed with timeout 0 from a timer callback runs again in the same libuv
 * timer pass, so timers re-armed for "now" (zero backoff) would never let the
 * loop reach I/O or signals. The uv timer is left as it is meanwhile (the
 * idle pass re-syncs it). */
static void sync_uv_timer(tv_sched_t *s) {
  if (!s->uvtimer || s->closing) return;
  if (s->nheap == 0 || is_virtual(s)) {
    if (s->armed_due != UINT64_MAX) uv_timer_stop(s->uvtimer);
    s->armed_due = UINT64_MAX;
    if (s->nheap && !uv_is_active((uv_handle_t *)s->uvidle)) uv_idle_start(s->uvidle, on_uv_idle);
    return;
  }
  uint64_t due = s->heap[0]->due, now = tv_sched_now(s);
  if (due <= now) {
    if (!uv_is_active((uv_handle_t *)s->uvidle)) uv_idle_start(s->uvidle, on_uv_idle);
    return;
  }
  if (due == s->armed_due) return;
  (void)uv_timer_start(s->uvtimer, on_uv_timer, due - now, 0); /* EINVAL only for a NULL cb or a closing handle */
  s->armed_due = due;
}

static void close_free(uv_handle_t *h) { free(h); }

int tv_sched_init(tv_sched_t *s, tv_clock_t *clock, uv_loop_t *loop) {
  s->clock = clock;
  s->heap = NULL;
  s->nheap = s->capheap = s->spare = 0;
  s->order = 0;
  tv_list_init(&s->lanes[0]);
  tv_list_init(&s->lanes[1]);
  s->loop = loop;
  s->uvtimer = NULL;
  s->uvidle = NULL;
  s->armed_due = UINT64_MAX;
  s->pass = 0;
  s->stride = 16;
  s->closing = 0;
  if (!loop) return 0;
  s->uvtimer = malloc(sizeof *s->uvtimer);
  s->uvidle = malloc(sizeof *s->uvidle);
  if (!s->uvtimer || !s->uvidle) {
    free(s->uvtimer);
    free(s->uvidle);
    s->uvtimer = NULL;
    s->uvidle = NULL;
    return TV_ENOMEM;
  }
  /* both always return 0 (libuv allocates nothing and opens no fd for them) */
  (void)uv_timer_init(loop, s->uvtimer);
  (void)uv_idle_init(loop, s->uvidle);
  s->uvtimer->data = s;
  s->uvidle->data = s;
  return 0;
}

void tv_sched_close(tv_sched_t *s) {
  s->closing = 1;
  for (uint32_t i = 0; i < s->nheap; i++) s->heap[i]->slot = 0; /* reservation too */
  free(s->heap);
  s->heap = NULL;
  s->nheap = s->capheap = s->spare = 0;
  for (int lane = 0; lane < 2; lane++)
    while (!tv_list_empty(&s->lanes[lane])) tv_list_unlink(s->lanes[lane].next);
  if (s->uvtimer) uv_close((uv_handle_t *)s->uvtimer, close_free);
  if (s->uvidle) uv_close((uv_handle_t *)s->uvidle, close_free);
  s->uvtimer = NULL;
  s->uvidle = NULL;
}

/* ---- timers --------------------------------------------------------------- */

int tv_timer_start_at(tv_sched_t *s, tv_timer_t *t, uint64_t due) {
  if (tv_timer_active(t)) heap_remove(s, t);
  if (t->slot & TV_TIMER_RESERVED)
    s->spare--; /* its own room: nothing to allocate */
  else if (heap_room(s, 1) != 0)
    return TV_ENOMEM;
  t->due = due;
  t->order = s->order++;
  heap_set(s, s->nheap++, t);
  sift_up(s, s->nheap - 1);
  if (s->heap[0] == t) sync_uv_timer(s);
  return 0;
}

int tv_timer_start(tv_sched_t *s, tv_timer_t *t, uint64_t ms) {
  uint64_t now = tv_sched_now(s);
  uint64_t due = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
  return tv_timer_start_at(s, t, due);
}

void tv_timer_stop(tv_sched_t *s, tv_timer_t *t) {
  if (!tv_timer_active(t)) return;
  heap_remove(s, t);
  if (s->nheap == 0) sync_uv_timer(s);
}

int tv_timer_reserve(tv_sched_t *s, tv_timer_t *t) {
  if (t->slot & TV_TIMER_RESERVED) return 0;
  if (!tv_timer_active(t)) { /* an armed one already holds its room */
    if (heap_room(s, 1) != 0) return TV_ENOMEM;
    s->spare++;
  }
  t->slot |= TV_TIMER_RESERVED;
  return 0;
}

void tv_timer_unreserve(tv_sched_t *s, tv_timer_t *t) {
  if (!(t->slot & TV_TIMER_RESERVED)) return;
  t->slot &= ~TV_TIMER_RESERVED;
  if (!tv_timer_active(t) && s->spare) s->spare--;
}

uint64_t tv_sched_next_due(const tv_sched_t *s) {
  return s->nheap ? s->heap[0]->due : UINT64_MAX;
}

/* Runs the timers due now that were armed before this pass began; a timer
 * re-armed for "now" from a callback waits for the next pass. */
static void run_timers(tv_sched_t *s) {
  uint64_t now = tv_sched_now(s);
  uint32_t pass = s->order;
  s->pass++;
  while (s->nheap) {
    tv_timer_t *t = s->heap[0];
    if (t->due > now || (int32_t)(t->order - pass) >= 0) break;
    heap_remove(s, t);
    t->cb(t);
    tv_sched_flush(s);
  }
  sync_uv_timer(s);
}

/* ---- work --------------------------------------------------------------- */

int tv_sched_has_work(const tv_sched_t *s) {
  return !tv_list_empty(&s->lanes[0]) || !tv_list_empty(&s->lanes[1]);
}

/* Unlinks and runs the first work item of `list`. */
static void run_first(tv_link_t *list) {
  tv_work_t *w = tv_container_of(list->next, tv_work_t, link);
  tv_list_unlink(&w->link);
  w->cb(w);
}

void tv_work_defer(tv_sched_t *s, tv_work_t *w, int lane) {
  if (tv_work_queued(w) || s->closing) return;
  tv_list_push(&s->lanes[lane], &w->link);
  if (s->uvidle && !uv_is_active((uv_handle_t *)s->uvidle))
    (void)uv_idle_start(s->uvidle, on_uv_idle); /* EINVAL only for a NULL cb */
}

void tv_work_cancel(tv_work_t *w) { tv_list_unlink(&w->link); }

void tv_sched_flush(tv_sched_t *s) {
  while (!tv_list_empty(&s->lanes[TV_LANE_URGENT])) run_first(&s->lanes[TV_LANE_URGENT]);
}

/* A pass on the loop runs at most this much work, then lets timers, I/O and
 * signals have their turn (a storm of 200 process restarts, each waiting for
 * its exec, held the loop for over a second). The clock is read every 16th
 * item, or after every item while items take over SLOW_ITEMS_NS / 16. */
#define PASS_BUDGET_NS 5000000u
#define SLOW_ITEMS_NS 1000000u

/* The rest of an interrupted pass goes back in front of the work queued
 * during it, in order. */
static void requeue_front(tv_sched_t *s, tv_link_t *rest) {
  tv_link_t *next = &s->lanes[TV_LANE_NEXT];
  while (!tv_list_empty(next)) {
    tv_link_t *l = next->next;
    tv_list_unlink(l);
    tv_list_push(rest, l);
  }
  tv_list_splice(rest, next);
}

/* One loop pass: the "next" work queued before the pass began, each item
 * followed by whatever urgent work it produced; on the loop (not when driven
 * by hand, where time is the manual clock's), within PASS_BUDGET_NS. */
static void drain_pass(tv_sched_t *s) {
  tv_link_t cur;
  tv_list_init(&cur);
  s->pass++;
  tv_sched_flush(s);
  tv_list_splice(&s->lanes[TV_LANE_NEXT], &cur);
  /* (not on a virtual clock either: where a pass is cut must not depend on
   * the machine's speed, or a simulation would not repeat itself) */
  int bounded = s->uvidle != NULL && !is_virtual(s);
  uint64_t start = bounded ? tv_clock_hrtime(s->clock) : 0, last = start;
  uint32_t n = 0;
  while (!tv_list_empty(&cur)) {
    run_first(&cur);
    tv_sched_flush(s);
    if (!bounded || ++n % s->stride) continue;
    uint64_t now = tv_clock_hrtime(s->clock);
    s->stride = now - last > SLOW_ITEMS_NS / 16 * s->stride ? 1 : 16; /* slow items: read every one */
    last = now;
    if (now - start >= PASS_BUDGET_NS && !tv_list_empty(&cur)) {
      requeue_front(s, &cur);
      return; /* the idle handle stays on: the rest runs next pass */
    }
  }
}

void tv_sched_run_pass(tv_sched_t *s) { drain_pass(s); }

void tv_sched_clock_changed(tv_sched_t *s) {
  if (s->uvtimer && s->armed_due != UINT64_MAX) uv_timer_stop(s->uvtimer);
  s->armed_due = UINT64_MAX;
  sync_uv_timer(s);
}

uint64_t tv_sched_run_until(tv_sched_t *s, uint64_t until_ms) {
  uint64_t passes = 0;
  for (;;) {
    if (tv_sched_has_work(s)) {
      drain_pass(s);
      passes++;
      continue;
    }
    uint64_t due = tv_sched_next_due(s);
    if (due > until_ms) break;
    tv_clock_set(s->clock, due);
    run_timers(s);
    passes++;
  }
  tv_clock_set(s->clock, until_ms);
  return passes;
}
