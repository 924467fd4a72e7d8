/* group.c - supervision groups: children started in order and stopped in
 * reverse order, the one_for_one / one_for_all / rest_for_one strategies
 * (holding and resuming siblings through the actors' group holds), and
 * escalation (the group stops its children and fails its attempt). */
#include "core/supervision/group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"
#include "core/supervision/actor_impl.h"

#define container_of tv_container_of

/* What the current attempt is doing. */
enum { P_IDLE, P_UP, P_RUNNING, P_HOLDING, P_STOPPING, P_KILLING };
/* A child slot: not added yet this attempt; added or resumed, not ready yet;
 * ready; asked to hold; held; asked to stop; ended for good. */
enum { C_NONE, C_STARTING, C_UP, C_HOLDING, C_HELD, C_STOPPING, C_GONE,
       C_REMAKE /* stopping, to be made afresh (tv_group_remake_child) */ };

static tv_group_t *of_parent(tv_parent_t *p) { return container_of(p, tv_group_t, parent); }
static tv_sup_t *sup_of(tv_group_t *g) { return tv_actor_env(&g->base.actor)->data; }

static uint64_t stop_deadline(tv_group_t *g) {
  return tv_sched_deadline(tv_actor_env(&g->base.actor)->sched, sup_of(g)->grace_ns);
}

static tv_group_slot_t *slot_of(tv_group_t *g, tv_actor_t *a) {
  uint32_t i = a->ext ? a->ext->index : UINT32_MAX;
  return i < g->n && g->slots[i].actor == a ? &g->slots[i] : NULL;
}

/* ---- the attempt's end ------------------------------------------------------ */

static void on_report(tv_work_t *w) {
  tv_group_t *g = container_of(w, tv_group_t, report);
  tv_outcome_t o = {TV_OUTCOME_OK, 0, 0, NULL, 0, NULL, 0};
  o.kind = (tv_outcome_kind_t)g->outcome;
  tv_str_t *reason = g->reason;
  g->reason = NULL;
  if (o.kind == TV_OUTCOME_FAIL) {
    o.msg = reason ? reason->s : "a child escalated; children stopped";
    o.msg_len = strlen(o.msg);
  }
  g->phase = P_IDLE;
  tv_task_done(&g->base, &o);
  tv_str_unref(reason);
}

/* Stops every child (reverse order), then reports `outcome`. The first
 * reason given is kept. */
static void begin_stop(tv_group_t *g, tv_outcome_kind_t outcome, tv_str_t *reason) {
  if (g->phase == P_IDLE) return;
  if (g->phase == P_STOPPING || g->phase == P_KILLING) {
    if (!g->reason && reason && g->outcome == TV_OUTCOME_FAIL) g->reason = tv_str_ref(reason);
    return;
  }
  g->phase = P_STOPPING;
  g->outcome = (uint8_t)outcome;
  g->reason = tv_str_ref(reason);
  g->cursor = g->n;
  g->again = 1; /* when called from inside a step */
}

/* ---- the steps -------------------------------------------------------------- */

static void keep_stopped(tv_group_t *g, tv_group_slot_t *s);
static void remade(tv_group_t *g, tv_group_slot_t *s);
/* Child i could not be made or added (`why` borrowed): a child being added
 * at run time is its caller's error (the group goes on); any other fails the
 * attempt (or cancels it when the supervisor is shutting down). */
static void child_failed(tv_group_t *g, uint32_t i, int rc, tv_str_t *why) {
  if (g->adding == i + 1) {
    g->slots[i].st = C_GONE;
    g->slots[i].removed = 1;
    g->add_rc = rc;
    tv_str_unref(g->add_err);
    g->add_err = tv_str_ref(why);
    g->again = 1; /* bring_up goes on past it */
    return;
  }
  tv_str_t *full = why ? tv_str_printf("%s; children stopped", why->s) : NULL;
  begin_stop(g, rc == TV_ESHUTDOWN ? TV_OUTCOME_CANCELED : TV_OUTCOME_FAIL, full);
  tv_str_unref(full);
}

