/* test_controller.c - the controller's slot bookkeeping under random load, on
 * a manual clock, with fake tasks: submissions of every admission, removals,
 * time passing and a shutdown, checking after every step that each slot holds
 * at most one registered task (the one it thinks it runs), that queued work
 * starts only after its predecessor is gone and never after shutdown began,
 * and that every task is handed back exactly once. Run with no subscriber at
 * all: the controller must not need the bus. */
#include "core/supervision/controller.h"
#include "core/base/rng.h"
#include "check.h"
#include "fake.h"

enum { NSLOTS = 5, NFAKES = 600 };

static fake_t *fakes[NFAKES];
static int slot_of[NFAKES];
static char names[NFAKES][16];
static tv_ctl_t *ctl;

static const char *slot_name(int s) {
  static const char *const n[NSLOTS] = {"a", "b", "c", "d", "e"};
  return n[s];
}

static int fake_index(const tv_actor_t *a) {
  for (int i = 0; i < NFAKES; i++)
    if (fakes[i] && &fakes[i]->base.actor == a) return i;
  return -1;
}

/* Each slot: no more than one of its tasks registered, and that one is the
 * slot's running task; an idle slot has no registered task. */
static void check_slots(void) {
  for (int s = 0; s < NSLOTS; s++) {
    int registered = 0, which = -1;
    for (int i = 0; i < NFAKES; i++) {
      if (!fakes[i] || slot_of[i] != s) continue;
      if (tv_sup_find(sup, names[i], strlen(names[i])) == &fakes[i]->base.actor)
        registered++, which = i;
    }
    CHECK(registered <= 1);
    tv_slot_t *sl = tv_ctl_slot(ctl, slot_name(s), 1);
    if (registered == 1) {
      CHECK(sl != NULL);
      if (sl) CHECK(fake_index(sl->actor) == which);
      if (sl) CHECK(sl->status != TV_SLOT_IDLE);
    }
    if (sl && sl->status != TV_SLOT_IDLE) CHECK(registered == 1);
    if (sl && sl->status == TV_SLOT_IDLE) CHECK(sl->depth == 0); /* idle never waits */
  }
}

