/* test_actor.c - the retry loop and the supervisor around it, driven by a
 * fake task on a manual clock: the reference's typical event sequences (A9),
 * budgets, timeouts, cancellation, force-stop, concurrency and shutdown. */
#include "check.h"
#include "fake.h"

#define SEQ(...) ((const char *const[]){__VA_ARGS__, NULL})
#define EXPECT(task, ...)                                      \
  do {                                                         \
    int ok_ = expect_sequence(task, SEQ(__VA_ARGS__));         \
    CHECK(ok_);                                                \
    if (!ok_) dump_events();                                   \
  } while (0)

static void once_success_via_run(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_OK});
  tv_policy_t p = policy(TV_RESTART_NEVER);
  CHECK(add("hello", f, &p) == 0);
  tv_sup_run(sup);
  run_until(10);
  EXPECT(NULL, "TaskAddRequested hello", "TaskAdded hello", "TaskStarting hello #1",
         "TaskStopped hello #1", "ActorExhausted hello #1 (policy_exhausted_success)",
         "TaskRemoved hello");
  CHECK(nevents == 6); /* natural completion: no shutdown events */
  CHECK(tv_sup_closed(sup));
  CHECK(f->released);
  teardown();
  fake_free(f);
}

static void on_failure_budget_gives_n_plus_one_attempts(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_FAIL});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  p.max_retries = 1;
  add("job", f, &p);
  run_until(1000);
  EXPECT(NULL, "TaskAddRequested job", "TaskAdded job", "TaskStarting job #1",
         "TaskFailed job #1 (execution failed: boom)",
         "BackoffScheduled job #1 delay=100/failure (execution failed: boom)",
         "TaskStarting job #2", "TaskFailed job #2 (execution failed: boom)",
         "ActorExhausted job #2 (max_retries_exceeded(1/1): execution failed: boom)",
         "TaskRemoved job");
  int second = find_event("TaskStarting job #2", 0);
  CHECK(second > 0 && event_ms[second] == 100);
  teardown();
  fake_free(f);
}

static void three_retries_then_exhausted(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_FAIL});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  p.max_retries = 3;
  p.backoff.first = 0.2;
  p.backoff.factor = 2;
  add("r", f, &p);
  run_until(10000);
  CHECK_EQ_U(f->starts, 4);
  CHECK_EQ_U(count_events("TaskFailed r"), 4);
  CHECK_EQ_U(count_events("BackoffScheduled r"), 3);
  CHECK(find_event("BackoffScheduled r #1 delay=200/", 0) >= 0);
  CHECK(find_event("BackoffScheduled r #2 delay=400/", 0) >= 0);
  CHECK(find_event("BackoffScheduled r #3 delay=800/", 0) >= 0);
  CHECK(find_event("ActorExhausted r #4 (max_retries_exceeded(3/3): execution failed: boom)", 0) >= 0);
  teardown();
  fake_free(f);
}

static void timeout_under_never(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_STUBBORN});
  tv_policy_t p = policy(TV_RESTART_NEVER);
  p.timeout_ns = 50 * 1000000ull;
  add("slow", f, &p);
  run_until(1000);
  EXPECT("slow", "TaskAddRequested slow", "TaskAdded slow", "TaskStarting slow #1",
         "TimeoutHit slow #1 timeout=50", "TaskFailed slow #1 (timed out after 50ms)",
         "ActorExhausted slow #1 (timed out after 50ms)", "TaskRemoved slow");
  CHECK_EQ_U(f->kills, 1);
  int hit = find_event("TimeoutHit", 0);
  CHECK(hit >= 0 && event_ms[hit] == 50);
  teardown();
  fake_free(f);
}

static void timeout_is_retryable(void) {
  setup(5000);
  fake_t *f = fake_new(2, (int[]){DO_STUBBORN, DO_OK});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  p.timeout_ns = 20 * 1000000ull;
  add("t", f, &p);
  run_until(1000);
  CHECK_EQ_U(count_events("TimeoutHit t"), 1);
  CHECK(find_event("BackoffScheduled t #1 delay=100/failure (timed out after 20ms)", 0) >= 0);
  CHECK(find_event("TaskStopped t #2", 0) >= 0);
  CHECK(find_event("ActorExhausted t #2 (policy_exhausted_success)", 0) >= 0);
  teardown();
  fake_free(f);
}