static int add_child(tv_group_t *g, uint32_t i) {
  tv_group_child_t c;
  memset(&c, 0, sizeof c);
  tv_str_t *err = NULL;
  if (g->ops->make(g, i, &c, &err) != 0) {
    tv_str_t *why = tv_str_printf("cannot make child %u: %s", i + 1, err ? err->s : "?");
    child_failed(g, i, TV_EINVAL, why);
    tv_str_unref(why);
    tv_str_unref(err);
    return -1;
  }
  tv_add_opts_t o = c.opts;
  char cycle[256] = "";
  o.parent = &g->parent;
  o.parent_data = g;
  o.index = i;
  o.cycle = cycle;
  o.cycle_cap = sizeof cycle;
  int rc = tv_sup_add_ex(sup_of(g), c.name->s, c.name->len, &c.policy, c.task, &o);
  for (uint32_t k = 0; k < c.opts.nafter; k++) tv_str_unref((tv_str_t *)c.opts.after[k]);
  free((void *)c.opts.after);
  if (rc != 0) {
    g->ops->unmake(g, c.task);
    tv_str_t *why = NULL;
    if (rc == TV_EEXIST)
      why = tv_str_printf("cannot start child '%s': EEXIST: a task of that name already exists "
                          "in the supervisor", c.name->s);
    else if (rc == TV_EINVAL && cycle[0])
      why = tv_str_printf("cannot start child '%s': EINVAL: 'after' would make a cycle: %s",
                          c.name->s, cycle);
    else if (rc != TV_ESHUTDOWN)
      why = tv_str_printf("cannot start child '%s': %s", c.name->s, tv_err_name(rc));
    child_failed(g, i, rc, why);
    tv_str_unref(why);
    tv_str_unref(c.name);
    return -1;
  }
  tv_str_unref(c.name);
  g->slots[i].actor = &c.task->actor;
  g->slots[i].st = C_STARTING;
  if (g->slots[i].keep) keep_stopped(g, &g->slots[i]);
  return 0;
}

static int all_gone(const tv_group_t *g) {
  for (uint32_t i = 0; i < g->n; i++)
    if (g->slots[i].st != C_GONE) return 0;
  return 1;
}

/* Starts (or resumes) children from the cursor on, each once the previous
 * one is ready. */
static void bring_up(tv_group_t *g) {
  while (g->cursor < g->n) {
    tv_group_slot_t *s = &g->slots[g->cursor];
    if (s->st == C_GONE || s->st == C_UP) {
      g->cursor++;
    } else if (s->st == C_NONE) {
      add_child(g, g->cursor);
      return; /* until it is ready (or the group fails) */
    } else if (s->st == C_HELD && s->actor->ext->opstop == TV_OPSTOP_HELD) {
      g->cursor++; /* an operator stopped it: it stays stopped (operator.c) */
    } else if (s->st == C_HELD) {
      uint64_t delay = g->first_delay;
      g->first_delay = 0;
      s->st = C_STARTING;
      tv_actor_resume(s->actor, tv_ms_ceil(delay));
      return;
    } else {
      return; /* starting, holding or stopping: wait */
    }
  }
  g->phase = P_RUNNING;
  if (!g->ready_sent) {
    g->ready_sent = 1;
    tv_task_ready(&g->base);
  }
  if (!g->keep_open && all_gone(g)) { /* every child ended by itself */
    g->phase = P_STOPPING;
    g->outcome = TV_OUTCOME_OK;
    g->cursor = 0;
    g->again = 1;
  }
}

/* A strategy restart: holds the affected children from the last down to
 * `lo`, one at a time; then brings them up again from `lo`. A child that is
 * never restarted (OTP's temporary) is stopped for good instead. */
static void hold_down(tv_group_t *g) {
  while (g->cursor > g->lo) {
    tv_group_slot_t *s = &g->slots[g->cursor - 1];
    if (s->st == C_UP || s->st == C_STARTING) {
      tv_actor_t *a = s->actor;
      if (a->policy->restart == TV_RESTART_NEVER) {
        s->st = C_STOPPING;
        tv_actor_cancel(a, stop_deadline(g));
      } else {
        s->st = C_HOLDING;
        tv_actor_hold(a, stop_deadline(g));
      }
      continue; /* it may be held or gone already */
    }
    if (s->st == C_HOLDING || s->st == C_STOPPING || s->st == C_REMAKE) return;
    g->cursor--;
  }
  g->phase = P_UP;
  g->cursor = g->lo;
  g->again = 1;
}

