/* test_sched.c - timer heap ordering, the two work lanes, manual driving. */
#include "core/loop/sched.h"
#include "check.h"

static tv_clock_t clk;
static tv_sched_t s;
static char trace[256];
static size_t tlen;

static void mark(char c) {
  if (tlen + 1 < sizeof trace) trace[tlen++] = c, trace[tlen] = '\0';
}

static void setup(void) {
  tv_clock_init_manual(&clk, 1000);
  tv_sched_init(&s, &clk, NULL);
  tlen = 0;
  trace[0] = '\0';
}

typedef struct {
  tv_timer_t t;
  char c;
} ctimer_t;

static int fired;
static void on_ct(tv_timer_t *t) {
  fired++;
  mark(((ctimer_t *)t)->c);
}

static void timers_fire_in_deadline_then_arming_order(void) {
  setup();
  ctimer_t a = {.c = 'a'}, b = {.c = 'b'}, c = {.c = 'c'}, d = {.c = 'd'};
  tv_timer_init(&a.t, on_ct);
  tv_timer_init(&b.t, on_ct);
  tv_timer_init(&c.t, on_ct);
  tv_timer_init(&d.t, on_ct);
  tv_timer_start(&s, &a.t, 30);
  tv_timer_start(&s, &b.t, 10);
  tv_timer_start(&s, &c.t, 10);
  tv_timer_start(&s, &d.t, 20);
  CHECK_EQ_U(tv_sched_next_due(&s), 1010);
  tv_sched_run_until(&s, 1015);
  CHECK_STR(trace, "bc");
  CHECK_EQ_U(tv_sched_now(&s), 1015);
  tv_sched_run_until(&s, 2000);
  CHECK_STR(trace, "bcda");
  CHECK(!tv_timer_active(&a.t));
  tv_sched_close(&s);
}

static void stopped_and_rearmed_timers(void) {
  setup();
  ctimer_t a = {.c = 'a'}, b = {.c = 'b'};
  tv_timer_init(&a.t, on_ct);
  tv_timer_init(&b.t, on_ct);
  tv_timer_start(&s, &a.t, 10);
  tv_timer_start(&s, &b.t, 20);
  tv_timer_stop(&s, &a.t);
  tv_timer_start(&s, &b.t, 5); /* re-arm moves it */
  tv_sched_run_until(&s, 1100);
  CHECK_STR(trace, "b");
  tv_sched_close(&s);
}

/* A timer re-armed for "now" from its own callback runs on the next pass,
 * never twice in one pass (which would starve I/O). */
static int rearms;
static void on_rearm(tv_timer_t *t) {
  mark('r');
  if (++rearms < 3) tv_timer_start(&s, t, 0);
}

static void zero_rearm_waits_for_next_pass(void) {
  setup();
  rearms = 0;
  tv_timer_t t;
  tv_timer_init(&t, on_rearm);
  tv_timer_start(&s, &t, 0);
  uint64_t passes = tv_sched_run_until(&s, 1000);
  CHECK_STR(trace, "rrr");
  CHECK_EQ_U(passes, 3);
  tv_sched_close(&s);
}

typedef struct {
  tv_work_t w;
  char c;
  int lane_again; /* re-defer on this lane once; -1: no */
} cwork_t;

static cwork_t works[4];
static void on_cw(tv_work_t *w) {
  cwork_t *cw = (cwork_t *)w;
  mark(cw->c);
  if (cw->lane_again >= 0) {
    int lane = cw->lane_again;
    cw->lane_again = -1;
    tv_work_defer(&s, w, lane);
  }
  if (cw->c == 'a') tv_work_defer(&s, &works[3].w, TV_LANE_URGENT);
}

static void lanes_next_waits_urgent_runs_at_once(void) {
  setup();
  const char names[4] = {'a', 'b', 'c', 'U'};
  for (int i = 0; i < 4; i++) {
    tv_work_init(&works[i].w, on_cw);
    works[i].c = names[i];
    works[i].lane_again = -1;
  }
  works[1].lane_again = TV_LANE_NEXT; /* b re-queues itself: next pass */
  tv_work_defer(&s, &works[0].w, TV_LANE_NEXT);
  tv_work_defer(&s, &works[1].w, TV_LANE_NEXT);
  tv_work_defer(&s, &works[2].w, TV_LANE_NEXT);
  tv_work_defer(&s, &works[2].w, TV_LANE_NEXT); /* already queued: no-op */
  CHECK(tv_sched_has_work(&s));
  uint64_t passes = tv_sched_run_until(&s, 1000);
  /* a runs, its urgent U runs before b; b's re-queue lands after c. */
  CHECK_STR(trace, "aUbcb");
  CHECK_EQ_U(passes, 2);
  tv_sched_close(&s);
}

