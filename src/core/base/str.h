/* str.h - immutable, reference-counted strings shared by tasks and events,
 * and the few formatting helpers the core needs (durations, printf).
 * Owner: whoever holds a reference; the last tv_str_unref frees it. */
#ifndef TV_STR_H
#define TV_STR_H

#include <stddef.h>
#include <stdint.h>

typedef struct tv_str {
  uint32_t refs;
  uint32_t len;
  char s[]; /* NUL-terminated; may also contain NULs (len is the truth) */
} tv_str_t;

/* A new string with one reference, or NULL when out of memory. */
tv_str_t *tv_str_new(const char *s, size_t len);
tv_str_t *tv_str_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline tv_str_t *tv_str_ref(tv_str_t *s) {
  if (s) s->refs++;
  return s;
}
void tv_str_unref(tv_str_t *s);
/* Bytewise order (a prefix sorts first), for qsort over names. */
int tv_str_cmp(const tv_str_t *a, const tv_str_t *b);

/* Formats a duration the way Rust's Debug does ("50ms", "1.5s", "60s"),
 * which is what the reference crate's reasons contain. Returns buf. */
char *tv_fmt_duration(uint64_t ns, char *buf, size_t size);

#endif
