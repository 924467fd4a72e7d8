/* fuzz/duration.c - the numbers users give in seconds, on their way into the
 * core: seconds -> nanoseconds (tv_secs_to_ns), the backoff delay built from
 * them (tv_backoff_next_ns, within the ranges the Lua API accepts), and the
 * duration text that reasons carry (tv_fmt_duration: "1.5s", "250ms"), which
 * must read back as the exact value and never overrun a short buffer. */
#include <math.h>

#include "core/supervision/policy.h"
#include "core/base/str.h"
#include "fuzz.h"

/* Parses tv_fmt_duration's text back into nanoseconds; checks the unit is
 * the one the value calls for and the fraction has no trailing zero. */
static uint64_t parse_duration(const char *s) {
  char *end;
  uint64_t whole = strtoull(s, &end, 10), frac = 0;
  int digits = 0;
  FZ_CHECK(end != s, "no number in \"%s\"", s);
  if (*end == '.') {
    for (end++; *end >= '0' && *end <= '9'; end++, digits++) frac = frac * 10 + (uint64_t)(*end - '0');
    FZ_CHECK(digits > 0 && end[-1] != '0', "bad fraction in \"%s\"", s);
  }
  static const struct { const char *suffix; uint64_t unit; int digits; } units[] = {
      {"s", 1000000000ull, 9}, {"ms", 1000000ull, 6}, {"\xc2\xb5s", 1000ull, 3}, {"ns", 1, 0}};
  for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
    if (strcmp(end, units[i].suffix) != 0) continue;
    FZ_CHECK(digits <= units[i].digits, "too many decimals in \"%s\"", s);
    FZ_CHECK(units[i].unit == 1 || whole >= 1, "\"%s\" should use a smaller unit", s);
    FZ_CHECK(i == 0 || whole < 1000, "\"%s\" should use a larger unit", s);
    for (int d = digits; d < units[i].digits; d++) frac *= 10;
    return whole * units[i].unit + frac;
  }
  FZ_CHECK(0, "unknown unit in \"%s\"", s);
  return 0;
}

static void check_format(fz_in *in) {
  uint64_t ns = fz_uint(in, 8);
  size_t cap = fz_u8(in) % 40;
  char full[64];
  tv_fmt_duration(ns, full, sizeof full);
  FZ_CHECK(parse_duration(full) == ns, "\"%s\" is not %llu ns", full, (unsigned long long)ns);
  /* A short buffer gets a NUL-terminated prefix (ASan sees any overrun). */
  char *buf = malloc(cap ? cap : 1);
  tv_fmt_duration(ns, buf, cap);
  if (cap) {
    size_t want = strlen(full) < cap - 1 ? strlen(full) : cap - 1;
    FZ_CHECK(strlen(buf) == want && memcmp(buf, full, want) == 0, "\"%s\" cut to %zu: \"%s\"",
             full, cap, buf);
  }
  free(buf);
}

static void check_secs(fz_in *in) {
  double secs = fz_double(in);
  uint64_t ns = tv_secs_to_ns(secs);
  if (!(secs > 0)) {
    FZ_CHECK(ns == 0, "%g s -> %llu ns", secs, (unsigned long long)ns);
    return;
  }
  double want = secs * 1e9;
  if (want >= 18446744073709551616.0) { /* 2^64: saturates */
    FZ_CHECK(ns >= 18446744073709549568ull, "%g s -> %llu ns (saturation)", secs,
             (unsigned long long)ns);
    return;
  }
  FZ_CHECK(fabs((double)ns - want) <= 1.0 + want * 1e-15, "%.17g s -> %llu ns", secs,
           (unsigned long long)ns);
}

/* The Lua API's ranges: first, max in [0, 1e9] seconds, factor finite >= 0. */
static double in_range(double d, double max) {
  if (!isfinite(d)) return 0;
  d = fabs(d);
  return d > max ? fmod(d, max) : d;
}

static void check_backoff(fz_in *in) {
  tv_backoff_t b;
  b.first = in_range(fz_double(in), 1e9);
  b.max = in_range(fz_double(in), 1e9);
  b.factor = in_range(fz_double(in), 1e300);
  b.jitter = (tv_jitter_t)(fz_u8(in) % 4);
  uint32_t attempt = (uint32_t)fz_uint(in, 4);
  tv_rng_t rng;
  tv_rng_seed(&rng, fz_uint(in, 8));
  uint64_t max_ns = tv_secs_to_ns(b.max);
  uint64_t base = tv_backoff_base_ns(&b, attempt);
  FZ_CHECK(base <= max_ns, "base %llu > max %llu", (unsigned long long)base,
           (unsigned long long)max_ns);
  uint64_t d = tv_backoff_next_ns(&b, attempt, &rng);
  FZ_CHECK(d <= max_ns, "delay %llu > max %llu (jitter %s, first %g, factor %g, attempt %u)",
           (unsigned long long)d, (unsigned long long)max_ns, tv_jitter_name(b.jitter), b.first,
           b.factor, attempt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  check_format(&in);
  check_secs(&in);
  check_backoff(&in);
  return 0;
}
