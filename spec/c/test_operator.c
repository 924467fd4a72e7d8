/* test_operator.c - an operator's stop / start / policy swap in the core
 * (core/supervision/operator.h) on a manual clock: a stopped task is a held
 * actor that nothing restarts and no budget counts, start resumes it with a
 * fresh streak, a stop in backoff drops the restart, a policy swap decides
 * the next restart, and bad calls get their codes. */
#include "core/supervision/group.h"
#include "core/supervision/operator.h"
#include "check.h"
#include "fake.h"

static const int waits[] = {DO_WAIT};
static const int fails[] = {DO_FAIL};

static int op(int (*fn)(tv_sup_t *, const char *, size_t), const char *name) {
  return fn(sup, name, strlen(name));
}

static void stop_holds_until_start(void) {
  setup(1000);
  fake_t *f = fake_new(1, waits);
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  CHECK(add("w", f, &p) == 0);
  run_until(10);
  CHECK(op(tv_op_stop, "w") == 0);
  CHECK(tv_op_stopped(tv_sup_find(sup, "w", 1)) == 2); /* its attempt is stopping */
  run_until(5000);
  CHECK(tv_op_stopped(tv_sup_find(sup, "w", 1)) == 1);
  CHECK(f->starts == 1 && f->cancels == 1);
  int started = find_event("TaskStarting w #1", 0);
  CHECK(started >= 0 && find_event("TaskStopped w #1 (operator)", started) == started + 1);
  CHECK(count_events("TaskStopped") == 1);
  CHECK(count_events("TaskRemoved") == 0 && count_events("BackoffScheduled") == 0);
  CHECK(op(tv_op_stop, "w") == TV_EEXIST);
  CHECK(op(tv_op_start, "w") == 0);
  CHECK(op(tv_op_start, "w") == TV_EINVAL);
  run_until(5010);
  CHECK(f->starts == 2);
  CHECK(find_event("TaskStarting w #2", 0) >= 0);
  CHECK(op(tv_op_stop, "nope") == TV_ENOENT && op(tv_op_start, "nope") == TV_ENOENT);
  teardown();
  fake_free(f);
}

static void stop_in_backoff_drops_the_restart_and_start_resets_the_streak(void) {
  setup(1000);
  fake_t *f = fake_new(1, fails);
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  p.max_retries = 1;
  p.backoff.first = 10; /* seconds: the restart waits */
  CHECK(add("f", f, &p) == 0);
  run_until(10);
  CHECK(f->starts == 1 && find_event("BackoffScheduled f #1", 0) >= 0);
  CHECK(op(tv_op_stop, "f") == 0);
  CHECK(tv_op_stopped(tv_sup_find(sup, "f", 1)) == 1); /* held at once */
  CHECK(find_event("TaskStopped f #1 (operator)", 0) >= 0);
  run_until(60000);
  CHECK(f->starts == 1); /* the restart was dropped */
  /* streak 1 of max_retries 1: without the reset the next failure ends it */
  CHECK(op(tv_op_start, "f") == 0);
  run_until(60010);
  CHECK(f->starts == 2);
  CHECK(find_event("ActorExhausted", 0) < 0);
  CHECK(find_event("BackoffScheduled f #2", 0) >= 0);
  teardown();
  fake_free(f);
}

static void update_swaps_the_policy_for_the_next_decision(void) {
  setup(1000);
  static const int later[] = {DO_LATER};
  fake_t *f = fake_new(1, later);
  f->later_ms = 100;
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  CHECK(add("u", f, &p) == 0);
  run_until(10);
  tv_policy_t q = policy(TV_RESTART_NEVER);
  q.timeout_ns = 5000000000ull; /* needs the optional state: made on the way */
  CHECK(tv_op_update(sup, "u", 1, &q) == 0);
  CHECK(tv_op_update(sup, "x", 1, &q) == TV_ENOENT);
  run_until(1000);
  CHECK(f->starts == 1); /* completed, and "never" ended it */
  CHECK(find_event("ActorExhausted u #1", 0) >= 0);
  teardown();
  fake_free(f);
}

static void budget_is_not_charged(void) {
  tv_sup_opts_t o;
  tv_sup_opts_default(&o);
  o.grace_ns = 1000000000ull;
  o.budget = (tv_budget_cfg_t){1, TV_EXHAUST_ESCALATE, 60000000000ull, 0, 1};
  setup_opts(&o);
  fake_t *f = fake_new(1, waits);
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  CHECK(add("w", f, &p) == 0);
  for (int i = 1; i <= 5; i++) {
    run_until((uint64_t)i * 100);
    CHECK(op(tv_op_stop, "w") == 0);
    run_until((uint64_t)i * 100 + 50);
    CHECK(op(tv_op_start, "w") == 0);
  }
  run_until(1000);
  CHECK(f->starts == 6);
  CHECK(count_events("Escalated") == 0 && count_events("ShutdownRequested") == 0);
  teardown();
  fake_free(f);
}

