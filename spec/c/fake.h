/* fake.h - a scripted fake task, a recording subscriber and a supervisor on a
 * manual clock, shared by the C state-machine tests. */
#ifndef TV_FAKE_H
#define TV_FAKE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"
#include "core/supervision/supervisor.h"

/* Helpers each test binary uses a subset of. */
#pragma GCC diagnostic ignored "-Wunused-function"

/* ---- the supervisor under test, on virtual time --------------------------- */

static tv_clock_t clk;
static tv_sched_t sched;
static tv_sup_t *sup;

/* ---- recorded events ------------------------------------------------------- */

#define MAX_EVENTS 512
static char events[MAX_EVENTS][160];
static uint64_t event_ms[MAX_EVENTS], event_seq[MAX_EVENTS];
static int nevents;

static void record(const tv_event_t *ev) {
  if (nevents >= MAX_EVENTS) return;
  char *b = events[nevents];
  int n = snprintf(b, 160, "%s", tv_event_kind_name(ev->kind));
  if (ev->fields & TV_F_TASK) n += snprintf(b + n, 160 - n, " %s", ev->task->s);
  if (ev->fields & TV_F_ATTEMPT) n += snprintf(b + n, 160 - n, " #%u", ev->attempt);
  if (ev->fields & TV_F_TIMEOUT_MS) n += snprintf(b + n, 160 - n, " timeout=%u", ev->timeout_ms);
  if (ev->fields & TV_F_DELAY_MS)
    n += snprintf(b + n, 160 - n, " delay=%u/%s", ev->delay_ms,
                  tv_backoff_source_name(ev->backoff_source));
  if (ev->fields & TV_F_EXIT_CODE) n += snprintf(b + n, 160 - n, " code=%d", ev->exit_code);
  if (ev->fields & TV_F_REASON) snprintf(b + n, 160 - n, " (%s)", ev->reason->s);
  event_ms[nevents] = tv_sched_now(&sched);
  event_seq[nevents] = ev->seq;
  nevents++;
}

static void recorder_wake(tv_sub_t *sub) {
  tv_event_t *ev;
  while ((ev = tv_sub_pop(sub))) {
    record(ev);
    tv_bus_event_unref(sub->bus, ev);
  }
  tv_sub_park(sub);
}
static const tv_sub_ops_t recorder_ops = {recorder_wake, NULL};

/* Index of the first recorded event starting with `prefix` at or after
 * `from`, or -1. */
static int find_event(const char *prefix, int from) {
  for (int i = from; i < nevents; i++)
    if (strncmp(events[i], prefix, strlen(prefix)) == 0) return i;
  return -1;
}

static int count_events(const char *prefix) {
  int n = 0;
  for (int i = 0; i < nevents; i++)
    if (strncmp(events[i], prefix, strlen(prefix)) == 0) n++;
  return n;
}

/* Checks that `want` (NULL-terminated) appears in order, each line an exact
 * match, ignoring events about other tasks when `task` is given. */
static int expect_sequence(const char *task, const char *const *want) {
  int w = 0;
  for (int i = 0; i < nevents && want[w]; i++) {
    if (task && !strstr(events[i], task)) continue;
    if (strcmp(events[i], want[w]) != 0) {
      fprintf(stderr, "  event %d: got   \"%s\"\n  expected        \"%s\"\n", i,
              events[i], want[w]);
      return 0;
    }
    w++;
  }
  if (want[w]) fprintf(stderr, "  missing \"%s\"\n", want[w]);
  return want[w] == NULL;
}

static void dump_events(void) {
  for (int i = 0; i < nevents; i++)
    fprintf(stderr, "  [%llu ms] %s\n", (unsigned long long)event_ms[i], events[i]);
}

/* ---- the scripted task ----------------------------------------------------- */

enum {
  DO_OK,       /* completes at once */
  DO_FAIL,     /* fails at once ("boom", exit code if set) */
  DO_FATAL,    /* fatal at once ("unrecoverable") */
  DO_WAIT,     /* runs until cancelled, then stops (deferred) */
  DO_STUBBORN, /* ignores cancellation; only kill stops it */
  DO_LATER     /* completes OK after `later_ms` unless cancelled */
};

typedef struct fake {
  tv_task_t base;
  int script[16], nscript, loop_last; /* attempt n uses script[min(n-1, last)] */
  int32_t exit_code;
  int has_exit_code;
  uint64_t later_ms;
  int starts, cancels, kills, released, running;
  tv_timer_t timer;
  tv_work_t stop;
} fake_t;

