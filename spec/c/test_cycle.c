/* test_cycle.c - `after` cycles made across separate adds, on a manual clock.
 * Each add is checked against what the registered tasks wait for: a task not
 * started yet waits for what its `after` still names, a group not ready yet
 * for its children (and, through tv_group_set_waits, for what the children it
 * has not added yet start after), and a group bringing up a child waits for
 * it. An add that would close a cycle is refused (TV_EINVAL, the cycle named,
 * TaskAddFailed) and the registered tasks are left as they were; without the
 * check such tasks waited for each other forever, which these tests see as
 * tasks still blocked 5 s on (check_nothing_left). Also: what must stay
 * accepted. */
#include "core/supervision/group.h"
#include "check.h"
#include "fake.h"

/* ---- adding with `after` ------------------------------------------------------ */

static fake_t *made_fakes[512];
static int nfakes;

static fake_t *waiter(void) { /* runs until cancelled */
  fake_t *f = fake_new(1, (int[]){DO_WAIT});
  made_fakes[nfakes++] = f;
  return f;
}

static char cycle[256];

/* Adds task `t` named `name`, to start after the NULL-terminated `after`;
 * `never_ready`: it says itself when it is ready (a fake never does). */
static int add_task(const char *name, tv_task_t *t, const char *const *after, int never_ready) {
  tv_str_t *names[8];
  uint32_t n = 0;
  for (; after && after[n]; n++) names[n] = tv_str_new(after[n], strlen(after[n]));
  tv_add_opts_t o;
  memset(&o, 0, sizeof o);
  o.after = names;
  o.nafter = n;
  o.explicit_ready = never_ready;
  o.cycle = cycle;
  o.cycle_cap = sizeof cycle;
  cycle[0] = '\0';
  tv_policy_t p = policy(TV_RESTART_NEVER);
  int rc = tv_sup_add_ex(sup, name, strlen(name), &p, t, &o);
  for (uint32_t i = 0; i < n; i++) tv_str_unref(names[i]);
  return rc;
}

static int add_after(const char *name, fake_t *f, const char *const *after, int never_ready) {
  return add_task(name, &f->base, after, never_ready);
}

#define AFTER(...) ((const char *const[]){__VA_ARGS__, NULL})

static void done(void);

/* Nothing waits forever: 5 s on, no task is still waiting for its `after`
 * (the rest is running, or has ended); then a shutdown ends the rest. */
static void check_nothing_left(void) {
  run_until(tv_sched_now(&sched) + 5000);
  uint32_t n, blocked = 0;
  tv_actor_t **all = tv_registry_snapshot(&sup->reg, &n);
  for (uint32_t i = 0; all && i < n; i++) blocked += all[i]->state == TV_ACTOR_BLOCKED;
  free(all);
  CHECK_EQ_U(blocked, 0);
  CHECK(tv_list_empty(&sup->blocked));
  if (blocked) dump_events();
  tv_sup_shutdown(sup, NULL);
  run_until(tv_sched_now(&sched) + 5000);
  CHECK_EQ_U(sup->reg.count, 0);
}

/* ---- plain tasks ------------------------------------------------------------- */

static void two_tasks_after_each_other(void) {
  setup(1000);
  CHECK(add_after("a", waiter(), AFTER("b"), 0) == 0);
  CHECK(add_after("b", waiter(), AFTER("a"), 0) == TV_EINVAL);
  CHECK_STR(cycle, "b -> a -> b");
  CHECK(find_event("TaskAddFailed b (after_cycle: b -> a -> b)", 0) >= 0);
  CHECK(tv_sup_find(sup, "b", 1) == NULL);
  /* a is left as it was: its dependency is missing, so it ends */
  run_until(10);
  CHECK(find_event("ActorDead a #0 (dependency 'b' is not running", 0) >= 0);
  check_nothing_left();
  done();
}

