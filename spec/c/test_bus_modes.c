/* test_bus_modes.c - the bus's two subscriber modes beside ordinary ones:
 * TV_SUB_KEEP_NEWEST (a record of the newest events: the oldest makes room,
 * nobody is woken, nothing is reported) and TV_SUB_LOSSY (a full queue drops
 * the new event and counts it, without SubscriberOverflow); neither is waited
 * for by tv_bus_drained; tv_bus_detach_all goes through ops->detach. */
#include "core/events/bus.h"
#include "core/base/error.h"
#include "check.h"

static tv_clock_t clk;
static tv_bus_t bus;
static int wakes, detached;
static void on_wake(tv_sub_t *sub) { (void)sub, wakes++; }
static void on_detach(tv_sub_t *sub) {
  detached++;
  tv_bus_unsubscribe(sub);
}
static const tv_sub_ops_t ops = {on_wake, NULL};
static const tv_sub_ops_t detach_ops = {on_wake, on_detach};

static uint64_t publish(tv_event_kind_t kind) {
  tv_event_t ev = tv_event_make(kind);
  return tv_bus_publish(&bus, &ev);
}

static int count_kind(tv_sub_t *sub, int kind) {
  int n = 0;
  for (uint32_t i = 0; i < sub->count; i++)
    if (tv_sub_at(sub, i)->kind == kind) n++;
  return n;
}

static void setup(void) {
  tv_clock_init_manual(&clk, 0);
  tv_bus_init(&bus, &clk);
  wakes = detached = 0;
}

static void keep_newest_drops_the_oldest(void) {
  setup();
  tv_sub_t *k;
  CHECK(tv_bus_subscribe(&bus, "k", 1, 3, &ops, NULL, &k) == 0);
  tv_sub_set_flags(k, TV_SUB_KEEP_NEWEST);
  uint64_t seq[5];
  for (int i = 0; i < 5; i++) seq[i] = publish(TV_EV_TASK_STARTING);
  CHECK_EQ_U(k->count, 3);
  CHECK_EQ_U(tv_sub_at(k, 0)->seq, seq[2]); /* oldest first: the newest three */
  CHECK_EQ_U(tv_sub_at(k, 1)->seq, seq[3]);
  CHECK_EQ_U(tv_sub_at(k, 2)->seq, seq[4]);
  CHECK_EQ_U(k->delivered, 5); /* stored, ever */
  CHECK_EQ_U(k->dropped, 0);
  CHECK_EQ_U(wakes, 0);          /* nobody is woken */
  CHECK(tv_bus_drained(&bus));   /* and nobody waits for it */
  tv_bus_close(&bus);
}

static void keep_newest_reports_no_overflow(void) {
  setup();
  tv_sub_t *k, *ord;
  tv_bus_subscribe(&bus, "k", 1, 1, &ops, NULL, &k);
  tv_sub_set_flags(k, TV_SUB_KEEP_NEWEST);
  tv_bus_subscribe(&bus, "ord", 3, 64, &ops, NULL, &ord);
  for (int i = 0; i < 10; i++) publish(TV_EV_TASK_STOPPED);
  CHECK_EQ_U(count_kind(ord, TV_EV_SUBSCRIBER_OVERFLOW), 0);
  CHECK_EQ_U(ord->count, 10);
  CHECK_EQ_U(k->count, 1);
  CHECK_EQ_U(tv_sub_at(k, 0)->kind, TV_EV_TASK_STOPPED);
  tv_bus_close(&bus);
}