static void cancelled_work_does_not_run(void) {
  setup();
  for (int i = 0; i < 3; i++) {
    tv_work_init(&works[i].w, on_cw);
    works[i].c = (char)('x' + i);
    works[i].lane_again = -1;
  }
  tv_work_defer(&s, &works[0].w, TV_LANE_NEXT);
  tv_work_defer(&s, &works[1].w, TV_LANE_NEXT);
  tv_work_defer(&s, &works[2].w, TV_LANE_NEXT);
  tv_work_cancel(&works[1].w);
  tv_work_cancel(&works[1].w); /* twice is harmless */
  tv_sched_run_until(&s, 1000);
  CHECK_STR(trace, "xz");
  tv_sched_close(&s);
}

static void many_timers_stay_ordered(void) {
  setup();
  enum { N = 2000 };
  static ctimer_t ts[N];
  fired = 0;
  for (int i = 0; i < N; i++) {
    tv_timer_init(&ts[i].t, on_ct);
    ts[i].c = 'x';
    tv_timer_start(&s, &ts[i].t, (uint64_t)((i * 7919) % 1000));
  }
  for (int i = 0; i < N; i += 3) tv_timer_stop(&s, &ts[i].t);
  uint64_t prev = 0;
  int ordered = 1, n = 0;
  while (tv_sched_next_due(&s) != UINT64_MAX) {
    uint64_t due = tv_sched_next_due(&s);
    if (due < prev) ordered = 0;
    prev = due;
    tv_sched_run_until(&s, due);
    n++;
  }
  CHECK(ordered);
  CHECK(n > 0);
  CHECK_EQ_U(fired, N - (N + 2) / 3); /* every timer not stopped fired once */
  tv_sched_close(&s);
}

/* On a real loop, a timer re-armed for "now" from its own callback (a zero
 * backoff) still lets every loop iteration reach I/O: one uv_run(UV_RUN_ONCE)
 * runs it once or twice, never spins in libuv's timer phase (where a uv timer
 * re-armed with timeout 0 runs again at once). */
static tv_sched_t ls;
static uv_loop_t loop;
static tv_clock_t uvclk;
static int spins;

/* `ls` on a real (private) libuv loop. */
static void open_real_loop(void) {
  uv_loop_init(&loop);
  tv_clock_init_uv(&uvclk, &loop);
  tv_sched_init(&ls, &uvclk, &loop);
}

static void close_real_loop(void) {
  tv_sched_close(&ls);
  uv_run(&loop, UV_RUN_DEFAULT); /* the handles' close callbacks */
  CHECK(uv_loop_close(&loop) == 0);
}
static void on_spin(tv_timer_t *t) {
  if (++spins < 100000) tv_timer_start(&ls, t, 0);
}

static void zero_rearm_on_a_real_loop_lets_io_run(void) {
  open_real_loop();
  tv_timer_t t;
  tv_timer_init(&t, on_spin);
  spins = 0;
  tv_timer_start(&ls, &t, 0);
  uv_run(&loop, UV_RUN_ONCE);
  CHECK(spins >= 1 && spins <= 3);
  int before = spins;
  uv_run(&loop, UV_RUN_ONCE);
  CHECK(spins > before && spins <= before + 3);
  tv_timer_stop(&ls, &t);
  close_real_loop();
}

/* A timer due "now" that is stopped before the loop gets to it must not
 * leave a later timer unarmed (it fires, late or not at all, otherwise). */
static int later_fired;
static void on_later(tv_timer_t *t) { later_fired++; }
static tv_timer_t now_timer;
static tv_work_t stopper;
static void on_work_stop(tv_work_t *w) { tv_timer_stop(&ls, &now_timer); }

static void a_stopped_due_timer_leaves_the_next_one_armed(void) {
  open_real_loop();
  tv_timer_t later;
  tv_timer_init(&later, on_later);
  tv_timer_init(&now_timer, on_spin);
  tv_work_init(&stopper, on_work_stop);
  later_fired = 0;
  tv_timer_start(&ls, &later, 20);     /* the uv timer is armed for this one */
  tv_timer_start(&ls, &now_timer, 0);  /* due now: served by the idle pass */
  tv_work_defer(&ls, &stopper, TV_LANE_URGENT); /* which first stops it */
  uint64_t t0 = uv_hrtime();
  while (!later_fired && uv_hrtime() - t0 < 2000000000ull) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_EQ_U(later_fired, 1);
  close_real_loop();
}

int main(void) {
  RUN(timers_fire_in_deadline_then_arming_order);
  RUN(stopped_and_rearmed_timers);
  RUN(zero_rearm_waits_for_next_pass);
  RUN(lanes_next_waits_urgent_runs_at_once);
  RUN(cancelled_work_does_not_run);
  RUN(many_timers_stay_ordered);
  RUN(zero_rearm_on_a_real_loop_lets_io_run);
  RUN(a_stopped_due_timer_leaves_the_next_one_armed);
  return check_report();
}