static void a_chain_of_three_closed_by_the_last(void) {
  setup(1000);
  fake_t *other = waiter();
  tv_policy_t p = policy(TV_RESTART_NEVER);
  CHECK(add("other", other, &p) == 0);
  run_until(10); /* an unrelated task runs */
  /* b waits for c (not added yet), a for b; c after a closes the cycle */
  CHECK(add_after("b", waiter(), AFTER("c"), 0) == 0);
  CHECK(add_after("a", waiter(), AFTER("b"), 0) == 0);
  CHECK(add_after("c", waiter(), AFTER("x", "a"), 0) == TV_EINVAL);
  CHECK_STR(cycle, "c -> a -> b -> c");
  CHECK(tv_sup_find(sup, "a", 1) && tv_sup_find(sup, "b", 1) && !tv_sup_find(sup, "c", 1));
  run_until(20);
  CHECK(other->running && tv_sup_find(sup, "other", 5)); /* unharmed */
  CHECK(find_event("ActorDead b #0 (dependency 'c'", 0) >= 0);
  CHECK(find_event("ActorDead a #0 (dependency 'b'", 0) >= 0);
  tv_sup_remove(sup, "other", 5, NULL);
  check_nothing_left();
  done();
}

/* Not cycles: a diamond, and tasks after ones that are ready already. */
static void what_is_not_a_cycle_is_accepted(void) {
  setup(1000);
  CHECK(add_after("top", waiter(), AFTER("left", "right"), 0) == 0);
  CHECK(add_after("left", waiter(), AFTER("base"), 0) == 0);
  CHECK(add_after("right", waiter(), AFTER("base"), 0) == 0);
  CHECK(add_after("base", waiter(), NULL, 0) == 0);
  run_until(10);
  CHECK(find_event("TaskStarting top #1", 0) > find_event("TaskStarting left #1", 0));
  CHECK(count_events("TaskStarting") == 4);
  /* base and top run (and are ready): more tasks after them are fine */
  CHECK(add_after("late", waiter(), AFTER("top", "base"), 0) == 0);
  /* a task waiting for one that is not ready is no cycle either */
  CHECK(add_after("slow", waiter(), NULL, 1) == 0);
  CHECK(add_after("after-slow", waiter(), AFTER("slow"), 0) == 0);
  CHECK(add_after("after-after", waiter(), AFTER("after-slow"), 0) == 0);
  run_until(20);
  CHECK(count_events("TaskAddFailed") == 0);
  CHECK(count_events("TaskStarting") == 6);
  tv_sup_shutdown(sup, NULL);
  check_nothing_left();
  done();
}

/* ---- groups ------------------------------------------------------------------ */

typedef struct crecipe crecipe_t;
typedef struct ckid {
  const char *name;
  const char *after[4];
  int never_ready;
  const crecipe_t *sub; /* a nested group */
} ckid_t;
typedef struct cwait {
  uint32_t child;
  const char *via, *name;
} cwait_t;
struct crecipe {
  int n;
  ckid_t kids[4];
  int nwaits; /* what group.lua would pass: the children's trees' outside afters */
  cwait_t waits[4];
};

typedef struct cgroup {
  tv_group_t g;
  const crecipe_t *r;
} cgroup_t;

static void *made_groups[512];
static int ngroups;

static cgroup_t *cgroup_new(const crecipe_t *r);

static int c_make(tv_group_t *g, uint32_t i, tv_group_child_t *c, tv_str_t **err) {
  const ckid_t *k = &((cgroup_t *)g)->r->kids[i];
  (void)err;
  c->name = tv_str_new(k->name, strlen(k->name));
  c->policy = policy(TV_RESTART_NEVER);
  c->task = k->sub ? &cgroup_new(k->sub)->g.base : &waiter()->base;
  uint32_t n = 0;
  while (k->after[n]) n++;
  if (n) {
    tv_str_t **a = malloc(n * sizeof *a);
    for (uint32_t j = 0; j < n; j++) a[j] = tv_str_new(k->after[j], strlen(k->after[j]));
    c->opts.after = a;
    c->opts.nafter = n;
  }
  c->opts.explicit_ready = k->never_ready;
  return 0;
}

static void c_unmake(tv_group_t *g, tv_task_t *t) { (void)g, (void)t; }
static void c_release(tv_group_t *g) { (void)g; }
static const tv_group_ops_t c_ops = {c_make, c_unmake, c_release};

static int with_waits = 1; /* set what the children wait for (as the Lua layer does) */

