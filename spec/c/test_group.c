/* test_group.c - supervision groups on a manual clock: start order and
 * reverse stop order, the three strategies, OTP's restart types (always /
 * on_failure / never ~ permanent / transient / temporary), restart intensity
 * and escalation through nested groups up to the supervisor. The scenarios
 * follow Erlang's supervisor_SUITE; each asserts the exact event sequence. */
#include "core/supervision/group.h"
#include "check.h"
#include "fake.h"

/* ---- groups of fake children, made afresh per attempt ----------------------- */

typedef struct recipe recipe_t;
typedef struct kid {
  const char *name;
  tv_restart_t restart;
  int script[8], nscript;
  const recipe_t *sub;  /* a nested group instead of a fake */
  tv_budget_cfg_t own;  /* the child's own budget */
  uint32_t max_retries;
} kid_t;
struct recipe {
  tv_strategy_t strategy;
  tv_budget_cfg_t budget;
  int n;
  kid_t kids[6];
};

typedef struct tgroup {
  tv_group_t g;
  const recipe_t *r;
  int released;
} tgroup_t;

/* Everything made, freed after the supervisor. */
static void *made[256];
static int made_group[256], nmade;

static tgroup_t *tgroup_new(const recipe_t *r);

static int t_make(tv_group_t *g, uint32_t i, tv_group_child_t *c, tv_str_t **err) {
  const kid_t *k = &((tgroup_t *)g)->r->kids[i];
  if (!k->name) {
    *err = tv_str_printf("no such child");
    return -1;
  }
  c->name = tv_str_new(k->name, strlen(k->name));
  c->policy = policy(k->restart);
  c->policy.budget = k->own;
  c->policy.max_retries = k->max_retries;
  if (k->sub) {
    c->task = &tgroup_new(k->sub)->g.base;
  } else {
    fake_t *f = fake_new(k->nscript, k->script);
    made[nmade] = f, made_group[nmade++] = 0;
    c->task = &f->base;
  }
  return 0;
}

static void t_unmake(tv_group_t *g, tv_task_t *t) { (void)g, (void)t; }
static void t_release(tv_group_t *g) { ((tgroup_t *)g)->released = 1; }
static const tv_group_ops_t t_ops = {t_make, t_unmake, t_release};

static tgroup_t *tgroup_new(const recipe_t *r) {
  tgroup_t *t = calloc(1, sizeof *t);
  tv_group_init(&t->g, &t_ops, r->strategy, (uint32_t)r->n, &r->budget);
  t->r = r;
  made[nmade] = t, made_group[nmade++] = 1;
  return t;
}

static void free_made(void) {
  for (int i = 0; i < nmade; i++) {
    if (made_group[i]) {
      tv_group_fini(&((tgroup_t *)made[i])->g);
      free(made[i]);
    } else {
      fake_free(made[i]);
    }
  }
  nmade = 0;
}

static tgroup_t *add_group(const char *name, const recipe_t *r, const tv_policy_t *p) {
  tgroup_t *t = tgroup_new(r);
  CHECK(tv_sup_add(sup, name, strlen(name), p, &t->g.base) == 0);
  return t;
}

static void done(void) {
  teardown();
  free_made();
}

#define BUDGET(max_, secs_, action_) \
  ((tv_budget_cfg_t){(max_), (action_), (secs_) * 1000000000ull, 0, (max_) != 0})
#define NONE BUDGET(0, 0, TV_EXHAUST_ESCALATE)
#define WAIT_KID(n_, r_) {.name = (n_), .restart = (r_), .script = {DO_WAIT}, .nscript = 1}

/* The events from the first one starting with `from` on, exactly `want`
 * (as far as the recorder keeps them: 159 bytes). */
static int expect_from(const char *from, const char *const *want) {
  int i = find_event(from, 0), w = 0;
  if (i < 0) {
    fprintf(stderr, "  no event \"%s\"\n", from);
    return 0;
  }
  for (; want[w]; i++, w++) {
    if (i >= nevents || strncmp(events[i], want[w], 159) != 0) {
      fprintf(stderr, "  event %d: got   \"%s\"\n  expected        \"%s\"\n", i,
              i < nevents ? events[i] : "(end)", want[w]);
      return 0;
    }
  }
  return 1;
}

#define SEQ(...) ((const char *const[]){__VA_ARGS__, NULL})
#define EXPECT_FROM(from, ...)                                 \
  do {                                                         \
    int ok_ = expect_from(from, SEQ(__VA_ARGS__));             \
    CHECK(ok_);                                                \
    if (!ok_ || getenv("TV_SHOW")) dump_events();              \
  } while (0)

