/* test_vclock.c - the virtual clock on a real libuv loop: time jumps to the
 * next deadline whenever no work is queued, in deadline order, and waits for
 * queued work first; switching back to the real clock re-arms libuv's timer. */
#include "core/loop/sched.h"
#include "check.h"

static tv_clock_t clk;
static tv_sched_t s;
static char trace[64];
static size_t tlen;
static uint64_t seen[8];

typedef struct {
  tv_timer_t t;
  char c;
} ctimer_t;

static void on_ct(tv_timer_t *t) {
  if (tlen + 1 < sizeof trace) {
    seen[tlen] = tv_sched_now(&s);
    trace[tlen++] = ((ctimer_t *)t)->c;
    trace[tlen] = '\0';
  }
}

static int worked;
static uint64_t work_at;
static void on_work(tv_work_t *w) {
  (void)w;
  worked++;
  work_at = tv_sched_now(&s);
}

static void hours_of_timers_take_no_wall_time(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  tv_clock_init_virtual(&clk, 5000, 0);
  tv_sched_init(&s, &clk, &loop);
  ctimer_t a = {.c = 'a'}, b = {.c = 'b'}, c = {.c = 'c'};
  tv_timer_init(&a.t, on_ct);
  tv_timer_init(&b.t, on_ct);
  tv_timer_init(&c.t, on_ct);
  tv_timer_start(&s, &a.t, 3600u * 1000 * 24); /* a day */
  tv_timer_start(&s, &b.t, 10);
  tv_timer_start(&s, &c.t, 3600u * 1000);
  tv_work_t w;
  tv_work_init(&w, on_work);
  tv_work_defer(&s, &w, TV_LANE_NEXT);
  uint64_t t0 = uv_hrtime();
  uv_run(&loop, UV_RUN_DEFAULT); /* returns when nothing is left */
  CHECK(uv_hrtime() - t0 < 2000000000ull); /* (seconds: only "not a day") */
  CHECK(strcmp(trace, "bca") == 0);
  CHECK_EQ_U(worked, 1);
  CHECK_EQ_U(work_at, 5000); /* queued work ran before time moved */
  CHECK_EQ_U(seen[0], 5010);
  CHECK_EQ_U(seen[1], 5000 + 3600u * 1000);
  CHECK_EQ_U(seen[2], 5000 + 3600u * 1000 * 24);
  CHECK(tv_clock_wall(&clk) == 3600.0 * 24 + 0.0); /* epoch 0 plus the virtual seconds */
  tv_sched_close(&s);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

static void back_to_real_time_the_timer_waits_for_real(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  tv_clock_init_virtual(&clk, uv_now(&loop), 0);
  tv_sched_init(&s, &clk, &loop);
  tlen = 0;
  ctimer_t a = {.c = 'a'};
  tv_timer_init(&a.t, on_ct);
  tv_timer_start(&s, &a.t, 30);
  tv_clock_init_uv(&clk, &loop);
  tv_sched_clock_changed(&s);
  uint64_t t0 = uv_hrtime();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_U(tlen, 1);
  CHECK(uv_hrtime() - t0 >= 25000000ull); /* it waited (for real) */
  tv_sched_close(&s);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

int main(void) {
  RUN(hours_of_timers_take_no_wall_time);
  RUN(back_to_real_time_the_timer_waits_for_real);
  return check_report();
}
