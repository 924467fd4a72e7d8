/* controller.c - slots, their queues, and the events that narrate them. */
#include "core/supervision/controller.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"

#define ARROW "\xe2\x86\x92" /* U+2192, as the reference writes transitions */

/* ---- events ------------------------------------------------------------------ */

static void publish(tv_ctl_t *c, tv_event_kind_t kind, tv_str_t *slot, tv_str_t *task,
                    tv_str_t *reason) {
  tv_event_t ev = tv_event_make(kind);
  ev.slot = slot;
  ev.fields = TV_F_SLOT;
  if (task) ev.task = task, ev.fields |= TV_F_TASK;
  if (reason) ev.reason = reason, ev.fields |= TV_F_REASON;
  tv_bus_publish(&c->sup->bus, &ev);
}

/* Reasons are only formatted for someone to read. */
static int heard(const tv_ctl_t *c) { return c->sup->bus.nsubs != 0; }

static void transition(tv_ctl_t *c, tv_slot_t *sl, tv_str_t *task, int from, int to,
                       const char *why) {
  tv_str_t *r = !heard(c) ? NULL : tv_str_printf("%s" ARROW "%s%s", tv_slot_status_name(from),
                              tv_slot_status_name(to), why ? why : "");
  publish(c, TV_EV_CONTROLLER_SLOT_TRANSITION, sl->name, task, r);
  tv_str_unref(r);
}

/* ---- slots -------------------------------------------------------------------- */

static tv_slot_t *slot_new(tv_ctl_t *c, const char *name, size_t len) {
  tv_slot_t *sl = calloc(1, sizeof *sl);
  if (!sl) return NULL;
  sl->name = tv_str_new(name, len);
  if (!sl->name || tv_namemap_insert(&c->slots, sl) != 0) {
    tv_str_unref(sl->name);
    free(sl);
    return NULL;
  }
  sl->status = TV_SLOT_IDLE;
  return sl;
}

/* An idle slot with nothing queued is not kept. */
static void slot_gc(tv_ctl_t *c, tv_slot_t *sl) {
  if (sl->status != TV_SLOT_IDLE || sl->head) return;
  tv_namemap_remove(&c->slots, sl);
  tv_str_unref(sl->name);
  free(sl);
}

static void req_free(tv_ctl_req_t *r, int release) {
  if (release) r->task->ops->release(r->task);
  tv_str_unref(r->name);
  free(r);
}

static tv_ctl_req_t *pop(tv_slot_t *sl) {
  tv_ctl_req_t *r = sl->head;
  if (!r) return NULL;
  sl->head = r->next;
  if (!sl->head) sl->tail = NULL;
  sl->depth--;
  r->next = NULL;
  return r;
}

static void push(tv_slot_t *sl, tv_ctl_req_t *r) {
  r->next = NULL;
  if (sl->tail)
    sl->tail->next = r;
  else
    sl->head = r;
  sl->tail = r;
  sl->depth++;
}

/* Drops a queued request with ControllerRejected. */
static void drop(tv_ctl_t *c, tv_slot_t *sl, tv_ctl_req_t *r, tv_str_t *reason) {
  publish(c, TV_EV_CONTROLLER_REJECTED, sl->name, r->name, reason);
  req_free(r, 1);
}

/* Registers the task and makes it the slot's running one. 0, or the
 * supervisor's error (the caller keeps the task). */
static int start(tv_ctl_t *c, tv_slot_t *sl, const char *name, size_t len,
                 const tv_policy_t *p, tv_task_t *task) {
  int rc = tv_sup_add(c->sup, name, len, p, task);
  if (rc != 0) return rc;
  sl->actor = &task->actor;
  sl->running = tv_str_ref(task->actor.name);
  sl->started = tv_sched_now(c->sup->sched);
  sl->status = TV_SLOT_RUNNING;
  tv_namemap_insert(&c->running, sl); /* cannot fail: buckets reserved in tv_ctl_new */
  return 0;
}

static tv_str_t *add_failed(int rc, const tv_str_t *name) {
  return tv_str_printf("add_failed: %s: task '%s' could not be added", tv_err_name(rc),
                       name->s);
}

/* The slot just became idle: start its next queued request, unless the
 * supervisor no longer accepts work. */