/* Stops the children from the last to the first, each after the previous is
 * gone (all at once when killing), then reports. */
static void stop_down(tv_group_t *g) {
  while (g->cursor > 0) {
    tv_group_slot_t *s = &g->slots[g->cursor - 1];
    if (s->st == C_GONE || s->st == C_NONE) {
      g->cursor--;
    } else if (s->st != C_STOPPING || !s->actor->cancel_requested) {
      s->st = C_STOPPING;
      tv_actor_cancel(s->actor, stop_deadline(g));
    } else if (g->phase == P_KILLING) {
      g->cursor--; /* killed already; all are waited for below */
    } else {
      return;
    }
  }
  for (uint32_t i = 0; i < g->n; i++)
    if (g->slots[i].st != C_GONE && g->slots[i].st != C_NONE) return;
  if (!tv_work_queued(&g->report))
    tv_work_defer(tv_actor_env(&g->base.actor)->sched, &g->report, TV_LANE_NEXT);
}

static void step(tv_group_t *g) {
  switch (g->phase) {
    case P_UP: bring_up(g); break;
    case P_HOLDING: hold_down(g); break;
    case P_STOPPING:
    case P_KILLING: stop_down(g); break;
    default: break;
  }
}

/* Callbacks arrive from inside the steps' own calls: one pass at a time. */
static void drive(tv_group_t *g) {
  if (g->driving) {
    g->again = 1;
    return;
  }
  g->driving = 1;
  do {
    g->again = 0;
    step(g);
  } while (g->again);
  g->driving = 0;
}

/* ---- the children's parent ----------------------------------------------------- */

static int on_restart(tv_parent_t *p, tv_actor_t *child, uint64_t delay_ns) {
  tv_group_t *g = of_parent(p);
  tv_group_slot_t *s = slot_of(g, child);
  if (!s) return 0;
  if (g->phase == P_STOPPING || g->phase == P_KILLING) {
    s->st = C_HOLDING; /* stopped when its turn comes */
    return 1;
  }
  if (g->strategy == TV_ONE_FOR_ONE) {
    s->st = C_STARTING;
    return 0;
  }
  uint32_t lo = g->strategy == TV_ONE_FOR_ALL ? 0 : child->ext->index;
  s->st = C_HOLDING;
  if (g->phase == P_HOLDING) {
    if (lo < g->lo) g->lo = lo;
  } else {
    g->phase = P_HOLDING;
    g->lo = lo;
    g->first_delay = delay_ns;
  }
  g->cursor = g->n;
  drive(g);
  return 1;
}

static void on_escalate(tv_parent_t *p, tv_actor_t *child, tv_str_t *reason, int own) {
  tv_group_t *g = of_parent(p);
  tv_str_t *why;
  if (own) {
    why = tv_str_printf("child '%s' escalated: %s; children stopped", child->name->s,
                        reason ? reason->s : "its budget was exceeded");
  } else {
    char win[48];
    tv_fmt_duration(p->cfg.within_ns, win, sizeof win);
    why = tv_str_printf("restart intensity exceeded: more than %u restarts within %s (%s); "
                        "children stopped", p->cfg.max, win, p->what);
  }
  begin_stop(g, TV_OUTCOME_FAIL, why);
  tv_str_unref(why);
  drive(g);
}

static void on_ready(tv_parent_t *p, tv_actor_t *child) {
  tv_group_t *g = of_parent(p);
  tv_group_slot_t *s = slot_of(g, child);
  if (!s || s->st != C_STARTING) return;
  s->st = C_UP;
  drive(g);
}

static void on_held(tv_parent_t *p, tv_actor_t *child) {
  tv_group_t *g = of_parent(p);
  tv_group_slot_t *s = slot_of(g, child);
  if (!s || s->st == C_STOPPING) return;
  if (child->ext->opstop == TV_OPSTOP_RESTART) { /* an operator's restart (operator.c) */
    child->ext->opstop = TV_OPSTOP_NONE; /* it starts again: now, or with its siblings */
    if (g->phase == P_RUNNING) {
      s->st = C_STARTING;
      tv_actor_resume(child, 0);
      return;
    }
  }
  s->st = C_HELD;
  drive(g);
}