static int starts_of(const char *task) {
  char prefix[64];
  snprintf(prefix, sizeof prefix, "TaskStarting %s #", task);
  return count_events(prefix);
}

/* ---- start and stop order ---------------------------------------------------- */

static const recipe_t abc_one_for_one = {
    TV_ONE_FOR_ONE, NONE, 3,
    {WAIT_KID("a", TV_RESTART_ALWAYS), WAIT_KID("b", TV_RESTART_ALWAYS),
     WAIT_KID("c", TV_RESTART_ALWAYS)}};

static void starts_in_order_stops_in_reverse(void) {
  setup(5000);
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  add_group("g", &abc_one_for_one, &gp);
  run_until(1000);
  EXPECT_FROM("TaskAddRequested g", "TaskAddRequested g", "TaskAdded g", "TaskStarting g #1",
              "TaskAddRequested a", "TaskAdded a", "TaskStarting a #1",
              "TaskAddRequested b", "TaskAdded b", "TaskStarting b #1",
              "TaskAddRequested c", "TaskAdded c", "TaskStarting c #1", "TaskReady g #1");
  tv_sup_shutdown(sup, NULL);
  run_until(2000);
  EXPECT_FROM("ShutdownRequested", "ShutdownRequested", "TaskStopped c #1", "TaskRemoved c",
              "TaskStopped b #1", "TaskRemoved b", "TaskStopped a #1", "TaskRemoved a",
              "TaskStopped g #1", "TaskRemoved g", "AllStoppedWithinGrace");
  CHECK(tv_sup_closed(sup) || sup->state == TV_SUP_DRAINING);
  done();
}

/* ---- strategies (supervisor_SUITE: one_for_one, one_for_all, rest_for_one) -- */

#define FLAKY_KID(n_) {.name = (n_), .restart = TV_RESTART_ALWAYS, .script = {DO_FAIL, DO_WAIT}, .nscript = 2}

static const recipe_t b_fails_one_for_one = {
    TV_ONE_FOR_ONE, NONE, 3,
    {WAIT_KID("a", TV_RESTART_ALWAYS), FLAKY_KID("b"), WAIT_KID("c", TV_RESTART_ALWAYS)}};

static void one_for_one_restarts_the_child_alone(void) {
  setup(5000);
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  add_group("g", &b_fails_one_for_one, &gp);
  run_until(1000);
  /* b's first attempt started, so it was ready (though it failed before its
   * first yield): c starts then, without waiting for b's restart */
  EXPECT_FROM("TaskFailed b", "TaskFailed b #1 (execution failed: boom)",
              "TaskAddRequested c", "TaskAdded c",
              "BackoffScheduled b #1 delay=100/failure (execution failed: boom)",
              "TaskStarting c #1", "TaskReady g #1", "TaskStarting b #2");
  CHECK(starts_of("a") == 1 && starts_of("b") == 2 && starts_of("c") == 1);
  done();
}

/* b fails once all three are up. */
#define LATE_FAIL_KID(n_) {.name = (n_), .restart = TV_RESTART_ALWAYS, .script = {DO_LATER, DO_WAIT}, .nscript = 2}

static void one_for_all_restarts_every_sibling(void) {
  setup(5000);
  static const recipe_t r = {
      TV_ONE_FOR_ALL, NONE, 3,
      {WAIT_KID("a", TV_RESTART_ALWAYS), LATE_FAIL_KID("b"), WAIT_KID("c", TV_RESTART_ALWAYS)}};
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  add_group("g", &r, &gp);
  run_until(1000);
  /* b completes at 100 ms (restart "always": a restart like any other) */
  EXPECT_FROM("TaskStopped b #1", "TaskStopped b #1", "TaskStopped c #1", "TaskStopped a #1",
              "TaskStarting a #2", "TaskStarting b #2", "TaskStarting c #2");
  CHECK(event_ms[find_event("TaskStarting a #2", 0)] == 100);
  CHECK(starts_of("a") == 2 && starts_of("b") == 2 && starts_of("c") == 2);
  CHECK(count_events("TaskRemoved") == 0);
  done();
}

