/* outcomes.c - the last outcome per task name. */
#include "core/events/outcomes.h"

#include <stddef.h>
#include <stdlib.h>

#include "core/base/error.h"

void tv_outcomes_init(tv_outcomes_t *o, uint32_t max) {
  tv_namemap_init(&o->map, offsetof(tv_outcome_rec_t, name), offsetof(tv_outcome_rec_t, hnext));
  tv_list_init(&o->by_age);
  o->ended = o->dropped = 0;
  o->max = max > TV_OUTCOMES_MAX ? TV_OUTCOMES_MAX : max;
}

void tv_outcomes_expect(tv_outcomes_t *o, uint32_t n) {
  uint32_t want = n < o->max ? n : o->max;
  if (o->map.nbuckets < want) tv_namemap_reserve_for(&o->map, want);
}

static void rec_free(void *item, void *arg) {
  tv_outcomes_t *o = arg;
  tv_outcome_rec_t *r = item;
  tv_namemap_remove(&o->map, r);
  tv_list_unlink(&r->age);
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
                       tv_str_t *reason, int has_exit_code, int32_t exit_code, uint64_t at,
                       const char *kind) {
  o->ended++; /* counted even when not kept: the order stays the order of ends */
  tv_outcome_rec_t *r = tv_namemap_find(&o->map, name->s, name->len);
  if (!r) {
    if (o->max == 0) {
      o->dropped++;
      return 0;
    }
    if (o->map.count >= o->max) { /* the oldest makes room (and is reused) */
      r = tv_container_of(o->by_age.next, tv_outcome_rec_t, age);
      tv_namemap_remove(&o->map, r);
      tv_str_unref(r->name);
      r->name = NULL;
      o->dropped++;
    } else {
      r = calloc(1, sizeof *r);
      if (!r) {
        o->dropped++; /* not kept, for want of memory */
        return TV_ENOMEM;
      }
      tv_list_init(&r->age);
    }
    r->name = tv_str_ref(name);
    if (tv_namemap_insert(&o->map, r) != 0) {
      o->dropped++;
      tv_list_unlink(&r->age);
      tv_str_unref(r->name);
      tv_str_unref(r->reason);
      free(r);
      return TV_ENOMEM;
    }
  }
  tv_list_unlink(&r->age);
  tv_list_push(&o->by_age, &r->age);
  tv_str_unref(r->reason);
  r->reason = tv_str_ref(reason);
  r->seq = o->ended;
  r->attempts = attempts;
  r->end = end;
  r->has_exit_code = (uint8_t)(has_exit_code != 0);
  r->exit_code = exit_code;
  r->at = at;
  r->kind = kind;
  return 0;
}
