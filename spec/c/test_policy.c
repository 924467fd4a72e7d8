/* test_policy.c - backoff and jitter formulas (reference A5 and its tests). */
#include "core/supervision/policy.h"
#include "core/supervision/budget.h"
#include "core/base/str.h"
#include <string.h>

#include "check.h"

#include <math.h>

#define MS 1000000ull

static tv_backoff_t bo(double first, double max, double factor, tv_jitter_t j) {
  tv_backoff_t b = {first, max, factor, j};
  return b;
}

static void defaults_match_reference(void) {
  tv_policy_t p;
  tv_policy_default(&p);
  CHECK(p.backoff.first == 0.1);
  CHECK(p.backoff.max == 30.0);
  CHECK(p.backoff.factor == 1.0);
  CHECK(p.backoff.jitter == TV_JITTER_NONE);
  CHECK(p.restart == TV_RESTART_ON_FAILURE);
  CHECK_EQ_U(p.max_retries, 0);
  CHECK_EQ_U(p.timeout_ns, 0);
}

static void attempt_zero_returns_first(void) {
  tv_backoff_t b = bo(0.1, 30, 2, TV_JITTER_NONE);
  CHECK_EQ_U(tv_backoff_base_ns(&b, 0), 100 * MS);
}

static void exponential_growth_no_jitter(void) {
  tv_backoff_t b = bo(0.1, 30, 2, TV_JITTER_NONE);
  tv_rng_t r;
  tv_rng_seed(&r, 1);
  const uint64_t want[] = {100, 200, 400, 800, 1600};
  for (uint32_t i = 0; i < 5; i++) CHECK_EQ_U(tv_backoff_next_ns(&b, i, &r), want[i] * MS);
}

static void constant_factor(void) {
  tv_backoff_t b = bo(0.5, 30, 1, TV_JITTER_NONE);
  for (uint32_t i = 0; i < 10; i++) CHECK_EQ_U(tv_backoff_base_ns(&b, i), 500 * MS);
}

static void clamped_to_max(void) {
  tv_backoff_t b = bo(0.1, 1, 2, TV_JITTER_NONE);
  CHECK_EQ_U(tv_backoff_base_ns(&b, 10), 1000 * MS);
}

static void first_exceeds_max(void) {
  tv_backoff_t b = bo(10, 5, 1, TV_JITTER_NONE);
  CHECK_EQ_U(tv_backoff_base_ns(&b, 0), 5000 * MS);
}

static void huge_attempt_and_overflow_clamp(void) {
  tv_backoff_t b = bo(0.1, 60, 2, TV_JITTER_NONE);
  CHECK_EQ_U(tv_backoff_base_ns(&b, 100), 60000 * MS);
  tv_backoff_t c = bo(0.1, 10, 2, TV_JITTER_NONE);
  CHECK_EQ_U(tv_backoff_base_ns(&c, UINT32_MAX), 10000 * MS);
}

static void factor_below_one_shrinks(void) {
  tv_backoff_t b = bo(1, 30, 0.5, TV_JITTER_NONE);
  CHECK_EQ_U(tv_backoff_base_ns(&b, 1), 500 * MS);
  CHECK_EQ_U(tv_backoff_base_ns(&b, 2), 250 * MS);
}

static void full_jitter_bounds(void) {
  tv_rng_t r;
  tv_rng_seed(&r, 42);
  tv_backoff_t b = bo(1, 30, 1, TV_JITTER_FULL);
  int saw_low = 0, saw_high = 0;
  for (uint32_t i = 0; i < 2000; i++) {
    uint64_t d = tv_backoff_next_ns(&b, i % 50, &r);
    CHECK(d <= 1000 * MS);
    CHECK(d % MS == 0);
    if (d < 200 * MS) saw_low = 1;
    if (d > 800 * MS) saw_high = 1;
  }
  CHECK(saw_low && saw_high);
  tv_backoff_t g = bo(0.1, 30, 2, TV_JITTER_FULL);
  for (uint32_t a = 5; a < 15; a++) {
    double cap = fmin(100.0 * pow(2, a), 30000.0);
    CHECK(tv_backoff_next_ns(&g, a, &r) <= (uint64_t)cap * MS);
  }
}

