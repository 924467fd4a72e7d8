/* test_bus.c - bounded subscriber queues, overflow and panic diagnostics,
 * sequence numbers, draining. */
#include "core/events/bus.h"
#include "core/base/error.h"
#include "check.h"

static tv_clock_t clk;
static tv_bus_t bus;
static int wakes;
static void on_wake(tv_sub_t *sub) { (void)sub, wakes++; }
static const tv_sub_ops_t ops = {on_wake, NULL};

static void publish(tv_event_kind_t kind) {
  tv_event_t ev = tv_event_make(kind);
  tv_bus_publish(&bus, &ev);
}

static int drain_count(tv_sub_t *sub, int kind) {
  int n = 0;
  tv_event_t *ev;
  while ((ev = tv_sub_pop(sub))) {
    if (kind < 0 || ev->kind == kind) n++;
    tv_bus_event_unref(&bus, ev);
  }
  return n;
}

static void setup(void) {
  tv_clock_init_manual(&clk, 0);
  tv_bus_init(&bus, &clk);
  wakes = 0;
}

static void subscriber_receives_after_subscribe(void) {
  setup();
  publish(TV_EV_TASK_STARTING); /* nobody listens: dropped */
  tv_sub_t *s;
  CHECK(tv_bus_subscribe(&bus, "s", 1, 8, &ops, NULL, &s) == 0);
  publish(TV_EV_TASK_STOPPED);
  CHECK_EQ_U(wakes, 1);
  tv_event_t *ev = tv_sub_pop(s);
  CHECK(ev && ev->kind == TV_EV_TASK_STOPPED);
  CHECK(ev && ev->at > 0);
  tv_bus_event_unref(&bus, ev);
  CHECK(tv_sub_pop(s) == NULL);
  tv_bus_close(&bus);
}

static void zero_capacity_is_rejected(void) {
  setup();
  tv_sub_t *s;
  CHECK(tv_bus_subscribe(&bus, "s", 1, 0, &ops, NULL, &s) == TV_EINVAL);
  tv_bus_close(&bus);
}

static void overflow_drops_for_that_subscriber_only(void) {
  setup();
  tv_sub_t *small, *big;
  tv_bus_subscribe(&bus, "small", 5, 1, &ops, NULL, &small);
  tv_bus_subscribe(&bus, "big", 3, 64, &ops, NULL, &big);
  for (int i = 0; i < 3; i++) publish(TV_EV_TASK_STARTING);
  CHECK_EQ_U(small->dropped, 4); /* 2 starts + its own 2 overflow notices */
  /* big got 3 starts and 2 overflow diagnostics naming "small" */
  int starts = 0, overflows = 0;
  tv_event_t *ev;
  while ((ev = tv_sub_pop(big))) {
    if (ev->kind == TV_EV_TASK_STARTING) starts++;
    if (ev->kind == TV_EV_SUBSCRIBER_OVERFLOW) {
      overflows++;
      CHECK_STR(ev->task->s, "small");
      CHECK_STR(ev->reason->s, "subscriber=small reason=full");
    }
    tv_bus_event_unref(&bus, ev);
  }
  CHECK_EQ_U(starts, 3);
  CHECK_EQ_U(overflows, 2);
  CHECK_EQ_U(drain_count(small, TV_EV_TASK_STARTING), 1);
  tv_bus_close(&bus);
}

static void no_overflow_about_overflow(void) {
  setup();
  tv_sub_t *a;
  tv_bus_subscribe(&bus, "a", 1, 1, &ops, NULL, &a);
  publish(TV_EV_SUBSCRIBER_OVERFLOW);
  publish(TV_EV_SUBSCRIBER_OVERFLOW);
  publish(TV_EV_SUBSCRIBER_PANICKED);
  CHECK_EQ_U(a->dropped, 2);
  CHECK_EQ_U(drain_count(a, -1), 1); /* only the first; no new diagnostics */
  tv_bus_close(&bus);
}