static void advance(tv_ctl_t *c, tv_slot_t *sl) {
  tv_ctl_req_t *r;
  while (sl->status == TV_SLOT_IDLE && tv_sup_accepting(c->sup) && (r = pop(sl))) {
    int rc = start(c, sl, r->name->s, r->name->len, &r->policy, r->task);
    if (rc == 0) {
      transition(c, sl, sl->running, TV_SLOT_IDLE, TV_SLOT_RUNNING, NULL);
      req_free(r, 0); /* the supervisor holds the task now */
    } else {
      tv_str_t *why = add_failed(rc, r->name);
      drop(c, sl, r, why);
      tv_str_unref(why);
    }
  }
  slot_gc(c, sl);
}

/* Calls fn(slot, arg) on every kept slot pending(slot, arg) picks, in name
 * order; without memory for the sorted list, in any order. fn may drop its
 * slot. */
static void each_slot(tv_ctl_t *c, int (*pending)(void *sl, void *arg),
                      void (*fn)(void *sl, void *arg), void *arg) {
  uint32_t n;
  tv_slot_t **all = tv_ctl_slots(c, &n);
  if (!all) {
    tv_namemap_each(&c->slots, pending, fn, arg);
    return;
  }
  for (uint32_t i = 0; i < n; i++)
    if (pending(all[i], arg)) fn(all[i], arg);
  free(all);
}

/* ---- supervisor hooks ----------------------------------------------------- */

static void on_removed(tv_sup_t *s, tv_actor_t *a) {
  tv_ctl_t *c = s->upper;
  tv_slot_t *sl = tv_namemap_find(&c->running, a->name->s, a->name->len);
  if (!sl || sl->actor != a) return; /* not admitted through a slot */
  tv_namemap_remove(&c->running, sl);
  tv_str_t *task = sl->running;
  int from = sl->status;
  sl->running = NULL;
  sl->actor = NULL;
  sl->status = TV_SLOT_IDLE;
  transition(c, sl, task, from, TV_SLOT_IDLE, NULL);
  tv_str_unref(task);
  advance(c, sl);
}

typedef struct {
  tv_ctl_t *c;
  tv_str_t *why;
  const char *name; /* tv_ctl_unqueue: the name to purge */
  size_t len;
  uint32_t removed;
} slot_op_t;

static int has_queue(void *sl, void *arg) { return ((tv_slot_t *)sl)->head != NULL; }

static void drop_queue(void *x, void *arg) {
  slot_op_t *op = arg;
  tv_slot_t *sl = x;
  tv_ctl_req_t *r;
  while ((r = pop(sl))) drop(op->c, sl, r, op->why);
  slot_gc(op->c, sl);
}

static void on_stopping(tv_sup_t *s) {
  slot_op_t op = {s->upper, NULL, NULL, 0, 0};
  op.why = tv_str_printf("shutdown: queued work is not started once shutdown has begun");
  each_slot(op.c, has_queue, drop_queue, &op);
  tv_str_unref(op.why);
}

/* ---- public ------------------------------------------------------------------- */

int tv_ctl_new(tv_ctl_t **out, tv_sup_t *sup, uint32_t max_slot_queue) {
  tv_ctl_t *c = calloc(1, sizeof *c);
  if (!c) return TV_ENOMEM;
  c->sup = sup;
  c->max_slot_queue = max_slot_queue;
  tv_namemap_init(&c->slots, offsetof(tv_slot_t, name), offsetof(tv_slot_t, hnext));
  tv_namemap_init(&c->running, offsetof(tv_slot_t, running), offsetof(tv_slot_t, rnext));
  if (tv_namemap_reserve(&c->running) != 0) {
    free(c);
    return TV_ENOMEM;
  }
  sup->on_removed = on_removed;
  sup->on_stopping = on_stopping;
  sup->upper = c;
  *out = c;
  return 0;
}

static int kept(void *sl, void *arg) { return 1; }

static void free_slot(void *x, void *arg) {
  tv_ctl_t *c = arg;
  tv_slot_t *sl = x;
  tv_ctl_req_t *r;
  while ((r = pop(sl))) req_free(r, 1);
  tv_namemap_remove(&c->slots, sl);
  tv_str_unref(sl->running);
  tv_str_unref(sl->name);
  free(sl);
}

