/* status.c - the status views of status.h, read from the actor (the state
 * and time tv_actor_note keeps, plus what its fields say now) and, for tasks
 * that have ended, from the outcome record. Above the supervisor: reads its
 * registry and outcomes, changes nothing. */
#include "core/supervision/status.h"

#include "core/supervision/actor.h"
#include "core/supervision/group.h"
#include "core/supervision/supervisor.h"
#include "core/supervision/task.h"

const char *tv_status_name(int state) {
  static const char *const names[TV_ST__COUNT] = {"STARTING", "RUNNING", "BACKOFF", "STOPPING",
                                                  "STOPPED",  "EXITED",  "FATAL"};
  return state >= 0 && state < TV_ST__COUNT ? names[state] : "?";
}

const char *tv_cause_name(int cause) {
  static const char *const names[TV_CAUSE__COUNT] = {"exit_code", "signal", "timeout", "error"};
  return cause >= 0 && cause < TV_CAUSE__COUNT ? names[cause] : "?";
}

void tv_status_of_actor(const tv_sup_t *s, const tv_actor_t *a, tv_status_t *o) {
  const tv_task_t *t = tv_container_of(a, tv_task_t, actor);
  const tv_actor_ext_t *x = a->ext;
  *o = (tv_status_t){0};
  o->name = a->name;
  o->kind = t->ops->kind ? t->ops->kind : "task";
  o->registered = 1;
  o->state = a->shown;
  o->since = a->since;
  o->attempt = a->attempt;
  o->restarts = a->attempt ? a->attempt - 1 : 0;
  o->ready = a->ready && a->state == TV_ACTOR_RUNNING;
  const tv_parent_t *p = x ? x->parent : NULL;
  if (p && p->owner) o->group = p->owner->name;
  /* what its fields say now, beyond the events */
  int opstop = x && x->opstop == TV_OPSTOP_HELD;
  o->operator_stopped = (uint8_t)opstop;
  if (opstop) {
    o->state = a->state == TV_ACTOR_HELD ? TV_ST_STOPPED : TV_ST_STOPPING;
  } else if (a->state == TV_ACTOR_HELD && !tv_status_final(o->state)) {
    o->state = TV_ST_BACKOFF; /* its group restarts it with its siblings */
  } else if ((a->cancel_requested || s->state == TV_SUP_STOPPING) && !tv_status_final(o->state)) {
    o->state = TV_ST_STOPPING;
  }
  if (a->state == TV_ACTOR_RUNNING) {
    o->started = x && x->started_at ? x->started_at : a->since;
    o->pid = t->ops->pid ? t->ops->pid(t) : 0;
  }
  if (a->state == TV_ACTOR_BACKOFF && a->timer.slot) o->next_retry = a->timer.due;
  if (x && x->last_at) {
    o->has_last = 1;
    o->last_at = x->last_at;
    o->last_failed = x->last_failed;
    o->last_has_code = x->last_has_code;
    o->last_code = x->last_code;
    o->last_signal = x->last_signal;
    o->last_reason = x->last_reason;
    for (int i = 0; i < TV_CAUSE__COUNT; i++) o->failures[i] = x->failures[i];
  } else if (a->attempt > (a->state == TV_ACTOR_RUNNING ? 1u : 0u)) {
    o->has_last = 1; /* it never failed: every attempt so far ended well (time unknown) */
  }
}

static void status_of_outcome(const tv_outcome_rec_t *r, tv_status_t *o) {
  *o = (tv_status_t){0};
  o->name = r->name;
  o->kind = r->kind ? r->kind : "task";
  switch (r->end) {
  case TV_END_COMPLETED: o->state = TV_ST_EXITED; break;
  case TV_END_CANCELLED:
  case TV_END_FORCED: o->state = TV_ST_STOPPED; break;
  default: o->state = TV_ST_FATAL; break;
  }
  o->since = o->last_at = r->at;
  o->attempt = r->attempts;
  o->restarts = r->attempts ? r->attempts - 1 : 0;
  o->has_last = 1;
  o->last_failed = o->state == TV_ST_FATAL;
  o->last_has_code = r->has_exit_code;
  o->last_code = r->exit_code;
  o->last_reason = r->end == TV_END_COMPLETED ? NULL : r->reason; /* (not "policy_exhausted_success") */
}

int tv_sup_status(const tv_sup_t *s, const char *name, size_t len, tv_status_t *out) {
  const tv_actor_t *a = tv_sup_find(s, name, len);
  if (a) {
    tv_status_of_actor(s, a, out);
    return 1;
  }
  const tv_outcome_rec_t *r = tv_outcomes_find(&s->outcomes, name, len);
  if (!r) return 0;
  status_of_outcome(r, out);
  return 2;
}

typedef struct each {
  const tv_sup_t *s;
  int (*fn)(void *arg, const tv_status_t *st);
  void *arg;
  int rc;
} each_t;

static void visit(void *item, void *arg) {
  each_t *e = arg;
  if (e->rc) return;
  tv_status_t st;
  tv_status_of_actor(e->s, item, &st);
  e->rc = e->fn(e->arg, &st);
}

int tv_sup_each_status(const tv_sup_t *s, int (*fn)(void *arg, const tv_status_t *st),
                       void *arg) {
  each_t e = {s, fn, arg, 0};
  tv_namemap_visit(&s->reg, visit, &e);
  return e.rc;
}