static void one_for_all_after_a_failure_waits_the_backoff(void) {
  setup(5000);
  static const recipe_t r = {
      TV_ONE_FOR_ALL, NONE, 3,
      {WAIT_KID("a", TV_RESTART_ALWAYS),
       {.name = "b", .restart = TV_RESTART_ON_FAILURE, .script = {DO_WAIT, DO_WAIT}, .nscript = 2},
       WAIT_KID("c", TV_RESTART_ALWAYS)}};
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  add_group("g", &r, &gp);
  run_until(500);
  tv_task_t *b = (tv_task_t *)tv_sup_find(sup, "b", 1);
  b = tv_container_of((tv_actor_t *)b, tv_task_t, actor);
  ((fake_t *)b)->running = 0;
  tv_task_done(b, &(tv_outcome_t){TV_OUTCOME_FAIL, 0, 0, "boom", 4, NULL, 0});
  run_until(2000);
  EXPECT_FROM("TaskFailed b", "TaskFailed b #1 (execution failed: boom)",
              "BackoffScheduled b #1 delay=100/failure (execution failed: boom)",
              "TaskStopped c #1", "TaskStopped a #1", "TaskStarting a #2", "TaskStarting b #2",
              "TaskStarting c #2");
  CHECK(event_ms[find_event("TaskStarting a #2", 0)] == 600);
  done();
}

static void rest_for_one_restarts_the_later_ones(void) {
  setup(5000);
  static const recipe_t r = {
      TV_REST_FOR_ONE, NONE, 4,
      {WAIT_KID("a", TV_RESTART_ALWAYS), LATE_FAIL_KID("b"), WAIT_KID("c", TV_RESTART_ALWAYS),
       WAIT_KID("d", TV_RESTART_ALWAYS)}};
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  add_group("g", &r, &gp);
  run_until(1000);
  EXPECT_FROM("TaskStopped b #1", "TaskStopped b #1", "TaskStopped d #1", "TaskStopped c #1",
              "TaskStarting b #2", "TaskStarting c #2", "TaskStarting d #2");
  CHECK(starts_of("a") == 1 && starts_of("b") == 2 && starts_of("c") == 2 && starts_of("d") == 2);
  done();
}

/* ---- restart types (temporary_bystander, transient normal exit) -------------- */

static void temporary_sibling_is_not_restarted(void) {
  setup(5000);
  static const recipe_t r = {
      TV_ONE_FOR_ALL, NONE, 3,
      {WAIT_KID("temp", TV_RESTART_NEVER), LATE_FAIL_KID("perm"),
       WAIT_KID("last", TV_RESTART_ON_FAILURE)}};
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  add_group("g", &r, &gp);
  run_until(1000);
  EXPECT_FROM("TaskStopped perm #1", "TaskStopped perm #1", "TaskStopped last #1",
              "TaskStopped temp #1", "TaskRemoved temp", "TaskStarting perm #2",
              "TaskStarting last #2");
  CHECK(starts_of("temp") == 1);
  done();
}

static void transient_normal_exit_restarts_nothing(void) {
  setup(5000);
  static const recipe_t r = {
      TV_ONE_FOR_ALL, NONE, 3,
      {WAIT_KID("a", TV_RESTART_ALWAYS),
       {.name = "t", .restart = TV_RESTART_ON_FAILURE, .script = {DO_LATER}, .nscript = 1},
       WAIT_KID("c", TV_RESTART_ALWAYS)}};
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  add_group("g", &r, &gp);
  run_until(1000);
  EXPECT_FROM("TaskStopped t #1", "TaskStopped t #1",
              "ActorExhausted t #1 (policy_exhausted_success)", "TaskRemoved t");
  CHECK(nevents == find_event("TaskRemoved t", 0) + 1);
  CHECK(starts_of("a") == 1 && starts_of("c") == 1);
  done();
}

static void group_completes_when_every_child_ended(void) {
  setup(5000);
  static const recipe_t r = {
      TV_ONE_FOR_ALL, NONE, 2,
      {{.name = "x", .restart = TV_RESTART_NEVER, .script = {DO_OK}, .nscript = 1},
       {.name = "y", .restart = TV_RESTART_ON_FAILURE, .script = {DO_LATER}, .nscript = 1}}};
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  add_group("g", &r, &gp);
  tv_sup_run(sup);
  run_until(1000);
  EXPECT_FROM("TaskRemoved y", "TaskRemoved y", "TaskStopped g #1",
              "ActorExhausted g #1 (policy_exhausted_success)", "TaskRemoved g");
  CHECK(tv_sup_closed(sup));
  done();
}

/* ---- intensity and escalation ------------------------------------------------ */

