/* outcomes.c - the last outcome per task name. */
#include "outcomes.h"

#include <stddef.h>
#include <stdlib.h>

#include "error.h"

void tv_outcomes_init(tv_outcomes_t *o) {
  tv_namemap_init(&o->map, offsetof(tv_outcome_rec_t, name), offsetof(tv_outcome_rec_t, hnext));
  o->ended = 0;
}

static void rec_free(void *item, void *arg) {
  tv_outcomes_t *o = arg;
  tv_outcome_rec_t *r = item;
  tv_namemap_remove(&o->map, r);
  tv_str_unref(r->name);
  tv_str_unref(r->reason);
  free(r);
}

static int any(void *item, void *arg) { return 1; }

void tv_outcomes_free(tv_outcomes_t *o) {
  tv_namemap_each(&o->map, any, rec_free, o);
  tv_namemap_free(&o->map);
}

int tv_outcomes_record(tv_outcomes_t *o, tv_str_t *name, uint8_t end, uint32_t attempts,
                       tv_str_t *reason, int has_exit_code, int32_t exit_code) {
  tv_outcome_rec_t *r = tv_namemap_find(&o->map, name->s, name->len);
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r) return TV_ENOMEM;
    r->name = tv_str_ref(name);
    if (tv_namemap_insert(&o->map, r) != 0) {
      tv_str_unref(r->name);
      free(r);
      return TV_ENOMEM;
    }
  }
  tv_str_unref(r->reason);
  r->reason = tv_str_ref(reason);
  r->seq = ++o->ended;
  r->attempts = attempts;
  r->end = end;
  r->has_exit_code = (uint8_t)(has_exit_code != 0);
  r->exit_code = exit_code;
  return 0;
}