static void fatal_ends_with_actor_dead(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_FATAL});
  f->has_exit_code = 1;
  f->exit_code = 7;
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  add("x", f, &p);
  run_until(1000);
  EXPECT("x", "TaskAddRequested x", "TaskAdded x", "TaskStarting x #1",
         "TaskFailed x #1 code=7 (fatal error (no retry): unrecoverable)",
         "ActorDead x #1 code=7 (fatal error (no retry): unrecoverable)", "TaskRemoved x");
  CHECK_EQ_U(f->starts, 1);
  teardown();
  fake_free(f);
}

static void exit_code_on_failure_events(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_FAIL});
  f->has_exit_code = 1;
  f->exit_code = 75;
  tv_policy_t p = policy(TV_RESTART_NEVER);
  add("e", f, &p);
  run_until(100);
  CHECK(find_event("TaskFailed e #1 code=75 (execution failed: boom)", 0) >= 0);
  CHECK(find_event("ActorExhausted e #1 code=75 (execution failed: boom)", 0) >= 0);
  teardown();
  fake_free(f);
}

static void always_with_interval_restarts_on_schedule(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_OK});
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  p.interval_ns = 2000 * 1000000ull;
  add("beat", f, &p);
  run_until(4500);
  EXPECT("beat", "TaskAddRequested beat", "TaskAdded beat", "TaskStarting beat #1",
         "TaskStopped beat #1", "BackoffScheduled beat #1 delay=2000/success",
         "TaskStarting beat #2", "TaskStopped beat #2",
         "BackoffScheduled beat #2 delay=2000/success", "TaskStarting beat #3");
  int third = find_event("TaskStarting beat #3", 0);
  CHECK(third > 0 && event_ms[third] == 4000);
  teardown();
  fake_free(f);
}

static void always_without_interval_yields_between_attempts(void) {
  setup(5000);
  fake_t *a = fake_new(1, (int[]){DO_OK}), *b = fake_new(1, (int[]){DO_OK});
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  add("a", a, &p);
  add("b", b, &p);
  /* Each loop pass runs exactly one attempt of each: they interleave and
   * neither spins (no BackoffScheduled either). */
  for (int pass = 1; pass <= 5; pass++) {
    tv_sched_run_pass(&sched);
    CHECK_EQ_U(a->starts, pass);
    CHECK_EQ_U(b->starts, pass);
  }
  CHECK(find_event("TaskStarting a #2", 0) > find_event("TaskStarting b #1", 0));
  CHECK_EQ_U(count_events("BackoffScheduled"), 0);
  teardown();
  fake_free(a);
  fake_free(b);
}

static void success_resets_the_failure_streak(void) {
  setup(5000);
  /* fail, fail, ok, fail, fail, ok ... with max_retries 2 never exhausts */
  fake_t *f = fake_new(9, (int[]){DO_FAIL, DO_FAIL, DO_OK, DO_FAIL, DO_FAIL, DO_OK,
                                   DO_FAIL, DO_FAIL, DO_FATAL});
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  p.max_retries = 2;
  p.backoff.first = 0.01;
  add("s", f, &p);
  run_until(10000);
  CHECK_EQ_U(f->starts, 9);
  CHECK_EQ_U(count_events("ActorExhausted s"), 0);
  CHECK(find_event("ActorDead s #9", 0) >= 0);
  /* the delay restarts from `first` after each success */
  CHECK(find_event("BackoffScheduled s #4 delay=10/failure", 0) >= 0);
  teardown();
  fake_free(f);
}

static void remove_of_cooperative_task(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_WAIT});
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  add("w", f, &p);
  run_until(10);
  nevents = 0;
  CHECK(tv_sup_remove(sup, "w", 1, NULL) == 0);
  CHECK(tv_sup_remove(sup, "w", 1, NULL) == 0); /* already stopping: no new event */
  run_until(20);
  EXPECT(NULL, "TaskRemoveRequested w", "TaskStopped w #1", "TaskRemoved w");
  CHECK(nevents == 3);
  CHECK(tv_sup_find(sup, "w", 1) == NULL);
  CHECK(tv_sup_remove(sup, "w", 1, NULL) == TV_ENOENT);
  teardown();
  fake_free(f);
}