/* Events evicted from the record go back to the pool: memory stays flat. */
static void keep_newest_recycles_events(void) {
  setup();
  tv_sub_t *k;
  tv_bus_subscribe(&bus, "k", 1, 2, &ops, NULL, &k);
  tv_sub_set_flags(k, TV_SUB_KEEP_NEWEST);
  tv_str_t *name = tv_str_new("t", 1);
  for (int i = 0; i < 100; i++) {
    tv_event_t ev = tv_event_make(TV_EV_TASK_STARTING);
    ev.fields = TV_F_TASK;
    ev.task = name;
    tv_bus_publish(&bus, &ev);
  }
  CHECK_EQ_U(name->refs, 3); /* ours and the two kept events' */
  int pooled = 0;
  for (tv_event_t *e = bus.free_events; e; e = e->next_free) pooled++;
  CHECK(pooled <= 1); /* three events made in all: two kept, one in the pool */
  tv_bus_close(&bus);
  CHECK_EQ_U(name->refs, 1);
  tv_str_unref(name);
}

static void lossy_drops_new_without_a_report(void) {
  setup();
  tv_sub_t *l, *ord;
  tv_bus_subscribe(&bus, "l", 1, 2, &ops, NULL, &l);
  tv_sub_set_flags(l, TV_SUB_LOSSY);
  tv_bus_subscribe(&bus, "ord", 3, 64, &ops, NULL, &ord);
  uint64_t first = publish(TV_EV_TASK_STARTING);
  for (int i = 0; i < 4; i++) publish(TV_EV_TASK_STOPPED);
  CHECK_EQ_U(l->count, 2);
  CHECK_EQ_U(tv_sub_at(l, 0)->seq, first); /* the oldest stay, the new are dropped */
  CHECK_EQ_U(l->dropped, 3);
  CHECK_EQ_U(count_kind(ord, TV_EV_SUBSCRIBER_OVERFLOW), 0);
  CHECK_EQ_U(wakes, 2); /* each woke once: its first event */
  CHECK(!tv_bus_drained(&bus)); /* the ordinary one is not drained */
  tv_event_t *ev;
  while ((ev = tv_sub_pop(ord))) tv_bus_event_unref(&bus, ev);
  CHECK(tv_sub_park(ord) == 1);
  CHECK(tv_bus_drained(&bus)); /* the lossy one, full, is not waited for */
  tv_bus_close(&bus);
}

/* An ordinary subscriber keeps its behaviour beside the modes. */
static void ordinary_still_reports_overflow(void) {
  setup();
  tv_sub_t *k, *small, *big;
  tv_bus_subscribe(&bus, "k", 1, 2, &ops, NULL, &k);
  tv_sub_set_flags(k, TV_SUB_KEEP_NEWEST);
  tv_bus_subscribe(&bus, "small", 5, 1, &ops, NULL, &small);
  tv_bus_subscribe(&bus, "big", 3, 64, &ops, NULL, &big);
  publish(TV_EV_TASK_STARTING);
  publish(TV_EV_TASK_STOPPED); /* small is full: dropped, reported */
  CHECK_EQ_U(small->dropped, 2); /* the event, and the report about it */
  CHECK_EQ_U(count_kind(big, TV_EV_SUBSCRIBER_OVERFLOW), 1);
  CHECK_EQ_U(k->count, 2); /* the record keeps the report too */
  CHECK_EQ_U(tv_sub_at(k, 1)->kind, TV_EV_SUBSCRIBER_OVERFLOW);
  tv_bus_close(&bus);
}

static void detach_all_goes_through_detach(void) {
  setup();
  tv_sub_t *a, *b;
  tv_bus_subscribe(&bus, "a", 1, 4, &detach_ops, NULL, &a);
  tv_bus_subscribe(&bus, "b", 1, 4, &ops, NULL, &b);
  publish(TV_EV_TASK_STARTING);
  tv_bus_detach_all(&bus);
  CHECK_EQ_U(detached, 1);
  CHECK_EQ_U(bus.nsubs, 0);
  tv_bus_close(&bus);
}

int main(void) {
  RUN(keep_newest_drops_the_oldest);
  RUN(keep_newest_reports_no_overflow);
  RUN(keep_newest_recycles_events);
  RUN(lossy_drops_new_without_a_report);
  RUN(ordinary_still_reports_overflow);
  RUN(detach_all_goes_through_detach);
  return check_report();
}
