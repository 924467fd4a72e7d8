/* test_alloc.c - allocation failures in the core: each scenario is run once
 * to count its allocations (K), then again for N = 1..K with the Nth one
 * failing alone, and with the Nth and every later one failing (memory stays
 * short). Every call must return 0 or TV_ENOMEM (or degrade as documented),
 * nothing may crash, stall or leak: every task handed to the core comes back
 * exactly once, the supervisor reaches CLOSED, and the core's live
 * allocations return to zero. Linked with -Wl,--wrap=malloc,calloc,realloc,free
 * (CMakeLists.txt), so the wrappers below see the core's allocations only. */
#include <stdarg.h>

#include "core/supervision/controller.h"
#include "check.h"
#include "fake.h"

/* ---- the allocator wrappers ----------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);

enum { FAIL_NONE, FAIL_ONE, FAIL_FROM };
/* volatile: the compiler assumes calloc() reads no program state, and would
 * otherwise drop the `paused` stores around the test's own allocations. */
static volatile long nallocs, fail_at, live;
static volatile int fail_mode, paused; /* paused: the test's own allocations */

static int should_fail(void) {
  if (paused) return 0;
  nallocs++;
  if (fail_mode == FAIL_ONE) return nallocs == fail_at;
  if (fail_mode == FAIL_FROM) return nallocs >= fail_at;
  return 0;
}

void *__wrap_malloc(size_t n) {
  if (should_fail()) return NULL;
  void *p = __real_malloc(n);
  if (p && !paused) live++;
  return p;
}

void *__wrap_calloc(size_t n, size_t size) {
  if (should_fail()) return NULL;
  void *p = __real_calloc(n, size);
  if (p && !paused) live++;
  return p;
}

void *__wrap_realloc(void *p, size_t n) {
  if (should_fail()) return NULL;
  void *q = __real_realloc(p, n);
  if (q && !p && !paused) live++;
  return q;
}

void __wrap_free(void *p) {
  if (p && !paused) live--;
  __real_free(p);
}

static void arm(int mode, long at) {
  nallocs = 0;
  fail_mode = mode;
  fail_at = at;
}

/* ---- scenario bookkeeping --------------------------------------------------- */

/* The first broken expectation of the current run (checks inside a scenario
 * would repeat the same message K times). */