static void equal_jitter_bounds(void) {
  tv_rng_t r;
  tv_rng_seed(&r, 7);
  tv_backoff_t b = bo(1, 30, 1, TV_JITTER_EQUAL);
  for (uint32_t i = 0; i < 2000; i++) {
    uint64_t d = tv_backoff_next_ns(&b, i % 50, &r);
    CHECK(d >= 500 * MS && d <= 1000 * MS);
  }
  tv_backoff_t g = bo(0.1, 30, 2, TV_JITTER_EQUAL);
  for (uint32_t a = 0; a < 15; a++) {
    uint64_t base = tv_backoff_base_ns(&g, a) / MS;
    uint64_t d = tv_backoff_next_ns(&g, a, &r) / MS;
    CHECK(d >= base / 2 && d <= base);
  }
  /* odd milliseconds: the maximum is ms - 1 (half + half) */
  tv_backoff_t odd = bo(0.003, 30, 1, TV_JITTER_EQUAL);
  for (int i = 0; i < 200; i++) CHECK(tv_backoff_next_ns(&odd, 0, &r) <= 2 * MS);
}

static void zero_and_sub_ms_bases_jitter_to_zero(void) {
  tv_rng_t r;
  tv_rng_seed(&r, 3);
  tv_backoff_t f = bo(0, 30, 1, TV_JITTER_FULL);
  tv_backoff_t e = bo(0.0005, 30, 1, TV_JITTER_EQUAL);
  CHECK_EQ_U(tv_backoff_next_ns(&f, 0, &r), 0);
  CHECK_EQ_U(tv_backoff_next_ns(&e, 0, &r), 0);
}

static void decorrelated_grows_with_attempts(void) {
  tv_rng_t r;
  tv_rng_seed(&r, 11);
  tv_backoff_t b = bo(0.1, 30, 2, TV_JITTER_DECORRELATED);
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < 100; i++) {
    uint64_t d = tv_backoff_next_ns(&b, 8, &r);
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  CHECK(lo >= 100 * MS);
  CHECK(hi >= 5000 * MS);
  CHECK(hi <= 30000 * MS);
}

static void decorrelated_range_is_first_to_three_times_base(void) {
  tv_rng_t r;
  tv_rng_seed(&r, 5);
  tv_backoff_t b = bo(0.1, 30, 2, TV_JITTER_DECORRELATED);
  for (int i = 0; i < 1000; i++) {
    uint64_t d = tv_backoff_next_ns(&b, 2, &r); /* base 400 ms */
    CHECK(d >= 100 * MS && d <= 1200 * MS);
  }
  /* lower >= upper: lower (min(first, max)) unchanged */
  tv_backoff_t c = bo(10, 5, 1, TV_JITTER_DECORRELATED);
  CHECK_EQ_U(tv_backoff_next_ns(&c, 0, &r), 5000 * MS);
}

static void seeded_rng_is_reproducible(void) {
  tv_rng_t a, b;
  tv_rng_seed(&a, 99);
  tv_rng_seed(&b, 99);
  tv_backoff_t j = bo(1, 30, 2, TV_JITTER_FULL);
  for (uint32_t i = 0; i < 20; i++)
    CHECK_EQ_U(tv_backoff_next_ns(&j, i, &a), tv_backoff_next_ns(&j, i, &b));
  for (int i = 0; i < 1000; i++) {
    uint64_t v = tv_rng_range(&a, 3, 5);
    CHECK(v >= 3 && v <= 5);
  }
}

static void secs_to_ns_edges(void) {
  CHECK_EQ_U(tv_secs_to_ns(0.1), 100 * MS);
  CHECK_EQ_U(tv_secs_to_ns(-1), 0);
  CHECK_EQ_U(tv_secs_to_ns(NAN), 0);
  CHECK_EQ_U(tv_secs_to_ns(INFINITY), UINT64_MAX);
  CHECK_EQ_U(tv_secs_to_ns(1e300), UINT64_MAX);
}