static void random_load(uint64_t seed, int with_subscriber) {
  tv_sup_opts_t o;
  tv_sup_opts_default(&o);
  o.grace_ns = 300 * 1000000ull;
  tv_clock_init_manual(&clk, 0);
  tv_sched_init(&sched, &clk, NULL);
  tv_sup_new(&sup, &sched, &o);
  nevents = 0;
  fakes_released = 0;
  if (with_subscriber) /* a tiny queue: it overflows all the time */
    tv_sup_subscribe(sup, "recorder", 8, 2, &recorder_ops, NULL, &recorder);
  CHECK(tv_ctl_new(&ctl, sup, 3) == 0);
  tv_rng_t rng;
  tv_rng_seed(&rng, seed);
  tv_policy_t p = policy(TV_RESTART_NEVER);
  int admitted = 0, started_after_shutdown = 0, stopping = 0;
  int starts_at_shutdown = 0;
  uint64_t now = 0;
  for (int i = 0; i < NFAKES; i++) {
    int kind = (int)(tv_rng_next(&rng) % 10);
    int script = kind < 6 ? DO_LATER : kind < 9 ? DO_WAIT : DO_STUBBORN;
    fakes[i] = fake_new(1, (int[]){script});
    fakes[i]->later_ms = 1 + tv_rng_next(&rng) % 80;
    slot_of[i] = (int)(tv_rng_next(&rng) % NSLOTS);
    /* names repeat now and then: re-submitting a running name is allowed */
    snprintf(names[i], sizeof names[i], "t%d", (int)(tv_rng_next(&rng) % 400));
    tv_ctl_submission_t sub = {slot_name(slot_of[i]), 1, names[i], strlen(names[i]),
                               &fakes[i]->base, &p, (tv_admit_t)(tv_rng_next(&rng) % 5),
                               "random", NULL};
    int rc = tv_ctl_submit(ctl, &sub, NULL);
    CHECK(rc == 0 || rc == TV_EFULL || rc == TV_EBUSY || rc == TV_EREJECTED ||
          rc == TV_EEXIST || (stopping && rc == TV_ESHUTDOWN));
    if (rc == 0) {
      admitted++;
    } else { /* the caller keeps a rejected task */
      fake_free(fakes[i]);
      fakes[i] = NULL;
    }
    if (tv_rng_next(&rng) % 7 == 0) { /* remove something at random */
      int j = (int)(tv_rng_next(&rng) % (unsigned)(i + 1));
      if (fakes[j] && !fakes[j]->released)
        tv_sup_remove(sup, names[j], strlen(names[j]), NULL);
    }
    now += tv_rng_next(&rng) % 25;
    run_until(now);
    check_slots();
    if (i == NFAKES - 100) { /* shutdown with work queued */
      int starts = 0;
      for (int k = 0; k <= i; k++) starts += fakes[k] ? fakes[k]->starts : 0;
      starts_at_shutdown = starts;
      tv_sup_shutdown(sup, "test");
      stopping = 1;
      uint32_t n;
      tv_slot_t **all = tv_ctl_slots(ctl, &n);
      for (uint32_t k = 0; k < n; k++) CHECK(all[k]->depth == 0); /* queues rejected */
      free(all);
    }
  }
  tv_sup_run(sup); /* now the embedding waits: the supervisor may close */
  run_until(now + 10000);
  int starts = 0;
  for (int k = 0; k < NFAKES; k++) starts += fakes[k] ? fakes[k]->starts : 0;
  /* after shutdown began, only tasks already registered could still start
   * their first attempt (they were queued in the run queue); none came from a
   * slot queue, so the count cannot exceed what was registered then */
  started_after_shutdown = starts - starts_at_shutdown;
  CHECK(started_after_shutdown <= NSLOTS);
  CHECK(tv_sup_closed(sup));
  CHECK_EQ_U(fakes_released, admitted); /* every admitted task handed back once */
  uint32_t n;
  free(tv_ctl_slots(ctl, &n));
  CHECK_EQ_U(n, 0);
  tv_ctl_destroy(ctl);
  if (with_subscriber) CHECK(nevents > 0);
  tv_sup_destroy(sup);
  tv_sched_close(&sched);
  for (int i = 0; i < NFAKES; i++) {
    if (fakes[i]) {
      CHECK(fakes[i]->released);
      fake_free(fakes[i]);
      fakes[i] = NULL;
    }
  }
}

static void random_load_without_subscribers(void) {
  for (uint64_t seed = 1; seed <= 20; seed++) random_load(seed, 0);
}

static void random_load_with_overflowing_subscriber(void) {
  for (uint64_t seed = 21; seed <= 40; seed++) random_load(seed, 1);
}

/* Destroying the controller with queued work releases it. */
static void destroy_releases_queued(void) {
  setup(1000);
  CHECK(tv_ctl_new(&ctl, sup, 10) == 0);
  tv_policy_t p = policy(TV_RESTART_NEVER);
  fake_t *a = fake_new(1, (int[]){DO_WAIT}), *b = fake_new(1, (int[]){DO_OK});
  tv_ctl_submission_t sa = {"s", 1, "a", 1, &a->base, &p, TV_ADMIT_QUEUE, "queue", NULL};
  tv_ctl_submission_t sb = {"s", 1, "b", 1, &b->base, &p, TV_ADMIT_QUEUE, "queue", NULL};
  CHECK(tv_ctl_submit(ctl, &sa, NULL) == 0);
  CHECK(tv_ctl_submit(ctl, &sb, NULL) == 0);
  CHECK(tv_ctl_slot(ctl, "s", 1)->depth == 1);
  tv_ctl_destroy(ctl);
  CHECK(b->released);  /* the queued one, by the controller */
  CHECK(!a->released); /* the running one still belongs to the supervisor */
  teardown();
  CHECK(a->released);
  fake_free(a);
  fake_free(b);
}

int main(void) {
  RUN(random_load_without_subscribers);
  RUN(random_load_with_overflowing_subscriber);
  RUN(destroy_releases_queued);
  return check_report();
}