static cgroup_t *cgroup_new(const crecipe_t *r) {
  cgroup_t *t = calloc(1, sizeof *t);
  tv_group_init(&t->g, &c_ops, TV_ONE_FOR_ONE, (uint32_t)r->n,
                &(tv_budget_cfg_t){0, TV_EXHAUST_ESCALATE, 0, 0, 0});
  t->r = r;
  if (with_waits && r->nwaits) {
    tv_group_wait_t w[4];
    for (int i = 0; i < r->nwaits; i++) {
      w[i].child = r->waits[i].child;
      w[i].via = tv_str_new(r->waits[i].via, strlen(r->waits[i].via));
      w[i].name = tv_str_new(r->waits[i].name, strlen(r->waits[i].name));
    }
    CHECK(tv_group_set_waits(&t->g, w, (uint32_t)r->nwaits) == 0);
    for (int i = 0; i < r->nwaits; i++) tv_str_unref(w[i].via), tv_str_unref(w[i].name);
  }
  made_groups[ngroups++] = t;
  return t;
}

static int add_group(const char *name, const crecipe_t *r) {
  return add_task(name, &cgroup_new(r)->g.base, NULL, 0);
}

static void done(void) {
  teardown();
  for (int i = 0; i < ngroups; i++) {
    tv_group_fini(&((cgroup_t *)made_groups[i])->g);
    free(made_groups[i]);
  }
  for (int i = 0; i < nfakes; i++) fake_free(made_fakes[i]);
  ngroups = nfakes = 0;
  with_waits = 1;
}

/* g { c1 after x } */
static const crecipe_t g_c1_after_x = {1, {{"c1", {"x"}, 0, NULL}}, 1, {{0, "c1", "x"}}};
/* g { h { c2 after x } } */
static const crecipe_t h_c2 = {1, {{"c2", {"x"}, 0, NULL}}, 1, {{0, "c2", "x"}}};
static const crecipe_t g_h_c2 = {1, {{"h", {NULL}, 0, &h_c2}}, 1, {{0, "h -> c2", "x"}}};

static void a_group_whose_child_starts_after_its_dependent(void) {
  /* x first, then the group */
  setup(1000);
  CHECK(add_after("x", waiter(), AFTER("g"), 0) == 0);
  CHECK(add_group("g", &g_c1_after_x) == TV_EINVAL);
  CHECK_STR(cycle, "g -> c1 -> x -> g");
  CHECK(find_event("TaskAddFailed g (after_cycle: g -> c1 -> x -> g)", 0) >= 0);
  check_nothing_left();
  done();
  /* the group first, then x */
  setup(1000);
  CHECK(add_group("g", &g_c1_after_x) == 0);
  CHECK(add_after("x", waiter(), AFTER("g"), 0) == TV_EINVAL);
  CHECK_STR(cycle, "x -> g -> c1 -> x");
  check_nothing_left();
  done();
  /* through a nested group's child */
  setup(1000);
  CHECK(add_after("x", waiter(), AFTER("g"), 0) == 0);
  CHECK(add_group("g", &g_h_c2) == TV_EINVAL);
  CHECK_STR(cycle, "g -> h -> c2 -> x -> g");
  check_nothing_left();
  done();
}

/* g { slow (never ready), c1 after x }: the group is bringing up its children */
static const crecipe_t g_slow_then_c1 = {
    2, {{"slow", {NULL}, 1, NULL}, {"c1", {"x"}, 0, NULL}}, 1, {{1, "c1", "x"}}};
/* g { h { slow, c2 after x } } */
static const crecipe_t h_slow_then_c2 = {
    2, {{"slow", {NULL}, 1, NULL}, {"c2", {"x"}, 0, NULL}}, 1, {{1, "c2", "x"}}};
static const crecipe_t g_h = {1, {{"h", {NULL}, 0, &h_slow_then_c2}}, 1, {{0, "h -> c2", "x"}}};

static void a_group_bringing_up_its_children(void) {
  setup(1000);
  CHECK(add_group("g", &g_slow_then_c1) == 0);
  run_until(10);
  CHECK(tv_sup_find(sup, "slow", 4) && !tv_sup_find(sup, "c1", 2));
  CHECK(add_after("x", waiter(), AFTER("g"), 0) == TV_EINVAL);
  CHECK_STR(cycle, "x -> g -> c1 -> x");
  CHECK(add_after("y", waiter(), AFTER("slow"), 0) == 0); /* no cycle */
  tv_sup_shutdown(sup, NULL);
  check_nothing_left();
  done();
  /* nested: g waits for h (added, bringing up slow), h for c2 (not added yet) */
  setup(1000);
  CHECK(add_group("g", &g_h) == 0);
  run_until(10);
  CHECK(tv_sup_find(sup, "h", 1) && tv_sup_find(sup, "slow", 4));
  CHECK(add_after("x", waiter(), AFTER("g"), 0) == TV_EINVAL);
  CHECK_STR(cycle, "x -> g -> h -> c2 -> x");
  CHECK(add_after("z", waiter(), AFTER("h"), 0) == 0);
  tv_sup_shutdown(sup, NULL);
  check_nothing_left();
  done();
}