static void cancel_during_backoff_has_no_attempt_events(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_FAIL});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  p.backoff.first = 10;
  add("b", f, &p);
  run_until(100);
  nevents = 0;
  tv_sup_remove(sup, "b", 1, "manual_cancel");
  EXPECT(NULL, "TaskRemoveRequested b (manual_cancel)", "TaskRemoved b");
  CHECK(nevents == 2);
  run_until(20000);
  CHECK_EQ_U(f->starts, 1);
  teardown();
  fake_free(f);
}

static void stubborn_remove_is_force_stopped_after_grace(void) {
  setup(1000);
  fake_t *s = fake_new(1, (int[]){DO_STUBBORN}), *o = fake_new(1, (int[]){DO_LATER});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  add("stubborn", s, &p);
  run_until(10);
  tv_sup_remove(sup, "stubborn", 8, NULL);
  run_until(500);
  CHECK(tv_sup_find(sup, "stubborn", 8) != NULL); /* still stopping */
  /* Others are unaffected meanwhile: add and run another task. */
  CHECK(add("other", o, &p) == 0);
  fake_t *dup = fake_new(1, (int[]){DO_OK});
  CHECK(tv_sup_add(sup, "stubborn", 8, &p, &dup->base) == TV_EEXIST); /* name reserved */
  CHECK(tv_sup_add(sup, "again", 5, &p, &o->base) == TV_EBUSY); /* o is already held */
  run_until(700);
  CHECK(find_event("ActorExhausted other #1 (policy_exhausted_success)", 0) >= 0);
  run_until(1100);
  int forced = find_event("TaskStopped stubborn #1 (force_stopped", 0);
  CHECK(forced >= 0 && event_ms[forced] == 1010);
  CHECK(find_event("TaskRemoved stubborn (force_stopped)", 0) > forced);
  CHECK_EQ_U(s->kills, 1);
  teardown();
  fake_free(s);
  fake_free(o);
  fake_free(dup);
}

static void shutdown_cooperative(void) {
  setup(5000);
  fake_t *a = fake_new(1, (int[]){DO_WAIT}), *b = fake_new(1, (int[]){DO_WAIT});
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  add("a", a, &p);
  add("b", b, &p);
  tv_sup_run(sup);
  run_until(10);
  nevents = 0;
  CHECK(tv_sup_shutdown(sup, NULL) == 0);
  CHECK(tv_sup_shutdown(sup, NULL) == TV_ESHUTDOWN);
  run_until(20);
  CHECK(find_event("ShutdownRequested", 0) == 0);
  CHECK_EQ_U(count_events("TaskStopped"), 2);
  CHECK_EQ_U(count_events("TaskRemoved"), 2);
  CHECK(find_event("AllStoppedWithinGrace", 0) == nevents - 1);
  CHECK(tv_sup_closed(sup));
  CHECK(tv_sup_add(sup, "late", 4, &p, &a->base) == TV_ESHUTDOWN);
  teardown();
  fake_free(a);
  fake_free(b);
}

static void shutdown_reports_only_the_stubborn_as_stuck(void) {
  setup(1000);
  fake_t *a = fake_new(1, (int[]){DO_WAIT}), *z = fake_new(1, (int[]){DO_STUBBORN}),
         *y = fake_new(1, (int[]){DO_STUBBORN});
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  add("coop", a, &p);
  add("zeta", z, &p);
  add("yank", y, &p);
  tv_sup_run(sup);
  run_until(10);
  tv_sup_shutdown(sup, NULL);
  run_until(500);
  CHECK(!tv_sup_closed(sup));
  CHECK(find_event("TaskRemoved coop", 0) >= 0);
  run_until(2000);
  CHECK(tv_sup_closed(sup));
  int ge = find_event("GraceExceeded", 0);
  CHECK(ge >= 0 && ge == nevents - 1);
  CHECK(ge >= 0 && strstr(events[ge], "(shutdown timeout 1s exceeded; stuck: yank, zeta)"));
  CHECK(ge >= 0 && event_ms[ge] == 1010);
  CHECK(find_event("TaskRemoved zeta (force_stopped)", 0) >= 0);
  CHECK_EQ_U(sup->nstuck, 2);
  CHECK(sup->verdict != NULL);
  teardown();
  fake_free(a);
  fake_free(z);
  fake_free(y);
}

