/* policy.c - backoff and jitter formulas (reference semantics A5). */
#include "core/supervision/policy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000ull /* jitter works in whole milliseconds (A5) */

void tv_policy_default(tv_policy_t *p) {
  p->backoff.first = 0.1;
  p->backoff.max = 30.0;
  p->backoff.factor = 1.0;
  p->backoff.jitter = TV_JITTER_NONE;
  p->interval_ns = 0;
  p->timeout_ns = 0;
  p->max_retries = 0;
  p->restart = TV_RESTART_ON_FAILURE;
  p->reset_after_ns = 0;
  p->every_ns = 0;
  p->budget = tv_budget_none(TV_EXHAUST_GIVE_UP);
  p->shutdown_ns = TV_SHUTDOWN_INFINITY;
  p->significant = 0;
}

int tv_policy_equal(const tv_policy_t *a, const tv_policy_t *b) {
  return a->backoff.first == b->backoff.first && a->backoff.max == b->backoff.max &&
         a->backoff.factor == b->backoff.factor && a->backoff.jitter == b->backoff.jitter &&
         a->interval_ns == b->interval_ns && a->timeout_ns == b->timeout_ns &&
         a->max_retries == b->max_retries && a->restart == b->restart &&
         a->reset_after_ns == b->reset_after_ns && a->every_ns == b->every_ns &&
         a->budget.max == b->budget.max && a->budget.limited == b->budget.limited &&
         a->budget.action == b->budget.action &&
         a->budget.within_ns == b->budget.within_ns &&
         a->budget.cooldown_ns == b->budget.cooldown_ns && a->shutdown_ns == b->shutdown_ns &&
         a->significant == b->significant;
}

void tv_policy_canonical(tv_policy_t *out, const tv_policy_t *p) {
  memset(out, 0, sizeof *out);
  out->backoff.first = p->backoff.first;
  out->backoff.max = p->backoff.max;
  out->backoff.factor = p->backoff.factor;
  out->backoff.jitter = p->backoff.jitter;
  out->interval_ns = p->interval_ns;
  out->timeout_ns = p->timeout_ns;
  out->max_retries = p->max_retries;
  out->restart = p->restart;
  out->reset_after_ns = p->reset_after_ns;
  out->every_ns = p->every_ns;
  out->budget.max = p->budget.max;
  out->budget.limited = p->budget.limited;
  out->budget.action = p->budget.action;
  out->budget.within_ns = p->budget.within_ns;
  out->budget.cooldown_ns = p->budget.cooldown_ns;
  out->shutdown_ns = p->shutdown_ns;
  out->significant = p->significant;
}

/* ---- the pool -------------------------------------------------------------- */

typedef struct tv_policy_entry {
  tv_policy_t policy; /* first: the shared pointer is the entry's */
  void *owner;
  uint32_t refs;
  struct tv_policy_entry *next;
} tv_policy_entry;

void *tv_policy_owner(const tv_policy_t *shared) {
  return ((const tv_policy_entry *)shared)->owner;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

static uint64_t dbits(double d) {
  uint64_t u;
  if (d == 0) d = 0; /* -0.0 and 0.0 are equal policies */
  memcpy(&u, &d, sizeof u);
  return u;
}

static uint32_t policy_hash(const tv_policy_t *p) {
  uint64_t h = 0;
  h = mix(h, dbits(p->backoff.first));
  h = mix(h, dbits(p->backoff.max));
  h = mix(h, dbits(p->backoff.factor));
  h = mix(h, (uint64_t)p->backoff.jitter << 8 | (uint64_t)p->restart);
  h = mix(h, p->interval_ns);
  h = mix(h, p->timeout_ns);
  h = mix(h, p->max_retries);
  h = mix(h, p->reset_after_ns);
  h = mix(h, p->every_ns);
  h = mix(h, (uint64_t)p->budget.max << 16 | (uint64_t)p->budget.limited << 8 | p->budget.action);
  h = mix(h, p->budget.within_ns);
  h = mix(h, p->budget.cooldown_ns);
  h = mix(h, p->shutdown_ns ^ p->significant);
  return (uint32_t)(h ^ (h >> 32));
}

void tv_policy_pool_init(tv_policy_pool_t *pool, void *owner) {
  pool->buckets = NULL;
  pool->nbuckets = pool->count = 0;
  pool->owner = owner;
}

void tv_policy_pool_free(tv_policy_pool_t *pool) {
  for (uint32_t i = 0; i < pool->nbuckets; i++) {
    tv_policy_entry *e = pool->buckets[i];
    while (e) {
      tv_policy_entry *next = e->next;
      free(e);
      e = next;
    }
  }
  free(pool->buckets);
  tv_policy_pool_init(pool, pool->owner);
}

static void pool_grow(tv_policy_pool_t *pool) {
  uint32_t n = pool->nbuckets ? pool->nbuckets * 2 : 8;
  tv_policy_entry **b = calloc(n, sizeof *b);
  if (!b) return; /* stay at the current size */
  for (uint32_t i = 0; i < pool->nbuckets; i++) {
    tv_policy_entry *e = pool->buckets[i];
    while (e) {
      tv_policy_entry *next = e->next;
      uint32_t k = policy_hash(&e->policy) & (n - 1);
      e->next = b[k];
      b[k] = e;
      e = next;
    }
  }
  free(pool->buckets);
  pool->buckets = b;
  pool->nbuckets = n;
}

const tv_policy_t *tv_policy_pool_get(tv_policy_pool_t *pool, const tv_policy_t *p) {
  if (pool->count >= pool->nbuckets) pool_grow(pool);
  if (!pool->nbuckets) return NULL;
  uint32_t k = policy_hash(p) & (pool->nbuckets - 1);
  for (tv_policy_entry *e = pool->buckets[k]; e; e = e->next) {
    if (tv_policy_equal(&e->policy, p)) {
      e->refs++;
      return &e->policy;
    }
  }
  tv_policy_entry *e = malloc(sizeof *e);
  if (!e) return NULL;
  e->policy = *p;
  e->owner = pool->owner;
  e->refs = 1;
  e->next = pool->buckets[k];
  pool->buckets[k] = e;
  pool->count++;
  return &e->policy;
}

void tv_policy_pool_put(tv_policy_pool_t *pool, const tv_policy_t *p) {
  if (!p || !pool->nbuckets) return;
  tv_policy_entry **pe = &pool->buckets[policy_hash(p) & (pool->nbuckets - 1)];
  for (; *pe; pe = &(*pe)->next) {
    if (&(*pe)->policy != p) continue;
    tv_policy_entry *e = *pe;
    if (--e->refs == 0) {
      *pe = e->next;
      pool->count--;
      free(e);
    }
    return;
  }
}

uint64_t tv_secs_to_ns(double secs) {
  if (!(secs > 0)) return 0; /* negative, zero or NaN */
  double ns = secs * 1e9;
  if (ns >= 18446744073709549568.0) return UINT64_MAX;
  return (uint64_t)round(ns); /* not llround: a long long ends at 2^63 ns (292 years) */
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