void tv_ctl_destroy(tv_ctl_t *c) {
  c->sup->on_removed = NULL;
  c->sup->on_stopping = NULL;
  c->sup->upper = NULL;
  tv_namemap_each(&c->slots, kept, free_slot, c);
  tv_namemap_free(&c->slots);
  tv_namemap_free(&c->running);
  free(c);
}

static int reject(tv_ctl_t *c, tv_str_t *slot, const tv_ctl_submission_t *sub, int rc,
                  tv_str_t *why, tv_str_t **reason) {
  tv_str_t *task = tv_str_new(sub->name, sub->name_len);
  publish(c, TV_EV_CONTROLLER_REJECTED, slot, task, why);
  tv_str_unref(task);
  if (reason)
    *reason = why;
  else
    tv_str_unref(why);
  return rc;
}

static void submitted(tv_ctl_t *c, tv_slot_t *sl, tv_str_t *task, const char *label) {
  tv_str_t *r = !heard(c)                                     ? NULL
                 : sl->status == TV_SLOT_RUNNING && !sl->head
                    ? tv_str_printf("admission=%s status=running", label)
                    : tv_str_printf("admission=%s status=%s depth=%u", label,
                                    tv_slot_status_name(sl->status), sl->depth);
  publish(c, TV_EV_CONTROLLER_SUBMITTED, sl->name, task, r);
  tv_str_unref(r);
}

static tv_ctl_req_t *req_new(const tv_ctl_submission_t *sub) {
  tv_ctl_req_t *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->name = tv_str_new(sub->name, sub->name_len);
  if (!r->name) {
    free(r);
    return NULL;
  }
  r->task = sub->task;
  r->policy = *sub->policy;
  return r;
}

/* A busy slot: wait in its queue, replacing the head for `replace`. */
static int enqueue(tv_ctl_t *c, tv_slot_t *sl, const tv_ctl_submission_t *sub,
                   tv_str_t **reason) {
  int replace = sub->admit == TV_ADMIT_REPLACE;
  if (!replace && sl->depth >= c->max_slot_queue)
    return reject(c, sl->name, sub, TV_EFULL,
                  tv_str_printf("queue_full: %u/%u", sl->depth, c->max_slot_queue), reason);
  tv_ctl_req_t *r = req_new(sub);
  if (!r) return reject(c, sl->name, sub, TV_ENOMEM, tv_str_printf("add_failed: ENOMEM"), reason);
  if (replace && sl->head) { /* the newest displaces the head */
    tv_ctl_req_t *old = sl->head;
    r->next = old->next;
    sl->head = r;
    if (sl->tail == old) sl->tail = r;
    tv_str_t *why = tv_str_printf("superseded: replaced at the head of the queue by '%s'",
                                  r->name->s);
    drop(c, sl, old, why);
    tv_str_unref(why);
  } else if (replace) {
    r->next = sl->head;
    sl->head = r;
    if (!sl->tail) sl->tail = r;
    sl->depth++;
  } else {
    push(sl, r);
  }
  if (replace && sl->status == TV_SLOT_RUNNING) {
    sl->status = TV_SLOT_TERMINATING;
    submitted(c, sl, r->name, sub->label);
    transition(c, sl, sl->running, TV_SLOT_RUNNING, TV_SLOT_TERMINATING, " (replace)");
    tv_sup_remove(c->sup, sl->running->s, sl->running->len, "replaced");
  } else {
    submitted(c, sl, r->name, sub->label);
  }
  return 0;
}