static void intensity_exceeded_fails_the_group(void) {
  setup(5000);
  static const recipe_t r = {
      TV_ONE_FOR_ONE, BUDGET(2, 5, TV_EXHAUST_ESCALATE), 3,
      {WAIT_KID("a", TV_RESTART_ALWAYS),
       {.name = "b", .restart = TV_RESTART_ALWAYS, .script = {DO_LATER}, .nscript = 1},
       WAIT_KID("c", TV_RESTART_ALWAYS)}};
  tv_policy_t gp = policy(TV_RESTART_NEVER);
  add_group("g", &r, &gp);
  run_until(2000);
  EXPECT_FROM("TaskStopped b #3", "TaskStopped b #3",
              "ActorExhausted b #3 (restart intensity exceeded: more than 2 restarts within 5s "
              "(the group 'g''s budget); escalating to the group 'g')",
              "TaskRemoved b", "TaskStopped c #1", "TaskRemoved c", "TaskStopped a #1",
              "TaskRemoved a",
              "TaskFailed g #1 (execution failed: restart intensity exceeded: more than 2 "
              "restarts within 5s (group 'g'); children stopped)",
              "ActorExhausted g #1 (execution failed: restart intensity exceeded: more than 2 "
              "restarts within 5s (group 'g'); children stopped)",
              "TaskRemoved g");
  done();
}

static void failed_group_restarts_with_fresh_children(void) {
  setup(5000);
  static const recipe_t r = {
      TV_ONE_FOR_ALL, BUDGET(1, 5, TV_EXHAUST_ESCALATE), 2,
      {WAIT_KID("a", TV_RESTART_ALWAYS),
       {.name = "b", .restart = TV_RESTART_ALWAYS, .script = {DO_FAIL}, .nscript = 1}}};
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  gp.max_retries = 1;
  add_group("g", &r, &gp);
  run_until(5000);
  EXPECT_FROM("TaskFailed g #1",
              "TaskFailed g #1 (execution failed: restart intensity exceeded: more than 1 "
              "restarts within 5s (group 'g'); children stopped)",
              "BackoffScheduled g #1 delay=100/failure (execution failed: restart intensity "
              "exceeded: more than 1 restarts within 5s (group 'g'); children stopped)",
              "TaskStarting g #2", "TaskAddRequested a", "TaskAdded a", "TaskStarting a #1");
  CHECK(count_events("TaskFailed g") == 2 && count_events("ActorExhausted g") == 1);
  done();
}

static const recipe_t inner = {
    TV_ONE_FOR_ONE, BUDGET(1, 5, TV_EXHAUST_ESCALATE), 1,
    {{.name = "x", .restart = TV_RESTART_ALWAYS, .script = {DO_FAIL}, .nscript = 1}}};
static const recipe_t outer = {
    TV_ONE_FOR_ALL, BUDGET(1, 5, TV_EXHAUST_ESCALATE), 2,
    {WAIT_KID("w", TV_RESTART_ALWAYS),
     {.name = "mid", .restart = TV_RESTART_ON_FAILURE, .sub = &inner}}};

static void escalation_climbs_two_levels(void) {
  setup(5000);
  tv_policy_t gp = policy(TV_RESTART_NEVER);
  add_group("top", &outer, &gp);
  run_until(5000);
  /* mid fails once (top restarts it and w: one_for_all), then again: top's
   * budget is exceeded and top fails */
  EXPECT_FROM("TaskFailed mid #1",
              "TaskFailed mid #1 (execution failed: restart intensity exceeded: more than 1 "
              "restarts within 5s (group 'mid'); children stopped)",
              "BackoffScheduled mid #1 delay=100/failure (execution failed: restart intensity "
              "exceeded: more than 1 restarts within 5s (group 'mid'); children stopped)",
              "TaskStopped w #1", "TaskStarting w #2", "TaskStarting mid #2");
  EXPECT_FROM("TaskFailed mid #2", "TaskFailed mid #2 (execution failed: restart intensity "
              "exceeded: more than 1 restarts within 5s (group 'mid'); children stopped)",
              "ActorExhausted mid #2 (restart intensity exceeded: more than 1 restarts within 5s "
              "(the group 'top''s budget); escalating to the group 'top')",
              "TaskRemoved mid", "TaskStopped w #2", "TaskRemoved w",
              "TaskFailed top #1 (execution failed: restart intensity exceeded: more than 1 "
              "restarts within 5s (group 'top'); children stopped)");
  CHECK(count_events("TaskStarting top") == 1);
  done();
}

