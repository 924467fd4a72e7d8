/* clock.c - libuv-backed, manual and virtual time sources. */
#include "core/base/clock.h"

#include <time.h>

static uint64_t uv_now_ms(const tv_clock_t *c) { return uv_now(c->loop); }

static double real_wall(const tv_clock_t *c) {
  (void)c;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t real_hrtime(const tv_clock_t *c) {
  (void)c;
  return uv_hrtime();
}

static uint64_t manual_now(const tv_clock_t *c) { return c->manual_ms; }

/* Manual wall time follows manual time from a fixed, recognisable epoch. */
static double manual_wall(const tv_clock_t *c) {
  return 1.0e9 + (double)c->manual_ms / 1000.0;
}

static double virtual_wall(const tv_clock_t *c) {
  return c->epoch + (double)(c->manual_ms - c->start_ms) / 1000.0;
}

static uint64_t manual_hrtime(const tv_clock_t *c) { return c->manual_ms * 1000000u; }

void tv_clock_init_uv(tv_clock_t *c, uv_loop_t *loop) {
  c->now = uv_now_ms;
  c->wall = real_wall;
  c->hrtime = real_hrtime;
  c->kind = TV_CLOCK_UV;
  c->loop = loop;
  c->manual_ms = c->start_ms = 0;
  c->epoch = 0;
}

void tv_clock_init_manual(tv_clock_t *c, uint64_t start_ms) {
  c->now = manual_now;
  c->wall = manual_wall;
  c->hrtime = manual_hrtime;
  c->kind = TV_CLOCK_MANUAL;
  c->loop = NULL;
  c->manual_ms = c->start_ms = start_ms;
  c->epoch = 0;
}

void tv_clock_init_virtual(tv_clock_t *c, uint64_t start_ms, double epoch) {
  tv_clock_init_manual(c, start_ms);
  c->wall = virtual_wall;
  c->kind = TV_CLOCK_VIRTUAL;
  c->epoch = epoch;
}

void tv_clock_set(tv_clock_t *c, uint64_t ms) {
  if (ms > c->manual_ms) c->manual_ms = ms;
}