static char why[256];
#define EXPECT_T(cond)                                                            \
  do {                                                                            \
    if (!(cond) && !why[0]) snprintf(why, sizeof why, "line %d: %s", __LINE__, #cond); \
  } while (0)

static int is_ok_or_nomem(int rc) { return rc == 0 || rc == TV_ENOMEM; }

/* Fakes are allocated before the failures are armed (they are the test's,
 * not the core's) and freed after. */
enum { MAXF = 320 };
static fake_t *fk[MAXF];
static int held[MAXF]; /* the core accepted it: it must be handed back once */
static int nfk;

/* fake.h's ops, with a release that counts (handed back exactly once). */
static void counting_release(tv_task_t *t) {
  ((fake_t *)t)->released++;
  fakes_released++;
}
static const tv_task_ops_t counting_ops = {fake_start,       fake_cancel, fake_kill,
                                           counting_release, NULL,        NULL, NULL, NULL,
                                           NULL,             NULL,        NULL, NULL};

static fake_t *make_fake(int what) {
  paused = 1;
  fake_t *f = fake_new(1, (int[]){what});
  paused = 0;
  f->base.ops = &counting_ops;
  fk[nfk] = f;
  held[nfk] = 0;
  nfk++;
  return f;
}

static void free_fakes(void) {
  for (int i = 0; i < nfk; i++) {
    tv_task_fini(&fk[i]->base); /* the core's name reference: counted */
    paused = 1;
    free(fk[i]);
    paused = 0;
  }
  nfk = 0;
}

static int nheld(void) {
  int n = 0;
  for (int i = 0; i < nfk; i++) n += held[i];
  return n;
}

/* A shutdown request: refused only when nothing was ever added (natural
 * completion closed the supervisor already). */
static void expect_shutdown(void) {
  int rc = tv_sup_shutdown(sup, "requested");
  EXPECT_T(rc == 0 || (rc == TV_ESHUTDOWN && nheld() == 0));
}

/* Every fake the core accepted was released exactly once. */
static void expect_all_released(void) {
  for (int i = 0; i < nfk; i++) {
    if (held[i] && fk[i]->released != 1 && getenv("TV_ALLOC_DEBUG"))
      fprintf(stderr, "fake %d released %d state %d\n", i, fk[i]->released, fk[i]->base.actor.state);
    if (held[i]) EXPECT_T(fk[i]->released == 1);
  }
}

static tv_sub_t *subs[4];

static void popper_wake(tv_sub_t *sub) {
  tv_event_t *ev;
  while ((ev = tv_sub_pop(sub))) tv_bus_event_unref(sub->bus, ev);
  tv_sub_park(sub);
}
static void never_wake(tv_sub_t *sub) { (void)sub; } /* never consumes: overflows */
static const tv_sub_ops_t popper_ops = {popper_wake, NULL};
static const tv_sub_ops_t never_ops = {never_wake, NULL};

static int start_sup(uint64_t grace_ms, uint32_t max_concurrent) {
  tv_sup_opts_t o;
  tv_sup_opts_default(&o);
  o.grace_ns = grace_ms * 1000000ull;
  o.max_concurrent = max_concurrent;
  o.seeded = 1;
  o.seed = 7;
  tv_clock_init_manual(&clk, 0);
  tv_sched_init(&sched, &clk, NULL);
  nevents = 0;
  fakes_released = 0;
  sup = NULL;
  int rc = tv_sup_new(&sup, &sched, &o);
  EXPECT_T(is_ok_or_nomem(rc));
  return rc;
}

static void stop_sup(void) {
  if (sup) tv_sup_destroy(sup);
  sup = NULL;
  tv_sched_close(&sched);
}

/* A fake's own timer (DO_LATER) is reserved like the core's: a fake whose
 * room cannot be reserved is not handed over. */
static int reserve_fake(fake_t *f) {
  int rc = tv_timer_reserve(&sched, &f->timer);
  EXPECT_T(is_ok_or_nomem(rc));
  return rc;
}

static int add_fake(const char *name, fake_t *f, const tv_policy_t *p) {
  if (reserve_fake(f) != 0) return TV_ENOMEM;
  int rc = tv_sup_add(sup, name, strlen(name), p, &f->base);
  EXPECT_T(is_ok_or_nomem(rc));
  for (int i = 0; i < nfk; i++)
    if (fk[i] == f && rc == 0) held[i] = 1;
  return rc;
}

/* Registers fk[0..n) as "<prefix><i>" under ps[i % nps]. */
static void add_fakes(const char *prefix, int n, const tv_policy_t *ps, int nps) {
  for (int i = 0; i < n; i++) {
    char name[16];
    snprintf(name, sizeof name, "%s%d", prefix, i);
    add_fake(name, fk[i], &ps[i % nps]);
  }
}

/* Runs to the end: nothing stalled (the supervisor closed, nothing is left
 * registered) and every task the core accepted came back. */
static void run_to_end(void) {
  tv_sched_run_until(&sched, 60000);
  expect_all_released();
  EXPECT_T(sup->reg.count == 0);
  EXPECT_T(tv_sup_closed(sup));
}

static void finish(void) {
  stop_sup();
  free_fakes();
}

/* The names list is NULL (out of memory) or exactly the registry. */
static void expect_names_consistent(void) {
  uint32_t n = 0;
  tv_str_t **names = tv_sup_names(sup, 0, &n);
  if (!names) return;
  EXPECT_T(n == sup->reg.count);
  for (uint32_t i = 1; i < n; i++) EXPECT_T(tv_str_cmp(names[i - 1], names[i]) < 0);
  free(names);
}

/* ---- scenarios ------------------------------------------------------------------ */

/* tv_sup_new, three subscriptions (one that never consumes), destroy. */
static void sc_new_and_subscribe(void) {
  if (start_sup(1000, 0) != 0) {
    stop_sup();
    return;
  }
  static const char *const nm[3] = {"a", "bb", "ccc"};
  for (int i = 0; i < 3; i++) {
    int rc = tv_sup_subscribe(sup, nm[i], strlen(nm[i]), i == 2 ? 1 : 0,
                              i == 2 ? &never_ops : &popper_ops, NULL, &subs[i]);
    EXPECT_T(is_ok_or_nomem(rc));
  }
  tv_sup_run(sup);
  tv_sched_run_until(&sched, 100000);
  EXPECT_T(tv_sup_closed(sup));
  stop_sup();
}

/* Tasks of every outcome (success, retried failures with backoff timers,
 * a timer-driven task, a timeout, a fatal one, an "always" ticker with an
 * interval that is removed), run to natural completion. */
static void sc_add_run_complete(void) {
  fake_t *ok = make_fake(DO_OK), *fail = make_fake(DO_FAIL), *later = make_fake(DO_LATER),
         *slow = make_fake(DO_STUBBORN), *fatal = make_fake(DO_FATAL), *tick = make_fake(DO_OK);
  if (start_sup(1000, 0) != 0) {
    finish();
    return;
  }
  tv_sup_subscribe(sup, "rec", 3, 64, &recorder_ops, NULL, &subs[0]);
  tv_policy_t never = policy(TV_RESTART_NEVER), retry = policy(TV_RESTART_ON_FAILURE),
              timeout = policy(TV_RESTART_NEVER), always = policy(TV_RESTART_ALWAYS);
  retry.max_retries = 3;
  retry.backoff.first = 0.01;
  retry.backoff.factor = 2;
  timeout.timeout_ns = 30 * 1000000ull;
  always.interval_ns = 5 * 1000000ull;
  add_fake("ok", ok, &never);
  add_fake("fail", fail, &retry);
  add_fake("later", later, &never);
  add_fake("slow", slow, &timeout);
  add_fake("fatal", fatal, &retry);
  add_fake("tick", tick, &always);
  tv_sup_run(sup);
  tv_sched_run_until(&sched, 200);
  expect_names_consistent();
  int rc = tv_sup_remove(sup, "tick", 4, NULL);
  EXPECT_T(rc == 0 || (!held[5] && (rc == TV_ENOENT || rc == TV_ESHUTDOWN)));
  run_to_end(); /* natural completion */
  finish();
}

/* 100 tasks failing together: 100 backoff timers armed at once (the heap
 * grows past its first 64 slots), retried until exhausted. */
static void sc_backoff_storm(void) {
  for (int i = 0; i < 100; i++) make_fake(i % 4 ? DO_FAIL : DO_LATER);
  if (start_sup(1000, 0) != 0) {
    finish();
    return;
  }
  tv_policy_t p = policy(TV_RESTART_ON_FAILURE);
  p.max_retries = 2;
  p.backoff.first = 0.01;
  p.timeout_ns = 80 * 1000000ull; /* DO_LATER takes 100 ms: timed out, retried */
  add_fakes("f", 100, &p, 1);
  tv_sup_run(sup);
  run_to_end();
  finish();
}

/* A shutdown with cooperative and stubborn tasks, some waiting for a permit:
 * everything is cancelled, the stubborn ones force-stopped at the deadline. */
static void sc_shutdown(void) {
  for (int i = 0; i < 12; i++) make_fake(i % 3 == 0 ? DO_STUBBORN : DO_WAIT);
  if (start_sup(100, 8) != 0) {
    finish();
    return;
  }
  tv_sup_subscribe(sup, "rec", 3, 4096, &recorder_ops, NULL, &subs[0]);
  tv_policy_t p = policy(TV_RESTART_ALWAYS);
  add_fakes("s", 12, &p, 1);
  tv_sup_run(sup);
  tv_sched_run_until(&sched, 10);
  expect_shutdown();
  run_to_end();
  /* whatever the deadline killed is stuck, named or not: the verdict is
   * GraceExceeded even when the list of names could not grow */
  uint32_t killed = 0;
  for (int i = 0; i < nfk; i++) killed += held[i] && fk[i]->kills > 0;
  EXPECT_T(sup->nstuck + sup->stuck_unnamed == killed);
  EXPECT_T(sup->grace_exceeded == (killed > 0));
  finish();
}

/* 300 tasks over three policies (registry and policy pool growth), half of
 * them removed, the rest force-stopped by a second shutdown request. */
static void sc_registry_growth(void) {
  for (int i = 0; i < 300; i++) make_fake(i % 2 ? DO_WAIT : DO_STUBBORN);
  if (start_sup(50, 0) != 0) {
    finish();
    return;
  }
  tv_policy_t ps[3] = {policy(TV_RESTART_ALWAYS), policy(TV_RESTART_ON_FAILURE),
                       policy(TV_RESTART_NEVER)};
  add_fakes("t", 300, ps, 3);
  tv_sched_run_until(&sched, 5);
  expect_names_consistent();
  for (int i = 0; i < 300; i += 2) {
    char name[16];
    snprintf(name, sizeof name, "t%d", i);
    int rc = tv_sup_remove(sup, name, strlen(name), NULL);
    EXPECT_T(rc == 0 || (rc == TV_ENOENT && !held[i]));
  }
  tv_sched_run_until(&sched, 20);
  tv_sup_run(sup);
  tv_sup_force(sup);
  run_to_end();
  finish();
}

/* Publishing to a consuming subscriber and to one that never consumes (its
 * queue overflows), plus a panic report: for each subscriber, events handed
 * over + queued + dropped = events published since it subscribed, even
 * when the event pool cannot grow. */
static void sc_publish(void) {
  if (start_sup(1000, 0) != 0) {
    stop_sup();
    return;
  }
  int ok[2];
  ok[0] = tv_sup_subscribe(sup, "pop", 3, 16, &popper_ops, NULL, &subs[0]) == 0;
  ok[1] = tv_sup_subscribe(sup, "full", 4, 4, &never_ops, NULL, &subs[1]) == 0;
  uint64_t first = tv_event_next_seq() + 1, last = 0; /* the peek took one seq */
  tv_str_t *task = tv_str_new("x", 1);
  for (int i = 0; i < 40; i++) {
    tv_event_t ev = tv_event_make(TV_EV_TASK_STARTING);
    ev.task = task;
    ev.attempt = (uint32_t)i;
    ev.fields = TV_F_ATTEMPT | (task ? TV_F_TASK : 0);
    last = tv_bus_publish(&sup->bus, &ev);
    tv_sched_run_pass(&sched);
  }
  if (ok[0]) tv_sub_report_panic(subs[0], "boom", 4, NULL);
  last = tv_event_next_seq(); /* everything published meanwhile came before this */
  tv_str_unref(task);
  for (int i = 0; i < 2; i++) {
    if (!ok[i]) continue;
    const tv_sub_t *s = subs[i];
    EXPECT_T(s->delivered + s->count + s->dropped == last - first);
  }
  stop_sup();
}

/* The controller: queue (one rejected as full), replace twice, drop_if_running,
 * run to completion, then a shutdown with work still queued. */
static void sc_controller(void) {
  for (int i = 0; i < 12; i++) make_fake(DO_LATER);
  if (start_sup(100, 0) != 0) {
    finish();
    return;
  }
  tv_ctl_t *c = NULL;
  int rc = tv_ctl_new(&c, sup, 2);
  EXPECT_T(is_ok_or_nomem(rc));
  if (rc != 0) {
    finish();
    return;
  }
  tv_sup_subscribe(sup, "rec", 3, 4096, &recorder_ops, NULL, &subs[0]);
  tv_policy_t p = policy(TV_RESTART_NEVER);
  static const char *const slots[12] = {"a", "a", "a", "a", "b", "b", "b", "c",
                                        "c", "d", "d", "d"};
  static const int admits[12] = {TV_ADMIT_QUEUE,   TV_ADMIT_QUEUE,   TV_ADMIT_QUEUE,
                                 TV_ADMIT_QUEUE,   TV_ADMIT_REPLACE, TV_ADMIT_REPLACE,
                                 TV_ADMIT_REPLACE, TV_ADMIT_QUEUE,   TV_ADMIT_DROP_IF_RUNNING,
                                 TV_ADMIT_QUEUE,   TV_ADMIT_QUEUE,   TV_ADMIT_QUEUE};
  for (int i = 0; i < 12; i++) {
    char name[16];
    snprintf(name, sizeof name, "k%d", i);
    tv_ctl_submission_t sub = {slots[i], 1, name, strlen(name), &fk[i]->base, &p,
                               (tv_admit_t)admits[i], "queue", NULL};
    tv_str_t *reason = NULL;
    if (reserve_fake(fk[i]) != 0) continue;
    rc = tv_ctl_submit(c, &sub, &reason);
    tv_str_unref(reason);
    EXPECT_T(rc == 0 || rc == TV_ENOMEM || rc == TV_EFULL || rc == TV_EBUSY);
    if (rc == 0) held[i] = 1; /* admitted: released exactly once from here on */
    if (i == 8) tv_sched_run_until(&sched, 10); /* slot d still queued at shutdown */
  }
  tv_sup_run(sup);
  tv_sched_run_until(&sched, 30);
  expect_shutdown();
  tv_sched_run_until(&sched, 60000);
  EXPECT_T(tv_sup_closed(sup));
  tv_ctl_destroy(c);
  expect_all_released();
  finish();
}

/* ---- the runner ----------------------------------------------------------------- */

typedef struct {
  const char *name;
  void (*fn)(void);
} scenario_t;

static int run_once(const scenario_t *sc, int mode, long at) {
  why[0] = '\0';
  arm(mode, at);
  sc->fn();
  arm(FAIL_NONE, 0);
  if (!why[0] && live != 0) snprintf(why, sizeof why, "%ld allocations leaked", live);
  live = 0;
  return why[0] == '\0';
}

static void run_scenario(const scenario_t *sc) {
  int before = check_failures;
  if (!run_once(sc, FAIL_NONE, 0)) {
    fprintf(stderr, "  %s without failures: %s\n", sc->name, why);
    CHECK(0);
    return;
  }
  arm(FAIL_NONE, 0);
  sc->fn(); /* count again, now that one-time state (seqs) is warm */
  long k = nallocs;
  live = 0;
  static const char *const modes[] = {"", "alone", "and all after it"};
  for (int mode = FAIL_ONE; mode <= FAIL_FROM; mode++) {
    int bad = 0;
    for (long n = 1; n <= k; n++) {
      if (run_once(sc, mode, n)) continue;
      if (bad++ == 0)
        fprintf(stderr, "  %s: allocation %ld of %ld failing %s: %s\n", sc->name, n, k,
                modes[mode], why);
    }
    CHECK(bad == 0);
    if (bad > 1) fprintf(stderr, "  (%d such runs)\n", bad);
  }
  printf("%s %s: %ld allocations, each failed alone and with all after it\n",
         check_failures == before ? "ok  " : "FAIL", sc->name, k);
}

/* Reserved timers arm, move and stop without allocating (a task's next
 * attempt and a shutdown's deadline can always be scheduled); an unreserved
 * timer that cannot get room says so and stays stopped. */
static void reserved_timers_never_allocate(void) {
  enum { N = 5000 };
  static tv_timer_t ts[N], extra[4096];
  static const tv_timer_cb never_fires = NULL; /* nothing runs: only arming is checked */
  tv_clock_init_manual(&clk, 0);
  tv_sched_init(&sched, &clk, NULL);
  for (int i = 0; i < N; i++) {
    tv_timer_init(&ts[i], never_fires);
    CHECK(tv_timer_reserve(&sched, &ts[i]) == 0);
  }
  for (int i = 0; i < 4096; i++) tv_timer_init(&extra[i], never_fires);
  arm(FAIL_FROM, 1); /* every allocation fails from here */
  int rc = 0;
  for (int i = 0; i < N; i++) rc |= tv_timer_start(&sched, &ts[i], (uint64_t)(i * 7919 % 1000));
  for (int i = 0; i < N; i += 3) tv_timer_stop(&sched, &ts[i]);
  for (int i = 0; i < N; i += 3) rc |= tv_timer_start(&sched, &ts[i], 5);
  long n = nallocs;
  /* unreserved timers take the room left over, then one needs the heap to grow */
  int extra_rc = 0, nextra = 0;
  while (nextra < 4096 && (extra_rc = tv_timer_start(&sched, &extra[nextra], 1)) == 0) nextra++;
  long n_extra = nallocs - n;
  arm(FAIL_NONE, 0);
  CHECK(rc == 0);
  CHECK_EQ_U(n, 0);
  CHECK(extra_rc == TV_ENOMEM);
  CHECK(nextra < 4096 && !tv_timer_active(&extra[nextra]));
  CHECK_EQ_U(n_extra, 1); /* only the growth that failed asked for memory */
  for (int i = 0; i < nextra; i++) tv_timer_stop(&sched, &extra[i]);
  int armed = 0;
  for (int i = 0; i < N; i++) armed += tv_timer_active(&ts[i]);
  CHECK_EQ_U(armed, N);
  CHECK_EQ_U(tv_sched_next_due(&sched), 0);
  for (int i = 0; i < N; i++) tv_timer_stop(&sched, &ts[i]);
  CHECK_EQ_U(tv_sched_next_due(&sched), UINT64_MAX);
  for (int i = 0; i < N; i++) tv_timer_unreserve(&sched, &ts[i]);
  CHECK_EQ_U(sched.spare, 0);
  tv_sched_close(&sched);
  live = 0;
}

int main(void) {
  static const scenario_t scenarios[] = {
      {"sup_new_and_subscribe", sc_new_and_subscribe},
      {"add_run_complete", sc_add_run_complete},
      {"backoff_storm", sc_backoff_storm},
      {"shutdown", sc_shutdown},
      {"registry_growth", sc_registry_growth},
      {"publish", sc_publish},
      {"controller", sc_controller},
  };
  RUN(reserved_timers_never_allocate);
  for (size_t i = 0; i < sizeof scenarios / sizeof *scenarios; i++) run_scenario(&scenarios[i]);
  return check_report();
}