static void restart_stops_then_starts(void) {
  setup(1000);
  fake_t *f = fake_new(1, waits);
  tv_policy_t p = policy(TV_RESTART_NEVER); /* never restarted by its policy: only by the operator */
  CHECK(add("r", f, &p) == 0);
  run_until(10);
  CHECK(op(tv_op_restart, "r") == 0);
  CHECK(op(tv_op_restart, "r") == 0); /* stopping already: still one restart */
  run_until(100);
  CHECK(f->starts == 2 && f->cancels == 1);
  CHECK(tv_op_stopped(tv_sup_find(sup, "r", 1)) == 0);
  CHECK(find_event("TaskStopped r #1 (operator)", 0) >= 0);
  CHECK(find_event("TaskStarting r #2", 0) >= 0);
  CHECK(count_events("ActorExhausted") == 0 && count_events("TaskRemoved") == 0);
  CHECK(op(tv_op_restart, "nope") == TV_ENOENT);
  teardown();
  fake_free(f);
}

/* ---- a group's child remade (tv_group_remake_child) ---------------------------- */

typedef struct mgroup {
  tv_group_t g;
  fake_t *kids[32];
  int nkids, makes[3];
} mgroup_t;

static int m_make(tv_group_t *g, uint32_t i, tv_group_child_t *c, tv_str_t **err) {
  mgroup_t *m = (mgroup_t *)g;
  static const char *const names[] = {"a", "b", "c"};
  (void)err;
  c->name = tv_str_new(names[i], 1);
  c->policy = policy(TV_RESTART_ALWAYS);
  fake_t *f = fake_new(1, waits);
  m->kids[m->nkids++] = f;
  m->makes[i]++;
  c->task = &f->base;
  return 0;
}
static void m_unmake(tv_group_t *g, tv_task_t *t) { (void)g, (void)t; }
static void m_release(tv_group_t *g) { (void)g; }
static const tv_group_ops_t m_ops = {m_make, m_unmake, m_release};

/* Child b of a group of a, b, c is remade under `strategy`: how often each
 * child was made and started. */
static void remake(tv_strategy_t strategy, const int *makes, const int *starts) {
  setup(1000);
  mgroup_t *m = calloc(1, sizeof *m);
  tv_budget_cfg_t none = tv_budget_none(TV_EXHAUST_ESCALATE);
  tv_group_init(&m->g, &m_ops, strategy, 3, &none);
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  CHECK(tv_sup_add(sup, "g", 1, &gp, &m->g.base) == 0);
  run_until(100);
  CHECK(tv_group_of(&m->g.base) == &m->g);
  CHECK(tv_group_remake_child(&m->g, 1, 0) == 0);
  CHECK(tv_group_remake_child(&m->g, 1, 0) == (strategy == TV_ONE_FOR_ONE ? 0 : TV_EBUSY));
  run_until(1000);
  static const char *const names[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "TaskStarting %s #", names[i]);
    CHECK(m->makes[i] == makes[i]);
    CHECK(count_events(prefix) == starts[i]);
  }
  CHECK(count_events("TaskStarting g #") == 1); /* the group ran on */
  CHECK(count_events("TaskRemoveRequested") == 0 && count_events("BackoffScheduled") == 0);
  tv_sup_destroy(sup);
  sup = NULL;
  tv_sched_close(&sched);
  tv_group_fini(&m->g);
  for (int i = 0; i < m->nkids; i++) fake_free(m->kids[i]);
  free(m);
}

static void remake_one_for_one(void) {
  /* (asked twice: the second finds it stopping already, made once more) */
  remake(TV_ONE_FOR_ONE, (const int[]){1, 2, 1}, (const int[]){1, 2, 1});
}
static void remake_one_for_all(void) {
  remake(TV_ONE_FOR_ALL, (const int[]){1, 2, 1}, (const int[]){2, 2, 2});
}
static void remake_rest_for_one(void) {
  remake(TV_REST_FOR_ONE, (const int[]){1, 2, 1}, (const int[]){1, 2, 2});
}

int main(void) {
  RUN(stop_holds_until_start);
  RUN(stop_in_backoff_drops_the_restart_and_start_resets_the_streak);
  RUN(update_swaps_the_policy_for_the_next_decision);
  RUN(budget_is_not_charged);
  RUN(restart_stops_then_starts);
  RUN(remake_one_for_one);
  RUN(remake_one_for_all);
  RUN(remake_rest_for_one);
  return check_report();
}