int tv_ctl_submit(tv_ctl_t *c, const tv_ctl_submission_t *sub, tv_str_t **reason) {
  if (reason) *reason = NULL;
  tv_slot_t *sl = tv_namemap_find(&c->slots, sub->slot, sub->slot_len);
  tv_str_t *slot = sl ? tv_str_ref(sl->name) : tv_str_new(sub->slot, sub->slot_len);
  int rc;
  if (!slot) return TV_ENOMEM;
  if (!tv_sup_accepting(c->sup)) {
    rc = reject(c, slot, sub, TV_ESHUTDOWN,
                tv_str_printf("shutdown: the supervisor is %s",
                              tv_sup_state_name(c->sup->state)), reason);
    goto out;
  }
  if (sub->admit == TV_ADMIT_REJECT) {
    rc = reject(c, slot, sub, TV_EREJECTED,
                tv_str_printf("rejected: %s", sub->why ? sub->why : "by the admission function"),
                reason);
    goto out;
  }
  tv_actor_t *owner = tv_sup_find(c->sup, sub->name, sub->name_len);
  if (owner && !(sl && sl->actor == owner)) {
    rc = reject(c, slot, sub, TV_EEXIST,
                tv_str_printf("name_taken: task '%s' is already registered outside slot '%s'",
                              owner->name->s, slot->s),
                reason);
    goto out;
  }
  int busy = sl && sl->status != TV_SLOT_IDLE;
  if (busy && (sub->admit == TV_ADMIT_DROP_IF_RUNNING || sub->admit == TV_ADMIT_START)) {
    rc = reject(c, slot, sub, TV_EBUSY,
                tv_str_printf("slot_busy: status=%s running=%s",
                              tv_slot_status_name(sl->status), sl->running->s),
                reason);
    goto out;
  }
  if (busy) {
    rc = enqueue(c, sl, sub, reason);
    goto out;
  }
  if (!sl && !(sl = slot_new(c, sub->slot, sub->slot_len))) {
    rc = reject(c, slot, sub, TV_ENOMEM, tv_str_printf("add_failed: ENOMEM"), reason);
    goto out;
  }
  rc = start(c, sl, sub->name, sub->name_len, sub->policy, sub->task);
  if (rc != 0) {
    tv_str_t *task = tv_str_new(sub->name, sub->name_len);
    tv_str_t *why = task ? add_failed(rc, task) : NULL;
    tv_str_unref(task);
    slot_gc(c, sl);
    rc = reject(c, slot, sub, rc, why, reason);
    goto out;
  }
  submitted(c, sl, sl->running, sub->label);
  transition(c, sl, sl->running, TV_SLOT_IDLE, TV_SLOT_RUNNING, NULL);
out:
  tv_str_unref(slot);
  return rc;
}

static int req_named(const tv_ctl_req_t *r, const slot_op_t *op) {
  return r->name->len == op->len && memcmp(r->name->s, op->name, op->len) == 0;
}

static int queues_name(void *sl, void *arg) {
  for (tv_ctl_req_t *r = ((tv_slot_t *)sl)->head; r; r = r->next)
    if (req_named(r, arg)) return 1;
  return 0;
}

static void purge_name(void *x, void *arg) {
  slot_op_t *op = arg;
  tv_slot_t *sl = x;
  tv_ctl_req_t *prev = NULL, *r = sl->head;
  while (r) {
    tv_ctl_req_t *next = r->next;
    if (req_named(r, op)) {
      if (prev)
        prev->next = next;
      else
        sl->head = next;
      if (sl->tail == r) sl->tail = prev;
      sl->depth--;
      drop(op->c, sl, r, op->why);
      op->removed++;
    } else {
      prev = r;
    }
    r = next;
  }
  slot_gc(op->c, sl);
}

uint32_t tv_ctl_unqueue(tv_ctl_t *c, const char *name, size_t len, const char *why) {
  slot_op_t op = {c, NULL, name, len, 0};
  op.why = tv_str_printf("removed_from_queue: %s", why);
  each_slot(c, queues_name, purge_name, &op);
  tv_str_unref(op.why);
  return op.removed;
}

tv_slot_t *tv_ctl_slot(const tv_ctl_t *c, const char *name, size_t len) {
  return tv_namemap_find(&c->slots, name, len);
}

static int cmp_slot(const void *x, const void *y) {
  return tv_str_cmp((*(tv_slot_t *const *)x)->name, (*(tv_slot_t *const *)y)->name);
}

tv_slot_t **tv_ctl_slots(const tv_ctl_t *c, uint32_t *n) {
  tv_slot_t **all = (tv_slot_t **)tv_namemap_snapshot(&c->slots, n);
  if (all) qsort(all, *n, sizeof *all, cmp_slot);
  return all;
}

const char *tv_slot_status_name(int status) {
  static const char *const names[] = {"idle", "running", "terminating"};
  return (unsigned)status < 3 ? names[status] : "?";
}

static const char *const admit_names[] = {"queue", "replace", "drop_if_running", "start",
                                          "reject"};

const char *tv_admit_name(int admit) {
  return (unsigned)admit < 5 ? admit_names[admit] : "?";
}

int tv_admit_parse(const char *name) {
  for (int i = 0; i < 5; i++)
    if (strcmp(admit_names[i], name) == 0) return i;
  return -1;
}
