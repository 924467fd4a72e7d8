/* clock.h - the one place the core reads time from.
 * Monotonic milliseconds for timers and elapsed times, wall seconds for event
 * timestamps. The libuv clock is the default; the manual clock is set by hand,
 * which is how unit tests (and later, virtual-time runs) drive policies. */
#ifndef TV_CLOCK_H
#define TV_CLOCK_H

#include <stdint.h>
#include <uv.h>

typedef struct tv_clock tv_clock_t;
struct tv_clock {
  uint64_t (*now)(const tv_clock_t *c); /* monotonic milliseconds */
  double (*wall)(const tv_clock_t *c);  /* seconds since the Unix epoch */
  uv_loop_t *loop;                      /* libuv clock only */
  uint64_t manual_ms;                   /* manual clock only */
};

void tv_clock_init_uv(tv_clock_t *c, uv_loop_t *loop);
void tv_clock_init_manual(tv_clock_t *c, uint64_t start_ms);
/* Manual clock only: moves time to `ms` (never backwards). */
void tv_clock_set(tv_clock_t *c, uint64_t ms);

static inline uint64_t tv_clock_now(const tv_clock_t *c) { return c->now(c); }
static inline double tv_clock_wall(const tv_clock_t *c) { return c->wall(c); }

#endif