/* OTP's auto_shutdown: a significant child ended by itself (its slot is
 * gone); the group stops the rest in reverse order and completes. */
static void auto_shutdown(tv_group_t *g, tv_actor_t *child) {
  int mode = g->parent.auto_shutdown;
  if (g->phase == P_IDLE || g->phase == P_STOPPING || g->phase == P_KILLING) return;
  if (mode == TV_AUTO_ALL_SIGNIFICANT)
    for (uint32_t i = 0; i < g->n; i++)
      if (g->slots[i].sig && g->slots[i].st != C_GONE) return; /* one is left (or to start) */
  tv_str_t *why = tv_auto_shutdown_reason(child, mode);
  tv_event_t ev = tv_actor_event(&g->base.actor, TV_EV_AUTO_SHUTDOWN);
  tv_event_set_reason(&ev, why);
  tv_actor_publish(&g->base.actor, &ev);
  tv_str_unref(why);
  begin_stop(g, TV_OUTCOME_OK, NULL);
}

static void on_finished(tv_parent_t *p, tv_actor_t *child) {
  tv_group_t *g = of_parent(p);
  tv_group_slot_t *s = slot_of(g, child);
  if (!s) return;
  if (s->st == C_REMAKE) {
    remade(g, s);
    return;
  }
  s->actor = NULL;
  s->st = C_GONE;
  if (child->end == TV_END_ESCALATED) begin_stop(g, TV_OUTCOME_FAIL, NULL); /* why: escalate() */
  else if (s->sig && p->auto_shutdown != TV_AUTO_NEVER && tv_actor_ended_by_itself(child))
    auto_shutdown(g, child);
  if (g->keep_open) s->removed = 1; /* OTP deletes an ended simple_one_for_one child */
  if (g->phase == P_RUNNING && !g->keep_open && all_gone(g)) {
    g->phase = P_STOPPING;
    g->outcome = TV_OUTCOME_OK;
    g->cursor = 0;
  }
  drive(g);
}

static const tv_parent_ops_t group_parent_ops = {on_restart, on_escalate, on_ready, on_held,
                                                 on_finished};

/* ---- the group as a task ------------------------------------------------------- */

static void group_start(tv_task_t *t, uint32_t attempt) {
  tv_group_t *g = (tv_group_t *)t;
  tv_actor_t *a = &t->actor;
  (void)attempt;
  tv_actor_ext_t *x = tv_actor_ext(a); /* a group says itself when it is up */
  if (x) {
    x->self = a;
    tv_actor_set_hooks(a, 0, 1, 0, 0);
  }
  snprintf(g->what, sizeof g->what, "group '%s'", a->name->s);
  tv_budget_reset(&g->parent.budget); /* a restarted group starts afresh (OTP) */
  for (uint32_t i = 0; i < g->n; i++) {
    tv_group_slot_t *s = &g->slots[i];
    /* a restarted template group starts empty (OTP); one added while it was
     * between attempts (never started: C_NONE) starts now */
    if (g->keep_open && s->st != C_NONE) s->removed = 1;
    s->actor = NULL;
    s->keep = 0;
    s->st = s->removed ? C_GONE : C_NONE;
  }
  g->phase = P_UP;
  g->cursor = g->lo = 0;
  g->first_delay = 0;
  g->outcome = TV_OUTCOME_OK;
  g->ready_sent = 0;
  drive(g);
}

static void group_cancel(tv_task_t *t) {
  tv_group_t *g = (tv_group_t *)t;
  begin_stop(g, TV_OUTCOME_CANCELED, NULL);
  drive(g);
}

static void group_kill(tv_task_t *t) {
  tv_group_t *g = (tv_group_t *)t;
  if (g->phase == P_IDLE) return;
  if (g->phase != P_STOPPING) g->outcome = TV_OUTCOME_CANCELED;
  g->phase = P_KILLING;
  g->cursor = g->n;
  for (uint32_t i = g->n; i-- > 0;) {
    tv_group_slot_t *s = &g->slots[i];
    if (s->st == C_GONE || s->st == C_NONE) continue;
    s->st = C_STOPPING;
    tv_actor_kill(s->actor); /* may finish it at once */
  }
  drive(g);
}

