/* fuzz.h - what every libFuzzer target in fuzz/ shares: reading the input as
 * a stream of choices (bytes, integers, doubles, byte strings; reads past the
 * end give zeros, so every input is valid) and an invariant check that aborts
 * with a message, which libFuzzer reports as a crash. */
#ifndef TV_FUZZ_H
#define TV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fz_in {
  const uint8_t *p;
  size_t n;
} fz_in;

static inline uint8_t fz_u8(fz_in *in) {
  if (!in->n) return 0;
  in->n--;
  return *in->p++;
}

/* `bytes` (<= 8) bytes, little-endian. */
static inline uint64_t fz_uint(fz_in *in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint64_t)fz_u8(in) << (8 * i);
  return v;
}

static inline double fz_double(fz_in *in) {
  uint64_t u = fz_uint(in, 8);
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* Up to `len` bytes of the input (fewer at its end), not copied. */
static inline const uint8_t *fz_bytes(fz_in *in, size_t *len) {
  const uint8_t *p = in->p;
  if (*len > in->n) *len = in->n;
  in->p += *len;
  in->n -= *len;
  return p;
}

#define FZ_CHECK(cond, ...)                                                    \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: invariant failed: %s\n  ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      abort();                                                                 \
    }                                                                          \
  } while (0)

#endif