static void top_group_escalates_to_the_supervisor(void) {
  setup(5000);
  static const recipe_t r = {
      TV_ONE_FOR_ONE, NONE, 1,
      {{.name = "x", .restart = TV_RESTART_ALWAYS, .script = {DO_FAIL}, .nscript = 1,
        .own = BUDGET(1, 5, TV_EXHAUST_ESCALATE)}}};
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  gp.budget = BUDGET(1, 5, TV_EXHAUST_ESCALATE);
  add_group("g", &r, &gp);
  run_until(5000);
  EXPECT_FROM("TaskFailed g #2",
              "TaskFailed g #2 (execution failed: child 'x' escalated: restart intensity exceeded: "
              "more than 1 restarts within 5s (the task's budget); escalating to the group 'g'; "
              "children stopped)",
              "ActorExhausted g #2 (restart intensity exceeded: more than 1 restarts within 5s "
              "(the task's budget); escalating to the supervisor)",
              "TaskRemoved g",
              "Escalated g (task 'g': restart intensity exceeded: more than 1 restarts within 5s "
              "(the task's budget); escalating to the supervisor)",
              "ShutdownRequested (escalated)",
              "AllStoppedWithinGrace");
  done();
}

/* ---- nesting and strategies together ------------------------------------------- */

static void nested_group_is_restarted_by_a_sibling(void) {
  setup(5000);
  static const recipe_t sub = {
      TV_ONE_FOR_ONE, NONE, 2,
      {WAIT_KID("s1", TV_RESTART_ALWAYS), WAIT_KID("s2", TV_RESTART_ALWAYS)}};
  static const recipe_t r = {
      TV_ONE_FOR_ALL, NONE, 2,
      {{.name = "sub", .restart = TV_RESTART_ALWAYS, .sub = &sub}, LATE_FAIL_KID("b")}};
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  add_group("g", &r, &gp);
  run_until(1000);
  EXPECT_FROM("TaskStopped b #1", "TaskStopped b #1", "TaskStopped s2 #1", "TaskRemoved s2",
              "TaskStopped s1 #1", "TaskRemoved s1", "TaskStopped sub #1", "TaskStarting sub #2",
              "TaskAddRequested s1", "TaskAdded s1", "TaskStarting s1 #1", "TaskAddRequested s2",
              "TaskAdded s2", "TaskStarting s2 #1", "TaskReady sub #2", "TaskStarting b #2");
  done();
}

static void duplicate_child_name_fails_the_group(void) {
  setup(5000);
  fake_t *other = fake_new(1, (int[]){DO_WAIT});
  made[nmade] = other, made_group[nmade++] = 0;
  tv_policy_t wp = policy(TV_RESTART_ALWAYS);
  add("b", other, &wp);
  tv_policy_t gp = policy(TV_RESTART_NEVER);
  add_group("g", &abc_one_for_one, &gp);
  run_until(1000);
  EXPECT_FROM("TaskAddFailed b", "TaskAddFailed b (already_exists)", "TaskStopped a #1",
              "TaskRemoved a",
              "TaskFailed g #1 (execution failed: cannot start child 'b': EEXIST: a task of that "
              "name already exists in the supervisor; children stopped)");
  done();
}

static void kill_stops_every_child_at_once(void) {
  setup(100);
  static const recipe_t r = {
      TV_ONE_FOR_ONE, NONE, 2,
      {{.name = "s", .restart = TV_RESTART_ALWAYS, .script = {DO_STUBBORN}, .nscript = 1},
       {.name = "t", .restart = TV_RESTART_ALWAYS, .script = {DO_STUBBORN}, .nscript = 1}}};
  tv_policy_t gp = policy(TV_RESTART_ON_FAILURE);
  add_group("g", &r, &gp);
  run_until(50);
  tv_sup_shutdown(sup, NULL);
  run_until(1000);
  CHECK(count_events("TaskRemoved") == 3);
  CHECK(find_event("GraceExceeded", 0) >= 0);
  CHECK(tv_sup_closed(sup));
  done();
}

int main(void) {
  RUN(starts_in_order_stops_in_reverse);
  RUN(one_for_one_restarts_the_child_alone);
  RUN(one_for_all_restarts_every_sibling);
  RUN(one_for_all_after_a_failure_waits_the_backoff);
  RUN(rest_for_one_restarts_the_later_ones);
  RUN(temporary_sibling_is_not_restarted);
  RUN(transient_normal_exit_restarts_nothing);
  RUN(group_completes_when_every_child_ended);
  RUN(intensity_exceeded_fails_the_group);
  RUN(failed_group_restarts_with_fresh_children);
  RUN(escalation_climbs_two_levels);
  RUN(top_group_escalates_to_the_supervisor);
  RUN(nested_group_is_restarted_by_a_sibling);
  RUN(duplicate_child_name_fails_the_group);
  RUN(kill_stops_every_child_at_once);
  return check_report();
}
