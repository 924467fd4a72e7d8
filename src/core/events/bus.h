/* bus.h - best-effort fan-out of events to subscribers.
 *
 * Publishing never blocks and never fails: each subscriber has its own bounded
 * FIFO queue (a ring of event pointers); a full queue drops that event for that
 * subscriber only and publishes SubscriberOverflow. Diagnostics about
 * diagnostics are never produced. Events are pooled and reference-counted, so
 * steady-state publishing allocates nothing; with no subscriber, publishing
 * only takes a sequence number. Nothing in the core's bookkeeping depends on
 * the bus: it is observability only.
 *
 * Two modes change that for one subscriber (tv_sub_set_flags):
 * TV_SUB_KEEP_NEWEST makes its queue a record of the newest `cap` events (a
 * full ring drops its oldest; it never wakes anyone: the owner reads the ring
 * in place, tv_sub_at), so keeping a backlog costs a publish one ring store;
 * TV_SUB_LOSSY makes a full queue drop the new event, counted in `dropped`,
 * without SubscriberOverflow: the consumer reports its losses itself. Neither
 * kind is waited for by tv_bus_drained.
 *
 * Owner: the supervisor embeds the bus; the bus owns its subscribers (freed by
 * tv_bus_unsubscribe or tv_bus_close) and its event pool. */
#ifndef TV_BUS_H
#define TV_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/clock.h"
#include "core/events/event.h"
#include "core/base/list.h"

typedef struct tv_bus tv_bus_t;
typedef struct tv_sub tv_sub_t;

typedef struct tv_sub_ops {
  /* The queue became non-empty while the consumer was parked. Must not run
   * the consumer synchronously: defer it. */
  void (*wake)(tv_sub_t *sub);
  /* Optional: the bus's owner is closing (tv_bus_detach_all): stop using sub
   * and end it with tv_bus_unsubscribe. NULL: the bus unsubscribes it. */
  void (*detach)(tv_sub_t *sub);
} tv_sub_ops_t;

enum { TV_SUB_KEEP_NEWEST = 1, TV_SUB_LOSSY = 2 };

struct tv_sub {
  tv_link_t link; /* in the bus's list */
  tv_bus_t *bus;
  tv_str_t *name;
  tv_event_t **ring;
  uint32_t cap, head, count;
  uint8_t parked;     /* consumer waits for tv_sub_ops.wake */
  uint8_t overflowed; /* scratch for one publish */
  uint8_t flags;      /* TV_SUB_* */
  uint16_t last_kind; /* kind of the event the consumer popped last */
  /* delivered: events popped (TV_SUB_KEEP_NEWEST: events stored, ever);
   * dropped: queue full, or no memory for the event */
  uint64_t delivered, dropped;
  const tv_sub_ops_t *ops;
  void *data; /* the consumer's */
};

struct tv_bus {
  tv_link_t subs; /* of tv_sub_t */
  uint32_t nsubs;
  tv_clock_t *clock;
  tv_event_t *free_events;
  uint64_t at_ms; /* the loop's time when `at` was read (UINT64_MAX: never) */
  double at;      /* the wall clock then: the `at` of events until it moves */
  /* Called when a consumer parks on an empty queue (drain tracking). */
  void (*on_park)(tv_bus_t *bus);
  void *data;
};

static inline tv_sub_t *tv_bus_sub(tv_link_t *l) { return tv_container_of(l, tv_sub_t, link); }

void tv_bus_init(tv_bus_t *bus, tv_clock_t *clock);
/* Detaches everyone (tv_bus_detach_all) and frees the pool. */
void tv_bus_close(tv_bus_t *bus);
/* Ends every subscription: through its ops->detach, else tv_bus_unsubscribe. */
void tv_bus_detach_all(tv_bus_t *bus);

/* A new subscriber with a queue of `cap` (>= 1) events, parked (its first
 * event wakes it). Returns 0, TV_EINVAL or TV_ENOMEM. */
int tv_bus_subscribe(tv_bus_t *bus, const char *name, size_t len, uint32_t cap,
                     const tv_sub_ops_t *ops, void *data, tv_sub_t **out);
/* Drops the queue's events and frees the subscriber. */
void tv_bus_unsubscribe(tv_sub_t *sub);
/* Sets TV_SUB_* on a subscriber before anything is published to it. */
void tv_sub_set_flags(tv_sub_t *sub, unsigned flags);
/* The i-th queued event, oldest first (i < count), still queued: borrowed. */
static inline tv_event_t *tv_sub_at(const tv_sub_t *sub, uint32_t i) {
  return sub->ring[(sub->head + i) % sub->cap];
}

/* Stamps seq (and `at` when anyone listens: the wall clock as read once per
 * tick of the loop's clock, which moves once per loop pass) and fans the event out. The
 * template's strings are borrowed. Returns the seq given. */
uint64_t tv_bus_publish(tv_bus_t *bus, tv_event_t *tmpl);

/* The oldest queued event (the caller owns one reference), or NULL. */
tv_event_t *tv_sub_pop(tv_sub_t *sub);
void tv_bus_event_unref(tv_bus_t *bus, tv_event_t *ev);
/* Copies a popped event into *out with references of its own on its strings,
 * then drops the popped reference: a consumer that may lose the bus while it
 * reads the event (its owner collected mid-delivery) reads the copy and ends
 * it with tv_event_drop_copy. */
void tv_bus_event_take(tv_bus_t *bus, tv_event_t *ev, tv_event_t *out);
void tv_event_drop_copy(tv_event_t *copy);
/* The consumer waits for events: returns 1 if parked (queue empty) or 0 if
 * events are waiting (pop them instead). */
int tv_sub_park(tv_sub_t *sub);
/* The consumer's callback raised on the event it popped last: publishes
 * SubscriberPanicked{task=name, reason=msg}, unless that event was itself a
 * diagnostic. */
void tv_sub_report_panic(tv_sub_t *sub, const char *msg, size_t len,
                         tv_str_t *traceback);
/* Every queue is empty and every consumer parked. */
int tv_bus_drained(const tv_bus_t *bus);

#endif
