/* sched.h - timers and the run queue: how anything in the core waits.
 *
 * Timers live in one binary heap driven by a single uv_timer_t, so a sleeping
 * task costs a heap slot, not a libuv handle. Deferred work ("yield to the
 * loop") goes through a uv_idle_t: a zero timer re-armed from its own callback
 * would run again in the same timer pass and starve I/O (measured on libuv
 * 1.44.2). Work has two lanes: TV_LANE_NEXT runs on the next loop pass (task
 * steps); TV_LANE_URGENT runs as soon as the current callback returns
 * (subscriber deliveries), so event queues drain while publishers run.
 *
 * The heap is an array of pointers, so arming may need it to grow. An owner
 * that could not cope with a failed arming (a task's backoff, a shutdown's
 * grace deadline) reserves room for its timer once, where it can still report
 * TV_ENOMEM (tv_timer_reserve); arming a reserved timer never allocates.
 *
 * On a virtual clock (clock.h) the loop still runs callbacks, but time moves
 * to the next deadline as soon as no work is queued: nothing waits for real.
 *
 * Without a loop (tv_sched_init with loop NULL) nothing runs by itself: tests
 * call tv_sched_run_until with a manual clock. Owner: the embedding (binding
 * context or test); timers and work items are owned by the structs embedding
 * them and must be stopped/cancelled (and unreserved) before those are freed. */
#ifndef TV_SCHED_H
#define TV_SCHED_H

#include <stdint.h>
#include <uv.h>

#include "core/base/clock.h"
#include "core/base/list.h"

typedef struct tv_sched tv_sched_t;
typedef struct tv_timer tv_timer_t;
typedef struct tv_work tv_work_t;
typedef void (*tv_timer_cb)(tv_timer_t *t);
typedef void (*tv_work_cb)(tv_work_t *w);

struct tv_timer {
  uint64_t due;   /* clock milliseconds */
  tv_timer_cb cb;
  uint32_t slot;  /* heap index + 1 (0 when not armed), | TV_TIMER_RESERVED */
  uint32_t order; /* arming order: FIFO among equal deadlines */
};
#define TV_TIMER_RESERVED 0x80000000u
#define TV_TIMER_INDEX(t) ((t)->slot & ~TV_TIMER_RESERVED)

struct tv_work {
  tv_link_t link; /* in a lane (or a semaphore's waiters); self-linked when not */
  tv_work_cb cb;
};

enum { TV_LANE_URGENT = 0, TV_LANE_NEXT = 1 };

struct tv_sched {
  tv_clock_t *clock;
  tv_timer_t **heap;
  uint32_t nheap, capheap;
  uint32_t spare; /* reserved timers not armed: nheap + spare <= capheap */
  uint32_t order;
  tv_link_t lanes[2];
  uv_loop_t *loop;    /* NULL: manual driving */
  uv_timer_t *uvtimer;
  uv_idle_t *uvidle;
  uint64_t armed_due; /* deadline the uv timer is armed for, or UINT64_MAX */
  uint64_t pass;      /* loop passes so far (work passes and timer passes) */
  uint32_t stride;    /* work items between clock reads in a bounded pass */
  int closing;
};

/* loop may be NULL (manual). Returns 0 or TV_ENOMEM. */
int tv_sched_init(tv_sched_t *s, tv_clock_t *clock, uv_loop_t *loop);
/* Releases the heap and closes the libuv handles (freed in their close
 * callbacks). Pending timers and work are dropped, not run. */
void tv_sched_close(tv_sched_t *s);

static inline uint64_t tv_sched_now(const tv_sched_t *s) {
  return tv_clock_now(s->clock);
}

#define TV_NS_PER_MS 1000000ull
/* Nanoseconds to timer milliseconds, rounded up: a wait is never cut short. */
static inline uint64_t tv_ms_ceil(uint64_t ns) {
  return ns / TV_NS_PER_MS + (ns % TV_NS_PER_MS != 0);
}
/* The clock time `ns` from now (rounded up to a millisecond, saturating). */
static inline uint64_t tv_sched_deadline(const tv_sched_t *s, uint64_t ns) {
  uint64_t now = tv_sched_now(s), ms = tv_ms_ceil(ns);
  return ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
}

static inline void tv_timer_init(tv_timer_t *t, tv_timer_cb cb) {
  t->due = 0;
  t->cb = cb;
  t->slot = 0;
  t->order = 0;
}
static inline int tv_timer_active(const tv_timer_t *t) { return TV_TIMER_INDEX(t) != 0; }
/* (Re)arms t to fire `ms` milliseconds from now. Returns 0, or TV_ENOMEM
 * (t is left stopped) only for a timer that is not reserved. */
int tv_timer_start(tv_sched_t *s, tv_timer_t *t, uint64_t ms);
/* Arms t for an absolute clock deadline (already past fires next pass). */
int tv_timer_start_at(tv_sched_t *s, tv_timer_t *t, uint64_t due);
void tv_timer_stop(tv_sched_t *s, tv_timer_t *t);
/* Keeps heap room for t from now on, so arming it cannot fail. 0 or
 * TV_ENOMEM. Call after tv_timer_init (which forgets a reservation). */
int tv_timer_reserve(tv_sched_t *s, tv_timer_t *t);
/* Gives the room back (t keeps running if armed). Safe after tv_sched_close. */
void tv_timer_unreserve(tv_sched_t *s, tv_timer_t *t);

static inline void tv_work_init(tv_work_t *w, tv_work_cb cb) {
  tv_list_init(&w->link);
  w->cb = cb;
}
static inline int tv_work_queued(const tv_work_t *w) { return tv_linked(&w->link); }
/* Queues w (no-op if already queued). */
void tv_work_defer(tv_sched_t *s, tv_work_t *w, int lane);
void tv_work_cancel(tv_work_t *w);

/* Runs urgent work until none is left. Core code driven by its own libuv
 * callbacks calls this when such a callback returns. */
void tv_sched_flush(tv_sched_t *s);

/* Manual driving: runs work and timers in order until no work is left and
 * the next timer is after `until_ms`, moving the (manual) clock forward.
 * Returns the number of callbacks run. */
uint64_t tv_sched_run_until(tv_sched_t *s, uint64_t until_ms);
/* The clock's kind or time was changed in place (real <-> virtual): re-syncs
 * the libuv timer to it. Armed timers keep their deadlines. */
void tv_sched_clock_changed(tv_sched_t *s);
/* Manual driving: one loop pass of deferred work (no timers). */
void tv_sched_run_pass(tv_sched_t *s);
/* Deadline of the earliest armed timer, or UINT64_MAX. */
uint64_t tv_sched_next_due(const tv_sched_t *s);
int tv_sched_has_work(const tv_sched_t *s);

#endif