static void zero_grace_stops_at_once(void) {
  setup(0);
  fake_t *z = fake_new(1, (int[]){DO_STUBBORN});
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  add("z", z, &p);
  tv_sup_run(sup);
  run_until(5);
  tv_sup_shutdown(sup, NULL);
  run_until(5);
  CHECK(tv_sup_closed(sup));
  CHECK(find_event("GraceExceeded", 0) >= 0);
  teardown();
  fake_free(z);
}

static void max_concurrent_is_fifo_and_backoff_holds_no_permit(void) {
  tv_sup_opts_t o;
  tv_sup_opts_default(&o);
  o.max_concurrent = 1;
  setup_opts(&o);
  fake_t *f = fake_new(2, (int[]){DO_FAIL, DO_OK});
  fake_t *a = fake_new(1, (int[]){DO_LATER}), *b = fake_new(1, (int[]){DO_LATER});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  p.backoff.first = 1;
  add("f", f, &p);
  add("a", a, &p);
  add("b", b, &p);
  run_until(5000);
  /* f fails and sleeps 1 s without its permit: a and b run meanwhile, in
   * order, one at a time; f's retry then waits its turn. */
  int fa = find_event("TaskStarting a #1", 0), fb = find_event("TaskStarting b #1", 0);
  int sa = find_event("TaskStopped a #1", 0), f2 = find_event("TaskStarting f #2", 0);
  CHECK(fa >= 0 && fb > sa && sa > fa);
  CHECK(event_ms[fa] == 0 && event_ms[fb] == 100);
  CHECK(f2 > fb && event_ms[f2] == 1000);
  CHECK_EQ_U(sup->sem.held, 0);
  teardown();
  fake_free(f);
  fake_free(a);
  fake_free(b);
}

static void cancel_while_waiting_for_permit(void) {
  tv_sup_opts_t o;
  tv_sup_opts_default(&o);
  o.max_concurrent = 1;
  setup_opts(&o);
  fake_t *a = fake_new(1, (int[]){DO_WAIT}), *b = fake_new(1, (int[]){DO_OK});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  add("a", a, &p);
  add("b", b, &p);
  run_until(10);
  CHECK(tv_sup_find(sup, "b", 1)->state == TV_ACTOR_WAITING);
  tv_sup_remove(sup, "b", 1, NULL);
  run_until(20);
  CHECK_EQ_U(b->starts, 0);
  CHECK(find_event("TaskStarting b", 0) < 0);
  CHECK(find_event("TaskRemoved b", 0) >= 0);
  tv_sup_remove(sup, "a", 1, NULL);
  run_until(30);
  CHECK_EQ_U(sup->sem.held, 0);
  teardown();
  fake_free(a);
  fake_free(b);
}

static void duplicate_and_unknown_names(void) {
  setup(5000);
  fake_t *a = fake_new(1, (int[]){DO_WAIT}), *b = fake_new(1, (int[]){DO_OK});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  CHECK(add("dup", a, &p) == 0);
  CHECK(add("dup", b, &p) == TV_EEXIST);
  CHECK(find_event("TaskAddFailed dup (already_exists)", 0) >= 0);
  CHECK(!b->released); /* the caller keeps a rejected task */
  CHECK(tv_sup_remove(sup, "nope", 4, NULL) == TV_ENOENT);
  run_until(10);
  CHECK_EQ_U(b->starts, 0);
  teardown();
  fake_free(a);
  fake_free(b);
}

static void seq_strictly_increases(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_FAIL});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  p.max_retries = 3;
  add("q", f, &p);
  run_until(5000);
  CHECK(nevents > 5);
  for (int i = 1; i < nevents; i++) CHECK(event_seq[i] > event_seq[i - 1]);
  teardown();
  fake_free(f);
}

