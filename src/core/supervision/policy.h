/* policy.h - restart, backoff and jitter policies: plain data and the exact
 * delay formulas of the reference crate (semantics A5). Durations in seconds
 * as given by users are converted here; everything after is nanoseconds. */
#ifndef TV_POLICY_H
#define TV_POLICY_H

#include <stdint.h>

#include "core/supervision/budget.h"
#include "core/base/rng.h"

typedef enum tv_restart {
  TV_RESTART_NEVER,
  TV_RESTART_ON_FAILURE, /* the default */
  TV_RESTART_ALWAYS
} tv_restart_t;

typedef enum tv_jitter {
  TV_JITTER_NONE, /* the default */
  TV_JITTER_FULL,
  TV_JITTER_EQUAL,
  TV_JITTER_DECORRELATED
} tv_jitter_t;

typedef struct tv_backoff {
  double first;  /* seconds, default 0.1 */
  double max;    /* seconds, default 30 */
  double factor; /* default 1.0 */
  tv_jitter_t jitter;
} tv_backoff_t;

typedef struct tv_policy {
  tv_backoff_t backoff;
  uint64_t interval_ns; /* "always": pause after a success; 0 = restart at once */
  uint64_t timeout_ns;  /* per attempt; 0 = none */
  uint32_t max_retries; /* failure retries per streak; 0 = unlimited */
  tv_restart_t restart;
  uint64_t reset_after_ns; /* an attempt that ran this long resets the streak
                              and the budget; 0 = never */
  uint64_t every_ns;       /* fixed-rate schedule (attempts start on multiples
                              of it from the first; overruns skip); 0 = none */
  tv_budget_cfg_t budget;  /* the task's restart intensity; limited 0 = none */
  uint64_t shutdown_ns;    /* OTP's shutdown: how long a stop may take before the
                              task is force-stopped (within its caller's deadline,
                              the grace); 0 = brutal_kill, TV_SHUTDOWN_INFINITY =
                              only the caller's deadline (the default) */
  uint8_t significant;     /* OTP's significant child: its own end may end its
                              group or supervisor (their auto_shutdown) */
} tv_policy_t;

#define TV_SHUTDOWN_INFINITY UINT64_MAX

void tv_policy_default(tv_policy_t *p);
int tv_policy_equal(const tv_policy_t *a, const tv_policy_t *b);
/* `p` with its padding zeroed, so equal policies have equal bytes (a key).
 * Lists every field, like tv_policy_equal: a new field goes into both. */
void tv_policy_canonical(tv_policy_t *out, const tv_policy_t *p);

/* Interned, reference-counted policies: tasks with equal policies share one
 * copy (most configs have a handful of distinct policies and many tasks).
 * Every copy also carries the pool's `owner` pointer, so what holds a shared
 * policy reaches its owner without storing it again.
 * Owner: the supervisor; each task holds one reference. */
typedef struct tv_policy_pool {
  struct tv_policy_entry **buckets;
  uint32_t nbuckets, count;
  void *owner;
} tv_policy_pool_t;

void tv_policy_pool_init(tv_policy_pool_t *pool, void *owner);
/* The owner of the pool a shared policy came from. */
void *tv_policy_owner(const tv_policy_t *shared);
void tv_policy_pool_free(tv_policy_pool_t *pool);
/* The shared copy of `p` with one more reference, or NULL (out of memory). */
const tv_policy_t *tv_policy_pool_get(tv_policy_pool_t *pool, const tv_policy_t *p);
void tv_policy_pool_put(tv_policy_pool_t *pool, const tv_policy_t *p);

/* Seconds to nanoseconds, rounded to nearest; negative/NaN give 0 and values
 * beyond ~584 years saturate. */
uint64_t tv_secs_to_ns(double secs);

/* The deterministic delay for a 0-based failure streak `attempt`:
 * first * factor^attempt, or max when that is not finite, negative or > max. */
uint64_t tv_backoff_base_ns(const tv_backoff_t *b, uint32_t attempt);
/* The delay with jitter applied (whole milliseconds for Full, Equal and
 * Decorrelated, exactly as the reference computes them). */
uint64_t tv_backoff_next_ns(const tv_backoff_t *b, uint32_t attempt, tv_rng_t *rng);

const char *tv_restart_name(tv_restart_t r);
const char *tv_jitter_name(tv_jitter_t j);
/* Return the enum value, or -1 for an unknown name. */
int tv_restart_parse(const char *name);
int tv_jitter_parse(const char *name);

#endif
