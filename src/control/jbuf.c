/* jbuf.c - JSON text written into a growing buffer (jbuf.h). */
#include "jbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(jbuf_t *b, size_t n) {
  if (b->failed) return 0;
  if (b->len + n <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 1 << 16;
  while (cap < b->len + n) cap *= 2;
  char *p = realloc(b->s, cap);
  if (!p) {
    b->failed = 1;
    return 0;
  }
  b->s = p;
  b->cap = cap;
  return 1;
}

void jb_put(jbuf_t *b, const char *s, size_t n) {
  if (!grow(b, n)) return;
  memcpy(b->s + b->len, s, n);
  b->len += n;
}

void jb_cstr(jbuf_t *b, const char *s) { jb_put(b, s, strlen(s)); }

/* The length of the UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t k;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) k = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) k = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) k = 4, min = 0x10000;
  else return 0;
  if (n < k) return 0;
  unsigned v = c & (0x7f >> k);
  for (size_t i = 1; i < k; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  return k;
}

void jb_str(jbuf_t *b, const char *s, size_t n) {
  if (!grow(b, n + 2)) return;
  b->s[b->len++] = '"';
  const unsigned char *u = (const unsigned char *)s;
  size_t from = 0, i = 0;
  while (i < n) {
    unsigned c = u[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      i++;
      continue;
    }
    size_t k = c >= 0x80 ? utf8_len(u + i, n - i) : 0;
    if (k) {
      i += k;
      continue;
    }
    jb_put(b, s + from, i - from);
    char esc[8];
    if (c == '"') jb_put(b, "\\\"", 2);
    else if (c == '\\') jb_put(b, "\\\\", 2);
    else if (c == '\n') jb_put(b, "\\n", 2);
    else if (c == '\r') jb_put(b, "\\r", 2);
    else if (c == '\t') jb_put(b, "\\t", 2);
    else if (c < 0x20) jb_put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
    else jb_put(b, "\xef\xbf\xbd", 3); /* a byte that starts no UTF-8 sequence */
    from = ++i;
  }
  jb_put(b, s + from, n - from);
  jb_put(b, "\"", 1);
}

void jb_int(jbuf_t *b, int64_t v) {
  char t[24];
  char *p = t + sizeof t;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do *--p = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0) *--p = '-';
  jb_put(b, p, (size_t)(t + sizeof t - p));
}

void jb_secs(jbuf_t *b, double v) {
  if (!(v == v) || v > 9e15 || v < -9e15) { /* (never a time: no NaN or inf in JSON) */
    jb_put(b, "0", 1);
    return;
  }
  int neg = v < 0;
  uint64_t us = (uint64_t)((neg ? -v : v) * 1e6 + 0.5);
  if (neg) jb_put(b, "-", 1);
  jb_int(b, (int64_t)(us / 1000000));
  char f[8];
  uint64_t r = us % 1000000;
  f[0] = '.';
  for (int i = 6; i >= 1; i--, r /= 10) f[i] = (char)('0' + r % 10);
  jb_put(b, f, 7);
}
