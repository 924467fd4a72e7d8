/* clock.h - the one place the core reads time from.
 * Monotonic milliseconds for timers and elapsed times, wall seconds for event
 * timestamps, nanoseconds for measurements. Three sources: libuv's clock (the
 * default: real time), a manual clock set by hand (unit tests), and a virtual
 * clock (simulations): like the manual one, but the scheduler moves it to the
 * next deadline whenever nothing is runnable (sched.c), so hours of timers run
 * in moments. Owner: whoever embeds it (the binding context, a test). */
#ifndef TV_CLOCK_H
#define TV_CLOCK_H

#include <stdint.h>
#include <uv.h>

typedef enum tv_clock_kind { TV_CLOCK_UV, TV_CLOCK_MANUAL, TV_CLOCK_VIRTUAL } tv_clock_kind_t;

typedef struct tv_clock tv_clock_t;
struct tv_clock {
  uint64_t (*now)(const tv_clock_t *c);    /* monotonic milliseconds */
  double (*wall)(const tv_clock_t *c);     /* seconds since the Unix epoch */
  uint64_t (*hrtime)(const tv_clock_t *c); /* monotonic nanoseconds (measurements) */
  tv_clock_kind_t kind;
  uv_loop_t *loop;    /* libuv clock only */
  uint64_t manual_ms; /* manual and virtual clocks */
  uint64_t start_ms;  /* virtual clock: manual_ms when it began */
  double epoch;       /* virtual clock: wall time at start_ms */
};

void tv_clock_init_uv(tv_clock_t *c, uv_loop_t *loop);
void tv_clock_init_manual(tv_clock_t *c, uint64_t start_ms);
/* A virtual clock at `start_ms` whose wall time reads `epoch` then (seconds). */
void tv_clock_init_virtual(tv_clock_t *c, uint64_t start_ms, double epoch);
/* Manual and virtual clocks only: moves time to `ms` (never backwards). */
void tv_clock_set(tv_clock_t *c, uint64_t ms);

/* (inline: libuv's uv_now is its loop's cached time; the manual and virtual
 * clocks read manual_ms) */
static inline uint64_t tv_clock_now(const tv_clock_t *c) {
  return c->kind == TV_CLOCK_UV ? c->loop->time : c->manual_ms;
}
static inline double tv_clock_wall(const tv_clock_t *c) { return c->wall(c); }
static inline uint64_t tv_clock_hrtime(const tv_clock_t *c) { return c->hrtime(c); }
/* Clock ms `ms` as wall seconds (like an event's `at`), from one reading of
 * both clocks: `wall` (seconds) when the clock read `now` (ms). */
static inline double tv_clock_wall_at(double wall, uint64_t now, uint64_t ms) {
  return wall - ((double)now - (double)ms) / 1000.0;
}
static inline int tv_clock_is_virtual(const tv_clock_t *c) { return c->kind == TV_CLOCK_VIRTUAL; }

#endif