static int fakes_released;

static void fake_report(fake_t *f, tv_outcome_kind_t kind) {
  f->running = 0;
  tv_outcome_t o = {kind, 0, 0, NULL, 0, NULL, 0};
  if (kind == TV_OUTCOME_FAIL) o.msg = "boom", o.msg_len = 4;
  if (kind == TV_OUTCOME_FATAL) o.msg = "unrecoverable", o.msg_len = 13;
  if (kind == TV_OUTCOME_FAIL || kind == TV_OUTCOME_FATAL) {
    o.has_exit_code = f->has_exit_code;
    o.exit_code = f->exit_code;
  }
  tv_task_done(&f->base, &o);
}

static void fake_timer(tv_timer_t *t) {
  fake_t *f = (fake_t *)((char *)t - offsetof(fake_t, timer));
  fake_report(f, TV_OUTCOME_OK);
}

static void fake_stop(tv_work_t *w) {
  fake_t *f = (fake_t *)((char *)w - offsetof(fake_t, stop));
  fake_report(f, TV_OUTCOME_CANCELED);
}

static void fake_start(tv_task_t *t, uint32_t attempt) {
  fake_t *f = (fake_t *)t;
  f->starts++;
  f->running = 1;
  int i = (int)attempt - 1;
  int what = f->script[i < f->nscript ? i : f->nscript - 1];
  switch (what) {
    case DO_OK: fake_report(f, TV_OUTCOME_OK); break;
    case DO_FAIL: fake_report(f, TV_OUTCOME_FAIL); break;
    case DO_FATAL: fake_report(f, TV_OUTCOME_FATAL); break;
    case DO_LATER: tv_timer_start(&sched, &f->timer, f->later_ms); break;
    default: break;
  }
  (void)f->loop_last;
}

static void fake_cancel(tv_task_t *t) {
  fake_t *f = (fake_t *)t;
  f->cancels++;
  int i = (int)f->base.actor.attempt - 1;
  int what = f->script[i < f->nscript ? i : f->nscript - 1];
  if (what == DO_STUBBORN) return;
  tv_timer_stop(&sched, &f->timer);
  tv_work_defer(&sched, &f->stop, TV_LANE_NEXT);
}

static void fake_kill(tv_task_t *t) {
  fake_t *f = (fake_t *)t;
  f->kills++;
  tv_timer_stop(&sched, &f->timer);
  tv_work_cancel(&f->stop);
  fake_report(f, TV_OUTCOME_CANCELED);
}

static void fake_release(tv_task_t *t) {
  fake_t *f = (fake_t *)t;
  f->released = 1;
  fakes_released++;
}

static const tv_task_ops_t fake_ops = {fake_start, fake_cancel, fake_kill, fake_release,
                                       NULL,       NULL,        NULL,      NULL,
                                       NULL,       NULL,        NULL,      NULL};

static fake_t *fake_new(int n, const int *script) {
  fake_t *f = calloc(1, sizeof *f);
  tv_task_init(&f->base, &fake_ops);
  memcpy(f->script, script, (size_t)n * sizeof *script);
  f->nscript = n;
  f->later_ms = 100;
  tv_timer_init(&f->timer, fake_timer);
  tv_work_init(&f->stop, fake_stop);
  return f;
}

static void fake_free(fake_t *f) {
  tv_task_fini(&f->base);
  free(f);
}

static tv_policy_t policy(tv_restart_t restart) {
  tv_policy_t p;
  tv_policy_default(&p);
  p.restart = restart;
  return p;
}

static tv_sub_t *recorder;

static void setup_opts(const tv_sup_opts_t *o) {
  tv_clock_init_manual(&clk, 0);
  tv_sched_init(&sched, &clk, NULL);
  tv_sup_new(&sup, &sched, o);
  nevents = 0;
  fakes_released = 0;
  tv_sup_subscribe(sup, "recorder", 8, 4096, &recorder_ops, NULL, &recorder);
}

static void setup(uint64_t grace_ms) {
  tv_sup_opts_t o;
  tv_sup_opts_default(&o);
  o.grace_ns = grace_ms * 1000000ull;
  o.seeded = 1;
  o.seed = 1;
  setup_opts(&o);
}

static void teardown(void) {
  tv_sup_destroy(sup);
  tv_sched_close(&sched);
}

static int add(const char *name, fake_t *f, const tv_policy_t *p) {
  return tv_sup_add(sup, name, strlen(name), p, &f->base);
}

static void run_until(uint64_t ms) { tv_sched_run_until(&sched, ms); }

#endif
