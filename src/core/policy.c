/* policy.c - backoff and jitter formulas (reference semantics A5). */
#include "policy.h"

#include <math.h>
#include <string.h>

#define NS_PER_MS 1000000ull

void tv_policy_default(tv_policy_t *p) {
  p->backoff.first = 0.1;
  p->backoff.max = 30.0;
  p->backoff.factor = 1.0;
  p->backoff.jitter = TV_JITTER_NONE;
  p->interval_ns = 0;
  p->timeout_ns = 0;
  p->max_retries = 0;
  p->restart = TV_RESTART_ON_FAILURE;
}

uint64_t tv_secs_to_ns(double secs) {
  if (!(secs > 0)) return 0; /* negative, zero or NaN */
  double ns = secs * 1e9;
  if (ns >= 18446744073709549568.0) return UINT64_MAX;
  return (uint64_t)llround(ns);
}

uint64_t tv_backoff_base_ns(const tv_backoff_t *b, uint32_t attempt) {
  int exp = attempt > INT32_MAX ? INT32_MAX : (int)attempt;
  double unclamped = b->first * pow(b->factor, exp);
  if (!isfinite(unclamped) || unclamped < 0 || unclamped > b->max)
    return tv_secs_to_ns(b->max);
  return tv_secs_to_ns(unclamped);
}

static uint64_t sat_mul3(uint64_t x) {
  return x > UINT64_MAX / 3 ? UINT64_MAX : x * 3;
}

uint64_t tv_backoff_next_ns(const tv_backoff_t *b, uint32_t attempt, tv_rng_t *rng) {
  uint64_t base = tv_backoff_base_ns(b, attempt);
  uint64_t ms = base / NS_PER_MS;
  switch (b->jitter) {
    case TV_JITTER_NONE:
      return base;
    case TV_JITTER_FULL:
      return ms ? tv_rng_range(rng, 0, ms) * NS_PER_MS : 0;
    case TV_JITTER_EQUAL: {
      if (!ms) return 0;
      uint64_t half = ms / 2;
      return (half + (half ? tv_rng_range(rng, 0, half) : 0)) * NS_PER_MS;
    }
    case TV_JITTER_DECORRELATED: {
      uint64_t first_ns = tv_secs_to_ns(b->first), max_ns = tv_secs_to_ns(b->max);
      uint64_t lower_ns = first_ns < max_ns ? first_ns : max_ns;
      uint64_t lower_ms = lower_ns / NS_PER_MS, max_ms = max_ns / NS_PER_MS;
      uint64_t upper = sat_mul3(ms);
      if (upper > max_ms) upper = max_ms;
      if (upper < lower_ms) upper = lower_ms;
      if (lower_ms >= upper) return lower_ns;
      return tv_rng_range(rng, lower_ms, upper) * NS_PER_MS;
    }
  }
  return base;
}

static const char *const restart_names[] = {"never", "on_failure", "always"};
static const char *const jitter_names[] = {"none", "full", "equal", "decorrelated"};

const char *tv_restart_name(tv_restart_t r) {
  return (unsigned)r < 3 ? restart_names[r] : "?";
}

const char *tv_jitter_name(tv_jitter_t j) {
  return (unsigned)j < 4 ? jitter_names[j] : "?";
}

static int parse(const char *const *names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}

int tv_restart_parse(const char *name) { return parse(restart_names, 3, name); }
int tv_jitter_parse(const char *name) { return parse(jitter_names, 4, name); }