static void group_release(tv_task_t *t) {
  tv_group_t *g = (tv_group_t *)t;
  tv_work_cancel(&g->report);
  g->phase = P_IDLE;
  g->ops->release(g);
}

/* For the supervisor's `after` cycle check: a group not ready yet waits for
 * its children from the one it is bringing up on (all of them when it has not
 * started, or is ending an attempt: the next starts them afresh). */
static void group_awaits(tv_task_t *t, tv_await_fn fn, void *arg) {
  tv_group_t *g = (tv_group_t *)t;
  uint32_t from = g->phase == P_UP ? g->cursor : g->phase == P_HOLDING ? g->lo : 0;
  int live = g->phase == P_UP || g->phase == P_HOLDING;
  if (g->phase == P_RUNNING || t->actor.ready) return;
  uint32_t k = 0;
  for (uint32_t i = from; i < g->n; i++) {
    const tv_group_slot_t *s = &g->slots[i];
    if (live && (s->st == C_GONE || s->st == C_UP)) continue;
    if (live && s->st != C_NONE && s->actor) {
      fn(arg, s->actor, NULL, NULL);
      continue;
    }
    while (k < g->nwaits && g->waits[k].child < i) k++;
    for (uint32_t j = k; j < g->nwaits && g->waits[j].child == i; j++)
      fn(arg, NULL, g->waits[j].name, g->waits[j].via);
  }
}

static const tv_task_ops_t group_task_ops = {group_start, group_cancel, group_kill, group_release,
                                             NULL,        NULL,         NULL,      group_awaits,
                                             NULL,        NULL,         NULL,      "group"};

int tv_group_init(tv_group_t *g, const tv_group_ops_t *ops, tv_strategy_t strategy, uint32_t n,
                  const tv_budget_cfg_t *budget) {
  memset(g, 0, sizeof *g);
  tv_task_init(&g->base, &group_task_ops);
  g->slots = calloc(n ? n : 1, sizeof *g->slots);
  if (!g->slots) return TV_ENOMEM;
  g->cap = n ? n : 1;
  g->ops = ops;
  g->n = n;
  g->strategy = (uint8_t)strategy;
  g->parent.ops = &group_parent_ops;
  g->parent.cfg = *budget;
  strcpy(g->what, "group");
  g->parent.what = g->what;
  g->parent.owner = &g->base.actor;
  tv_budget_init(&g->parent.budget);
  tv_work_init(&g->report, on_report);
  return 0;
}

#define MAX_SLOTS 1000000u /* children a group may have had (a template group reuses them) */

int tv_group_add_child(tv_group_t *g, uint8_t sig, uint32_t *index, tv_str_t **err) {
  *err = NULL;
  if (g->phase == P_STOPPING || g->phase == P_KILLING) return TV_ESHUTDOWN;
  uint32_t i = g->n;
  if (g->keep_open) /* a free slot: order means nothing here (OTP stops these in any order) */
    for (uint32_t k = 0; k < g->n; k++)
      if (g->slots[k].removed && g->slots[k].st == C_GONE) {
        i = k;
        break;
      }
  if (i == g->n) {
    if (g->n == MAX_SLOTS) return TV_EFULL;
    if (g->n == g->cap) {
      uint32_t cap = g->cap * 2 > MAX_SLOTS ? MAX_SLOTS : g->cap * 2;
      tv_group_slot_t *more = realloc(g->slots, cap * sizeof *more);
      if (!more) return TV_ENOMEM;
      g->slots = more;
      g->cap = cap;
    }
    g->n++;
  }
  g->slots[i] = (tv_group_slot_t){.actor = NULL, .st = C_NONE, .sig = sig};
  *index = i;
  if (g->phase != P_RUNNING && g->phase != P_UP) {
    if (g->phase == P_IDLE) g->slots[i].st = C_NONE; /* the next attempt starts it */
    return 0;
  }
  if (g->phase == P_UP && i >= g->cursor) return 0; /* in its turn */
  g->phase = P_UP;
  g->cursor = i;
  g->adding = i + 1;
  g->add_rc = 0;
  drive(g);
  g->adding = 0;
  if (g->add_rc) {
    *err = g->add_err;
    g->add_err = NULL;
    return g->add_rc;
  }
  return 0;
}

