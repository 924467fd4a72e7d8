/* budget.h - a restart budget: at most `max` restarts within a sliding
 * window of `within` (OTP's intensity and period), exact and O(1) per
 * restart: a ring of the last `max` restart times. A restart is over budget
 * when the oldest of those is still inside the window.
 * Owner: whoever embeds it (a task's actor, a group, a supervisor); the ring
 * is allocated on first use and freed by tv_budget_free. */
#ifndef TV_BUDGET_H
#define TV_BUDGET_H

#include <stdint.h>

/* What to do when a budget is exceeded. */
typedef enum tv_exhaust {
  TV_EXHAUST_GIVE_UP,  /* the task ends: ActorExhausted */
  TV_EXHAUST_ESCALATE, /* the task's parent (group or supervisor) fails */
  TV_EXHAUST_COOLDOWN  /* no restart for `cooldown`, then a fresh budget */
} tv_exhaust_t;

/* Plain data, part of a policy. limited 0 = no budget (any number of
 * restarts; a zeroed cfg is that). limited with max 0 = no restart allowed:
 * the first one exceeds it (OTP's intensity 0). */
typedef struct tv_budget_cfg {
  uint32_t max;
  uint8_t action; /* tv_exhaust_t */
  uint64_t within_ns;
  uint64_t cooldown_ns;
  uint8_t limited; /* last: positional initialisers of the older fields stay valid */
} tv_budget_cfg_t;

/* No budget; `action` applies once one is set. */
static inline tv_budget_cfg_t tv_budget_none(int action) {
  tv_budget_cfg_t c = {0, (uint8_t)action, 0, 0, 0};
  return c;
}

typedef struct tv_budget {
  uint64_t *ring; /* restart times, clock ms */
  uint32_t head, count;
} tv_budget_t;

#define TV_BUDGET_MAX 100000u /* the largest max_restarts (the ring is 8 B each) */

static inline void tv_budget_init(tv_budget_t *b) {
  b->ring = 0;
  b->head = b->count = 0;
}
void tv_budget_free(tv_budget_t *b);
/* Forgets every restart (a fresh budget). */
static inline void tv_budget_reset(tv_budget_t *b) { b->head = b->count = 0; }
/* Counts a restart at `now_ms`: 1 if it is within budget, 0 if it is over
 * (then it is not counted), -1 when the ring cannot be allocated. */
int tv_budget_take(tv_budget_t *b, const tv_budget_cfg_t *cfg, uint64_t now_ms);
const char *tv_exhaust_name(int action);

#endif