static void panic_is_reported_unless_about_a_diagnostic(void) {
  setup();
  tv_sub_t *bad, *obs;
  tv_bus_subscribe(&bus, "bad", 3, 16, &ops, NULL, &bad);
  tv_bus_subscribe(&bus, "obs", 3, 16, &ops, NULL, &obs);
  publish(TV_EV_TASK_STARTING);
  tv_event_t *ev = tv_sub_pop(bad);
  tv_bus_event_unref(&bus, ev);
  tv_sub_report_panic(bad, "oops", 4, NULL);
  /* bad now holds its own SubscriberPanicked; failing on it reports nothing */
  ev = tv_sub_pop(bad);
  CHECK(ev && ev->kind == TV_EV_SUBSCRIBER_PANICKED);
  CHECK(ev && strcmp(ev->reason->s, "oops") == 0 && strcmp(ev->task->s, "bad") == 0);
  tv_bus_event_unref(&bus, ev);
  tv_sub_report_panic(bad, "again", 5, NULL);
  CHECK_EQ_U(drain_count(obs, TV_EV_SUBSCRIBER_PANICKED), 1);
  CHECK_EQ_U(drain_count(bad, -1), 0);
  tv_bus_close(&bus);
}

static void seq_increases_and_pool_is_reused(void) {
  setup();
  tv_sub_t *s;
  tv_bus_subscribe(&bus, "s", 1, 4, &ops, NULL, &s);
  uint64_t last = 0;
  tv_event_t *first = NULL;
  for (int i = 0; i < 1000; i++) {
    tv_event_t tmpl = tv_event_make(TV_EV_TASK_STARTING);
    uint64_t seq = tv_bus_publish(&bus, &tmpl);
    CHECK(seq > last);
    last = seq;
    tv_event_t *ev = tv_sub_pop(s);
    CHECK(ev && ev->seq == seq);
    if (!first) first = ev;
    CHECK(ev == first); /* one pooled event, recycled */
    tv_bus_event_unref(&bus, ev);
  }
  tv_bus_close(&bus);
}

static void strings_are_shared_not_copied(void) {
  setup();
  tv_sub_t *a, *b;
  tv_bus_subscribe(&bus, "a", 1, 4, &ops, NULL, &a);
  tv_bus_subscribe(&bus, "b", 1, 4, &ops, NULL, &b);
  tv_str_t *name = tv_str_new("task", 4);
  tv_event_t tmpl = tv_event_make(TV_EV_TASK_STARTING);
  tmpl.task = name;
  tmpl.fields = TV_F_TASK;
  tv_bus_publish(&bus, &tmpl);
  CHECK_EQ_U(name->refs, 2); /* ours + the one pooled event's */
  drain_count(a, -1);
  CHECK_EQ_U(name->refs, 2);
  drain_count(b, -1);
  CHECK_EQ_U(name->refs, 1);
  tv_str_unref(name);
  tv_bus_close(&bus);
}

static void drained_means_empty_and_parked(void) {
  setup();
  tv_sub_t *s;
  tv_bus_subscribe(&bus, "s", 1, 4, &ops, NULL, &s);
  CHECK(tv_bus_drained(&bus));
  publish(TV_EV_TASK_STARTING);
  CHECK(!tv_bus_drained(&bus));
  CHECK(tv_sub_park(s) == 0); /* events waiting: not parked */
  drain_count(s, -1);
  CHECK(!tv_bus_drained(&bus)); /* empty but the consumer has not parked */
  CHECK(tv_sub_park(s) == 1);
  CHECK(tv_bus_drained(&bus));
  publish(TV_EV_TASK_STOPPED);
  CHECK_EQ_U(wakes, 2);
  tv_bus_close(&bus);
}

int main(void) {
  RUN(subscriber_receives_after_subscribe);
  RUN(zero_capacity_is_rejected);
  RUN(overflow_drops_for_that_subscriber_only);
  RUN(no_overflow_about_overflow);
  RUN(panic_is_reported_unless_about_a_diagnostic);
  RUN(seq_increases_and_pool_is_reused);
  RUN(strings_are_shared_not_copied);
  RUN(drained_means_empty_and_parked);
  return check_report();
}
