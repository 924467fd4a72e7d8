/* budget.c - the sliding-window restart counter. */
#include "core/supervision/budget.h"

#include <stdlib.h>

#include "core/loop/sched.h"

void tv_budget_free(tv_budget_t *b) {
  free(b->ring);
  tv_budget_init(b);
}

int tv_budget_take(tv_budget_t *b, const tv_budget_cfg_t *cfg, uint64_t now_ms) {
  if (!cfg->limited) return 1;
  if (!cfg->max) return 0; /* no restart allowed at all */
  if (!b->ring) {
    b->ring = malloc(cfg->max * sizeof *b->ring);
    if (!b->ring) return -1;
    b->head = b->count = 0;
  }
  uint64_t within = tv_ms_ceil(cfg->within_ns);
  if (b->count == cfg->max) {
    uint64_t oldest = b->ring[b->head];
    if (now_ms - oldest < within) return 0; /* max restarts already in the window */
    b->ring[b->head] = now_ms;
    b->head = (b->head + 1) % cfg->max;
    return 1;
  }
  b->ring[(b->head + b->count) % cfg->max] = now_ms;
  b->count++;
  return 1;
}

const char *tv_exhaust_name(int action) {
  static const char *const names[] = {"give_up", "escalate", "cooldown"};
  return (unsigned)action < 3 ? names[action] : "?";
}
