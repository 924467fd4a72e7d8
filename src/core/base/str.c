/* str.c - reference-counted strings and formatting helpers. */
#include "core/base/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tv_str_t *tv_str_new(const char *s, size_t len) {
  if (len > UINT32_MAX - 1) return NULL;
  tv_str_t *str = malloc(sizeof(*str) + len + 1);
  if (!str) return NULL;
  str->refs = 1;
  str->len = (uint32_t)len;
  if (len) memcpy(str->s, s, len);
  str->s[len] = '\0';
  return str;
}

tv_str_t *tv_str_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  tv_str_t *str = malloc(sizeof(*str) + (size_t)n + 1);
  if (!str) return NULL;
  va_start(ap, fmt);
  vsnprintf(str->s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  str->refs = 1;
  str->len = (uint32_t)n;
  return str;
}

void tv_str_unref(tv_str_t *s) {
  if (s && --s->refs == 0) free(s);
}

/* value/unit with up to `digits` decimals, trailing zeros trimmed. */
static char *fmt_unit(uint64_t ns, uint64_t unit, int digits, const char *suffix,
                      char *buf, size_t size) {
  uint64_t whole = ns / unit, frac = ns % unit;
  char fbuf[16] = "";
  if (frac) {
    snprintf(fbuf, sizeof fbuf, ".%0*llu", digits, (unsigned long long)frac);
    size_t n = strlen(fbuf);
    while (n > 1 && fbuf[n - 1] == '0') fbuf[--n] = '\0';
  }
  snprintf(buf, size, "%llu%s%s", (unsigned long long)whole, fbuf, suffix);
  return buf;
}

char *tv_fmt_duration(uint64_t ns, char *buf, size_t size) {
  if (ns >= 1000000000ull) return fmt_unit(ns, 1000000000ull, 9, "s", buf, size);
  if (ns >= 1000000ull) return fmt_unit(ns, 1000000ull, 6, "ms", buf, size);
  if (ns >= 1000ull) return fmt_unit(ns, 1000ull, 3, "\xc2\xb5s", buf, size);
  snprintf(buf, size, "%lluns", (unsigned long long)ns);
  return buf;
}

int tv_str_cmp(const tv_str_t *a, const tv_str_t *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->s, b->s, n);
  return c ? c : (a->len > b->len) - (a->len < b->len);
}