static void names_are_sorted_and_alive_tracks_attempts(void) {
  setup(5000);
  fake_t *c = fake_new(1, (int[]){DO_WAIT}), *a = fake_new(1, (int[]){DO_WAIT}),
         *b = fake_new(1, (int[]){DO_FAIL});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  p.backoff.first = 10;
  add("charlie", c, &p);
  add("alpha", a, &p);
  add("bravo", b, &p);
  run_until(10);
  uint32_t n;
  tv_str_t **all = tv_sup_names(sup, 0, &n);
  CHECK(n == 3 && strcmp(all[0]->s, "alpha") == 0 && strcmp(all[1]->s, "bravo") == 0 &&
        strcmp(all[2]->s, "charlie") == 0);
  free(all);
  tv_str_t **alive = tv_sup_names(sup, 1, &n); /* bravo sleeps in backoff */
  CHECK(n == 2 && strcmp(alive[0]->s, "alpha") == 0 && strcmp(alive[1]->s, "charlie") == 0);
  free(alive);
  teardown();
  fake_free(a);
  fake_free(b);
  fake_free(c);
}

static int watch_fired;
static void on_removed(tv_sup_watch_t *w) { (void)w, watch_fired++; }

static void watch_reports_removal(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_WAIT});
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  add("w", f, &p);
  run_until(10);
  tv_sup_watch_t w;
  tv_sup_watch_init(&w, on_removed);
  watch_fired = 0;
  CHECK(tv_sup_watch(sup, "nope", 4, &w) == TV_ENOENT);
  CHECK(tv_sup_watch(sup, "w", 1, &w) == 0);
  tv_sup_remove(sup, "w", 1, NULL);
  CHECK(watch_fired == 0);
  run_until(20);
  CHECK(watch_fired == 1);
  teardown();
  fake_free(f);
}

static void seeded_jitter_is_reproducible(void) {
  uint32_t delays[2][4];
  for (int run = 0; run < 2; run++) {
    setup(5000);
    fake_t *f = fake_new(1, (int[]){DO_FAIL});
    tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
    p.max_retries = 4;
    p.backoff.first = 1;
    p.backoff.factor = 2;
    p.backoff.jitter = TV_JITTER_FULL;
    add("j", f, &p);
    run_until(100000);
    int k = 0;
    for (int i = 0; i < nevents && k < 4; i++) {
      unsigned d;
      if (sscanf(events[i], "BackoffScheduled j #%*u delay=%u", &d) == 1) delays[run][k++] = d;
    }
    CHECK(k == 4);
    teardown();
    fake_free(f);
  }
  CHECK(memcmp(delays[0], delays[1], sizeof delays[0]) == 0);
}

static void natural_completion_waits_for_run(void) {
  setup(5000);
  fake_t *f = fake_new(1, (int[]){DO_OK});
  tv_policy_t p = policy(TV_RESTART_NEVER);
  add("n", f, &p);
  run_until(10);
  CHECK(!tv_sup_closed(sup)); /* nobody waits yet: stays open */
  tv_sup_run(sup);
  run_until(20);
  CHECK(tv_sup_closed(sup));
  teardown();
  fake_free(f);
}

int main(void) {
  RUN(once_success_via_run);
  RUN(on_failure_budget_gives_n_plus_one_attempts);
  RUN(three_retries_then_exhausted);
  RUN(timeout_under_never);
  RUN(timeout_is_retryable);
  RUN(fatal_ends_with_actor_dead);
  RUN(exit_code_on_failure_events);
  RUN(always_with_interval_restarts_on_schedule);
  RUN(always_without_interval_yields_between_attempts);
  RUN(success_resets_the_failure_streak);
  RUN(remove_of_cooperative_task);
  RUN(cancel_during_backoff_has_no_attempt_events);
  RUN(stubborn_remove_is_force_stopped_after_grace);
  RUN(shutdown_cooperative);
  RUN(shutdown_reports_only_the_stubborn_as_stuck);
  RUN(zero_grace_stops_at_once);
  RUN(max_concurrent_is_fifo_and_backoff_holds_no_permit);
  RUN(cancel_while_waiting_for_permit);
  RUN(duplicate_and_unknown_names);
  RUN(seq_strictly_increases);
  RUN(names_are_sorted_and_alive_tracks_attempts);
  RUN(watch_reports_removal);
  RUN(seeded_jitter_is_reproducible);
  RUN(natural_completion_waits_for_run);
  return check_report();
}
