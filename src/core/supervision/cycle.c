/* cycle.c - the `after` cycle check of tv_sup_add_ex: adding a task must not
 * close a cycle of tasks each waiting for the next to be ready. */
#include "core/supervision/cycle.h"

#include <string.h>

#include "core/base/error.h"

#define container_of tv_container_of

/* Adding a task must not close a cycle of tasks each waiting for the next to
 * be ready: none of them could ever start. What waits for what: a task that
 * has not started yet waits for the tasks its `after` still names (one that
 * is registered counts while it was never ready; an unregistered name that is
 * not the new task's ends its dependent at its next step); a group not ready
 * yet waits for its children (ops->awaits); a group bringing up its children
 * waits for the one being added, and so do its enclosing groups while they are
 * not ready. A breadth-first walk from what the new task waits for, through
 * the registered tasks, looks for the new task or one of those groups. Every
 * task is visited at most once (marks and the queue live in the tasks' ext:
 * no allocation, no recursion), so the walk is bounded by the number of
 * registered tasks and what they wait for. */

enum { WALK_SEEN = 1, WALK_TARGET = 2 };

typedef struct walk {
  tv_sup_t *s;
  const tv_str_t *name;     /* the task being added */
  tv_actor_t *head, *tail;  /* visited, in order (ext->walk_next) */
  tv_actor_t *from;         /* the task being expanded; NULL: the new one */
  int found;
  tv_actor_t *hit_from;     /* the last task of the cycle before the target */
  const tv_str_t *hit_via;
  tv_actor_t *hit;          /* the target: an enclosing group; NULL: the new task */
} walk_t;

static int same_name(const tv_str_t *a, const tv_str_t *b) {
  return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

static void walk_hit(walk_t *w, tv_actor_t *target, const tv_str_t *via) {
  w->found = 1;
  w->hit_from = w->from;
  w->hit_via = via;
  w->hit = target;
}

/* One thing w->from waits for: a registered child, or a task by name. */
static void walk_edge(void *arg, tv_actor_t *to, const tv_str_t *name, const tv_str_t *via) {
  walk_t *w = arg;
  if (w->found) return;
  if (!to) {
    if (same_name(name, w->name)) {
      walk_hit(w, NULL, via);
      return;
    }
    to = tv_registry_find(&w->s->reg, name->s, name->len);
    if (!to || to->ever_ready) return; /* gone (its dependent ends), or satisfied */
  } else if (to->ready) {
    return;
  }
  tv_actor_ext_t *x = to->ext;
  if (!x) return; /* a plain task waits for nothing */
  if (x->walk == WALK_TARGET) {
    walk_hit(w, to, via);
    return;
  }
  if (x->walk) return;
  x->walk = WALK_SEEN;
  x->walk_from = w->from;
  x->walk_via = via;
  x->walk_next = NULL;
  if (w->tail)
    w->tail->ext->walk_next = to;
  else
    w->head = to;
  w->tail = to;
}

void tv_sup_each_wait(tv_actor_t *a, tv_await_fn fn, void *arg) {
  tv_actor_ext_t *x = a->ext;
  for (uint32_t i = 0; x && i < x->nafter; i++)
    if (x->after[i]) fn(arg, NULL, x->after[i], NULL);
  tv_task_t *t = container_of(a, tv_task_t, actor);
  if (t->ops->awaits) t->ops->awaits(t, fn, arg);
}

/* Text of up to `n` bytes at *len into buf (cap > 4); "..." once it is full. */
static void put(char *buf, size_t cap, size_t *len, const char *s, size_t n) {
  if (*len >= cap) return;
  if (n > cap - 1 - *len) {
    memcpy(buf + *len, s, cap - 1 - *len);
    memcpy(buf + cap - 4, "...", 4);
    *len = cap;
    return;
  }
  memcpy(buf + *len, s, n);
  *len += n;
  buf[*len] = '\0';
}

static void put_step(char *buf, size_t cap, size_t *len, const tv_str_t *via,
                     const tv_str_t *name) {
  if (via) {
    put(buf, cap, len, " -> ", 4);
    put(buf, cap, len, via->s, via->len);
  }
  put(buf, cap, len, " -> ", 4);
  put(buf, cap, len, name->s, name->len);
}

static tv_actor_t *enclosing(const tv_actor_t *a) {
  tv_parent_t *p = a->ext ? a->ext->parent : NULL;
  return p ? p->owner : NULL;
}

/* "new -> a -> g -> c1 -> new": the walk's path to the hit, reversed in place. */
static void describe_cycle(walk_t *w, tv_actor_t *parent, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  put(buf, cap, &len, w->name->s, w->name->len);
  tv_actor_t *prev = NULL, *cur = w->hit_from;
  while (cur) { /* walk_from now points forward, from the new task on */
    tv_actor_t *next = cur->ext->walk_from;
    cur->ext->walk_from = prev;
    prev = cur;
    cur = next;
  }
  for (cur = prev; cur; cur = cur->ext->walk_from)
    put_step(buf, cap, &len, cur->ext->walk_via, cur->name);
  if (!w->hit) {
    put_step(buf, cap, &len, w->hit_via, w->name);
    return;
  }
  put_step(buf, cap, &len, w->hit_via, w->hit->name);
  /* down from the enclosing group that was hit to the new task */
  for (;;) {
    tv_actor_t *g = parent;
    if (g == w->hit) break;
    while (enclosing(g) != w->hit) g = enclosing(g);
    put_step(buf, cap, &len, NULL, g->name);
    w->hit = g;
  }
  put_step(buf, cap, &len, NULL, w->name);
}

int tv_sup_after_cycle(tv_sup_t *s, tv_task_t *t, const tv_add_opts_t *o, char *buf, size_t cap) {
  uint32_t nafter = o ? o->nafter : 0;
  if (!nafter && !t->ops->awaits) return 0; /* waits for nothing: closes nothing */
  walk_t w = {s, t->actor.name, NULL, NULL, NULL, 0, NULL, NULL, NULL};
  /* the enclosing groups wait for the new task while none of them is ready */
  tv_actor_t *parent = o && o->parent ? o->parent->owner : NULL, *g;
  for (g = parent; g && g->ext && !g->ready; g = enclosing(g)) g->ext->walk = WALK_TARGET;
  for (uint32_t i = 0; i < nafter && !w.found; i++) walk_edge(&w, NULL, o->after[i], NULL);
  if (!w.found && t->ops->awaits) t->ops->awaits(t, walk_edge, &w);
  for (tv_actor_t *a = w.head; a && !w.found; a = a->ext->walk_next) {
    w.from = a;
    tv_sup_each_wait(a, walk_edge, &w); /* stops calling back once found */
  }
  if (w.found) describe_cycle(&w, parent, buf, cap);
  for (tv_actor_t *a = w.head; a; a = a->ext->walk_next) a->ext->walk = 0;
  for (g = parent; g && g->ext && g->ext->walk == WALK_TARGET; g = enclosing(g)) g->ext->walk = 0;
  return w.found ? TV_EINVAL : 0;
}