static void durations_format_like_the_reference(void) {
  char b[48];
  CHECK_STR(tv_fmt_duration(50 * MS, b, sizeof b), "50ms");
  CHECK_STR(tv_fmt_duration(5000 * MS, b, sizeof b), "5s");
  CHECK_STR(tv_fmt_duration(1500 * MS, b, sizeof b), "1.5s");
  CHECK_STR(tv_fmt_duration(60000 * MS, b, sizeof b), "60s");
  CHECK_STR(tv_fmt_duration(1500000, b, sizeof b), "1.5ms");
  CHECK_STR(tv_fmt_duration(0, b, sizeof b), "0ns");
}

static void policy_names_round_trip(void) {
  for (int i = 0; i < 3; i++) CHECK(tv_restart_parse(tv_restart_name(i)) == i);
  for (int i = 0; i < 4; i++) CHECK(tv_jitter_parse(tv_jitter_name(i)) == i);
  CHECK(tv_restart_parse("sometimes") == -1);
  CHECK(tv_jitter_parse("") == -1);
}

/* Equal policies, whatever their padding held, have equal canonical bytes;
 * a change in any field changes them. */
static void canonical_bytes_follow_equality(void) {
  tv_policy_t a, b, ca, cb;
  memset(&a, 0xAB, sizeof a);
  memset(&b, 0x5C, sizeof b);
  tv_policy_default(&a);
  tv_policy_default(&b);
  CHECK(tv_policy_equal(&a, &b));
  tv_policy_canonical(&ca, &a);
  tv_policy_canonical(&cb, &b);
  CHECK(memcmp(&ca, &cb, sizeof ca) == 0);
  b.significant = 1; /* the last field listed */
  tv_policy_canonical(&cb, &b);
  CHECK(memcmp(&ca, &cb, sizeof ca) != 0);
  b = a;
  b.backoff.first = 0.2; /* the first */
  tv_policy_canonical(&cb, &b);
  CHECK(memcmp(&ca, &cb, sizeof ca) != 0);
}

/* OTP's intensity 0: a limited budget of 0 refuses the first restart; an
 * unlimited one (a zeroed cfg) takes any number; limited 2 takes two in the
 * window, then refuses, and takes again once the oldest has left it. */
static void budget_zero_allows_no_restart(void) {
  tv_budget_t b;
  tv_budget_init(&b);
  tv_budget_cfg_t zero = {0, TV_EXHAUST_GIVE_UP, 1000 * MS, 0, 1};
  CHECK(tv_budget_take(&b, &zero, 10) == 0);
  CHECK(b.ring == NULL);
  tv_budget_cfg_t none = {0, TV_EXHAUST_GIVE_UP, 0, 0, 0};
  for (int i = 0; i < 1000; i++) CHECK(tv_budget_take(&b, &none, 10) == 1);
  tv_budget_cfg_t two = {2, TV_EXHAUST_GIVE_UP, 1000 * MS, 0, 1};
  CHECK(tv_budget_take(&b, &two, 10) == 1);
  CHECK(tv_budget_take(&b, &two, 20) == 1);
  CHECK(tv_budget_take(&b, &two, 30) == 0);
  CHECK(tv_budget_take(&b, &two, 1010) == 1);
  tv_budget_free(&b);
  tv_policy_t a, c;
  tv_policy_default(&a);
  c = a;
  c.budget.limited = 1; /* max 0 limited differs from no budget */
  CHECK(!tv_policy_equal(&a, &c));
}

int main(void) {
  RUN(budget_zero_allows_no_restart);
  RUN(defaults_match_reference);
  RUN(canonical_bytes_follow_equality);
  RUN(attempt_zero_returns_first);
  RUN(exponential_growth_no_jitter);
  RUN(constant_factor);
  RUN(clamped_to_max);
  RUN(first_exceeds_max);
  RUN(huge_attempt_and_overflow_clamp);
  RUN(factor_below_one_shrinks);
  RUN(full_jitter_bounds);
  RUN(equal_jitter_bounds);
  RUN(zero_and_sub_ms_bases_jitter_to_zero);
  RUN(decorrelated_grows_with_attempts);
  RUN(decorrelated_range_is_first_to_three_times_base);
  RUN(seeded_rng_is_reproducible);
  RUN(secs_to_ns_edges);
  RUN(durations_format_like_the_reference);
  RUN(policy_names_round_trip);
  return check_report();
}
