/* outcomes.h - the reliable record of how tasks ended: the last outcome per
 * name, written by the supervisor as each task ends (before its TaskRemoved),
 * never derived from the best-effort bus. Kept in C, not as Lua tables, so a
 * long-running supervisor's record costs no garbage-collector work. Bounded:
 * past `max` names the record of the name that ended longest ago is dropped
 * (a controller running uniquely named jobs forever must not grow forever).
 * Owner: the supervisor; each record holds references to its strings. */
#ifndef TV_OUTCOMES_H
#define TV_OUTCOMES_H

#include <stdint.h>

#include "core/base/list.h"
#include "core/base/namemap.h"
#include "core/base/str.h"

typedef struct tv_outcome_rec {
  tv_str_t *name, *reason; /* reason may be NULL */
  uint64_t seq;            /* 1, 2, ...: the order tasks ended in */
  uint64_t at;             /* clock ms it ended */
  const char *kind;        /* its task kind's name (static), or NULL */
  uint32_t attempts;
  int32_t exit_code;
  uint8_t has_exit_code, end; /* end: tv_actor_end_t */
  struct tv_outcome_rec *hnext;
  tv_link_t age; /* in tv_outcomes_t.by_age */
} tv_outcome_rec_t;

typedef struct tv_outcomes {
  tv_namemap_t map;
  tv_link_t by_age; /* records, the one written longest ago first */
  uint64_t ended;   /* records written so far */
  uint64_t dropped; /* records dropped to stay within max */
  uint32_t max;     /* names kept; 0: none */
} tv_outcomes_t;

#define TV_OUTCOMES_DEFAULT 10000
#define TV_OUTCOMES_MAX (1u << 24)

void tv_outcomes_init(tv_outcomes_t *o, uint32_t max);
/* n tasks may end: room for min(n, max) records, made now (best effort). A
 * supervisor whose adds ran memory out still records each end in O(1). */
void tv_outcomes_expect(tv_outcomes_t *o, uint32_t n);
void tv_outcomes_free(tv_outcomes_t *o);
/* Records (or replaces) the outcome for `name` (of task kind `kind`, a static
 * string or NULL), ended at clock ms `at`. 0 or
 * TV_ENOMEM (then the previous record of that name, if any, stays). */
int tv_outcomes_record(tv_outcomes_t *o, tv_str_t *name, uint8_t end, uint32_t attempts,
                       tv_str_t *reason, int has_exit_code, int32_t exit_code, uint64_t at,
                       const char *kind);
static inline const tv_outcome_rec_t *tv_outcomes_find(const tv_outcomes_t *o,
                                                       const char *name, size_t len) {
  return tv_namemap_find(&o->map, name, len);
}

#endif