int tv_group_remove_child(tv_group_t *g, uint32_t i) {
  if (i >= g->n || g->slots[i].removed) return TV_ENOENT;
  tv_group_slot_t *s = &g->slots[i];
  s->removed = 1;
  if (s->actor && s->st != C_GONE) {
    s->st = C_STOPPING;
    tv_actor_cancel(s->actor, stop_deadline(g)); /* may finish it at once */
  } else {
    s->st = C_GONE;
  }
  drive(g);
  return 0;
}

tv_group_t *tv_group_of(tv_task_t *t) {
  return t && t->ops == &group_task_ops ? (tv_group_t *)t : NULL;
}

void tv_group_fini(tv_group_t *g) {
  tv_group_drop_waits(g);
  tv_work_cancel(&g->report);
  tv_budget_free(&g->parent.budget);
  free(g->slots);
  g->slots = NULL;
  tv_str_unref(g->reason);
  g->reason = NULL;
  tv_str_unref(g->add_err);
  g->add_err = NULL;
  tv_task_fini(&g->base);
}

/* ---- an operator's start of a child (operator.c) ----------------------------- */

int tv_group_resume_child(tv_group_t *g, tv_actor_t *a) {
  tv_group_slot_t *s = slot_of(g, a);
  if (!s || s->st != C_HELD || (g->phase != P_RUNNING && g->phase != P_UP)) return TV_EBUSY;
  s->st = C_STARTING;
  tv_actor_resume(a, 0);
  return 0;
}

/* ---- a child made afresh (a reload changed its spec: operator.c) ---------------- */

/* The old child is gone: its slot is made again as its strategy says (alone,
 * or once its siblings are held: hold_down goes on). */
static void remade(tv_group_t *g, tv_group_slot_t *s) {
  s->actor = NULL;
  s->st = C_NONE;
  if (g->phase == P_RUNNING) { /* one_for_one: bring it up alone */
    g->phase = P_UP;
    g->cursor = (uint32_t)(s - g->slots);
  }
  drive(g);
}

/* A remade child of an operator-stopped one starts stopped (held before its
 * first attempt, as operator.c holds one). */
static void keep_stopped(tv_group_t *g, tv_group_slot_t *s) {
  tv_actor_ext_t *x = tv_actor_ext(s->actor);
  s->keep = 0;
  if (!x) return; /* no memory: it runs */
  x->self = s->actor;
  x->opstop = TV_OPSTOP_HELD;
  tv_str_t *why = tv_str_printf("operator");
  tv_event_t ev = tv_event_make(TV_EV_TASK_STOPPED);
  ev.task = s->actor->name;
  ev.fields = TV_F_TASK | TV_F_ATTEMPT;
  if (why) ev.reason = why, ev.fields |= TV_F_REASON;
  tv_bus_publish(tv_actor_env(s->actor)->bus, &ev);
  tv_str_unref(why);
  tv_actor_hold(s->actor, stop_deadline(g));
}

int tv_group_remake_child(tv_group_t *g, uint32_t i, int keep) {
  if (g->phase != P_RUNNING || i >= g->n) return TV_EBUSY;
  tv_group_slot_t *s = &g->slots[i];
  s->keep = (uint8_t)(keep != 0);
  if (g->strategy != TV_ONE_FOR_ONE) { /* its siblings restart with it, as a failure would */
    g->phase = P_HOLDING;
    g->lo = g->strategy == TV_ONE_FOR_ALL ? 0 : i;
    g->cursor = g->n;
    g->first_delay = 0;
  }
  if (s->st == C_GONE || s->st == C_NONE || !s->actor) {
    s->st = C_REMAKE;
    remade(g, s);
    return 0;
  }
  s->st = C_REMAKE;
  tv_actor_cancel(s->actor, stop_deadline(g)); /* (may be gone at once: remade) */
  drive(g);
  return 0;
}