/* Without the group's waits (an embedding that does not set them) the add of
 * the group passes; the child's add is refused (the group that brings it up
 * waits for it, and so do the groups around that one), and the group's
 * attempt fails naming the cycle. */
static void the_childs_add_is_refused_without_waits(void) {
  setup(1000);
  with_waits = 0;
  CHECK(add_after("x", waiter(), AFTER("g"), 0) == 0);
  CHECK(add_group("g", &g_c1_after_x) == 0);
  run_until(10);
  CHECK(find_event("TaskAddFailed c1 (after_cycle: c1 -> x -> g -> c1)", 0) >= 0);
  CHECK(find_event("TaskFailed g #1 (execution failed: cannot start child 'c1': EINVAL: 'after' "
                   "would make a cycle: c1 -> x -> g -> c1", 0) >= 0);
  check_nothing_left();
  done();
  /* two groups wait for c2: h, which adds it, and g, which waits for h */
  setup(1000);
  with_waits = 0;
  CHECK(add_after("x", waiter(), AFTER("g"), 0) == 0);
  CHECK(add_group("g", &g_h_c2) == 0);
  run_until(10);
  CHECK(find_event("TaskAddFailed c2 (after_cycle: c2 -> x -> g -> h -> c2)", 0) >= 0);
  check_nothing_left();
  done();
}

/* A long cycle is cut short to fit the caller's buffer, and the walk visits
 * each task once however many paths lead to it. */
static void long_chains_and_many_paths(void) {
  setup(1000);
  char name[16], prev[16];
  /* t0 after t1 after ... after t39 (not added yet) */
  for (int i = 0; i < 40; i++) {
    snprintf(name, sizeof name, "t%d", i);
    snprintf(prev, sizeof prev, "t%d", i + 1);
    CHECK(add_after(name, waiter(), AFTER(prev), 0) == 0);
  }
  CHECK(add_after("t40", waiter(), AFTER("t0"), 0) == TV_EINVAL);
  CHECK(strlen(cycle) == sizeof cycle - 1);
  CHECK(strncmp(cycle, "t40 -> t0 -> t1 -> t2 -> ", 25) == 0);
  CHECK(strcmp(cycle + sizeof cycle - 4, "...") == 0);
  check_nothing_left();
  done();
  /* 20 layers of 8, each task after all 8 of the next layer: 8^20 paths */
  setup(1000);
  for (int l = 0; l < 20; l++)
    for (int k = 0; k < 8; k++) {
      char after[8][16];
      const char *list[9];
      for (int j = 0; j < 8; j++) {
        snprintf(after[j], sizeof after[j], "%d_%d", l + 1, j);
        list[j] = after[j];
      }
      list[8] = NULL;
      snprintf(name, sizeof name, "%d_%d", l, k);
      CHECK(add_after(name, waiter(), list, 0) == 0);
    }
  CHECK(add_after("20_1", waiter(), NULL, 0) == 0); /* waits for nothing: no cycle */
  CHECK(add_after("20_0", waiter(), AFTER("0_7"), 0) == TV_EINVAL);
  CHECK_STR(cycle, "20_0 -> 0_7 -> 1_0 -> 2_0 -> 3_0 -> 4_0 -> 5_0 -> 6_0 -> 7_0 -> 8_0 -> "
                   "9_0 -> 10_0 -> 11_0 -> 12_0 -> 13_0 -> 14_0 -> 15_0 -> 16_0 -> 17_0 -> "
                   "18_0 -> 19_0 -> 20_0");
  check_nothing_left();
  done();
}

int main(void) {
  RUN(two_tasks_after_each_other);
  RUN(a_chain_of_three_closed_by_the_last);
  RUN(what_is_not_a_cycle_is_accepted);
  RUN(a_group_whose_child_starts_after_its_dependent);
  RUN(a_group_bringing_up_its_children);
  RUN(the_childs_add_is_refused_without_waits);
  RUN(long_chains_and_many_paths);
  return check_report();
}
