/* ext.c - an actor's optional state (budgets, schedules, dependencies,
 * groups, hooks): made on first use, so a plain task carries none of it.
 * The bottom of the retry loop's files: calls nothing above it. */
#include <stdlib.h>

#include "core/supervision/actor_impl.h"

tv_actor_ext_t *tv_actor_ext(tv_actor_t *a) {
  if (a->ext) return a->ext;
  tv_actor_ext_t *x = calloc(1, sizeof *x);
  if (!x) return NULL;
  tv_budget_init(&x->budget);
  tv_list_init(&x->blocked);
  a->ext = x;
  return x;
}

void tv_actor_ext_free(tv_actor_t *a) {
  tv_actor_ext_t *x = a->ext;
  if (!x) return;
  tv_list_unlink(&x->blocked);
  tv_budget_free(&x->budget);
  for (uint32_t i = 0; i < x->nafter; i++) {
    tv_str_unref(x->after[i]);
    tv_str_unref(x->needs[i]);
  }
  free(x->after);
  tv_str_unref(x->then.reason);
  free(x);
  a->ext = NULL;
}

void tv_actor_set_hooks(tv_actor_t *a, int hooks, int explicit_ready, int completed_ready,
                        int decide) {
  tv_actor_ext_t *x = a->ext;
  if (!x) return;
  if (hooks) x->hook_flags |= HF_HOOKS;
  if (explicit_ready) x->hook_flags |= HF_EXPLICIT_READY;
  if (explicit_ready && completed_ready) x->hook_flags |= HF_COMPLETED_READY;
  if (decide) x->hook_flags |= HF_DECIDE;
}

/* Clock ms the running attempt's watchdog expires, or UINT64_MAX. */
uint64_t tv_actor_watchdog_deadline(const tv_actor_t *a) {
  if (a->state != TV_ACTOR_RUNNING || !a->ext || !a->ext->watchdog_ms) return UINT64_MAX;
  return a->ext->alive_at + a->ext->watchdog_ms;
}

/* Clock ms of the running attempt's timeout or watchdog, or UINT64_MAX. */
uint64_t tv_actor_attempt_deadline(const tv_actor_t *a) {
  uint64_t wd = tv_actor_watchdog_deadline(a);
  if (a->state != TV_ACTOR_RUNNING || !a->policy->timeout_ns) return wd;
  uint64_t ms = tv_ms_ceil(a->policy->timeout_ns);
  uint64_t at = a->ext ? a->ext->started_at : 0; /* timeouts have an ext */
  uint64_t due = ms > UINT64_MAX - at ? UINT64_MAX : at + ms;
  return due < wd ? due : wd;
}
