/* rng.h - a small seedable random source (xoshiro256**), one per supervisor,
 * so jitter is reproducible in tests. Owner: the struct embedding it. */
#ifndef TV_RNG_H
#define TV_RNG_H

#include <stdint.h>

typedef struct tv_rng {
  uint64_t s[4];
} tv_rng_t;

void tv_rng_seed(tv_rng_t *r, uint64_t seed);
/* A seed from the OS (getrandom), falling back to time and address bits. */
uint64_t tv_rng_os_seed(void);
uint64_t tv_rng_next(tv_rng_t *r);
/* Uniform integer in [lo, hi] (inclusive), unbiased. */
uint64_t tv_rng_range(tv_rng_t *r, uint64_t lo, uint64_t hi);

#endif
