/* bus.c - per-subscriber bounded queues, pooled events, overflow and panic
 * diagnostics. */
#include "core/events/bus.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"

void tv_bus_init(tv_bus_t *bus, tv_clock_t *clock) {
  tv_list_init(&bus->subs);
  bus->nsubs = 0;
  bus->clock = clock;
  bus->free_events = NULL;
  bus->at_ms = UINT64_MAX;
  bus->at = 0;
  bus->on_park = NULL;
  bus->data = NULL;
}

void tv_bus_detach_all(tv_bus_t *bus) {
  while (!tv_list_empty(&bus->subs)) {
    tv_sub_t *sub = tv_bus_sub(bus->subs.next);
    if (sub->ops && sub->ops->detach)
      sub->ops->detach(sub);
    else
      tv_bus_unsubscribe(sub);
  }
}

void tv_bus_close(tv_bus_t *bus) {
  tv_bus_detach_all(bus);
  while (bus->free_events) {
    tv_event_t *ev = bus->free_events;
    bus->free_events = ev->next_free;
    free(ev);
  }
}

int tv_bus_subscribe(tv_bus_t *bus, const char *name, size_t len, uint32_t cap,
                     const tv_sub_ops_t *ops, void *data, tv_sub_t **out) {
  if (cap == 0) return TV_EINVAL;
  tv_sub_t *sub = calloc(1, sizeof *sub);
  if (!sub) return TV_ENOMEM;
  sub->ring = malloc((size_t)cap * sizeof *sub->ring);
  sub->name = tv_str_new(name, len);
  if (!sub->ring || !sub->name) {
    free(sub->ring);
    tv_str_unref(sub->name);
    free(sub);
    return TV_ENOMEM;
  }
  sub->bus = bus;
  sub->cap = cap;
  sub->parked = 1;
  sub->last_kind = UINT16_MAX;
  sub->ops = ops;
  sub->data = data;
  tv_list_push(&bus->subs, &sub->link);
  bus->nsubs++;
  *out = sub;
  return 0;
}

void tv_bus_unsubscribe(tv_sub_t *sub) {
  tv_bus_t *bus = sub->bus;
  tv_event_t *ev;
  while ((ev = tv_sub_pop(sub))) tv_bus_event_unref(bus, ev);
  tv_list_unlink(&sub->link);
  bus->nsubs--;
  tv_str_unref(sub->name);
  free(sub->ring);
  free(sub);
}

void tv_sub_set_flags(tv_sub_t *sub, unsigned flags) {
  sub->flags = (uint8_t)flags;
  if (flags & TV_SUB_KEEP_NEWEST) sub->parked = 0; /* (nobody to wake) */
}

static tv_event_t *event_alloc(tv_bus_t *bus) {
  tv_event_t *ev = bus->free_events;
  if (ev) {
    bus->free_events = ev->next_free;
    return ev;
  }
  return malloc(sizeof *ev);
}

void tv_bus_event_unref(tv_bus_t *bus, tv_event_t *ev) {
  if (--ev->refs) return;
#define UNREF(f) if (ev->f) tv_str_unref(ev->f); /* most are NULL: no call */
  TV_EVENT_STRINGS(UNREF)
#undef UNREF
  ev->next_free = bus->free_events;
  bus->free_events = ev;
}

void tv_bus_event_take(tv_bus_t *bus, tv_event_t *ev, tv_event_t *out) {
  *out = *ev;
#define REF(f) tv_str_ref(out->f);
  TV_EVENT_STRINGS(REF)
#undef REF
  tv_bus_event_unref(bus, ev);
}

void tv_event_drop_copy(tv_event_t *copy) {
#define UNREF(f) if (copy->f) tv_str_unref(copy->f);
  TV_EVENT_STRINGS(UNREF)
#undef UNREF
}

static void publish_overflow(tv_bus_t *bus, tv_sub_t *sub) {
  tv_event_t ev = tv_event_make(TV_EV_SUBSCRIBER_OVERFLOW);
  tv_str_t *reason = tv_str_printf("subscriber=%s reason=full", sub->name->s);
  ev.fields = TV_F_TASK | (reason ? TV_F_REASON : 0);
  ev.task = sub->name;
  ev.reason = reason;
  tv_bus_publish(bus, &ev);
  tv_str_unref(reason);
}

/* An event's `at`. The loop's clock is cached per pass (uv_now), the wall
 * clock is a system call: it is read again only when the loop's time moved,
 * not per event (it was ~8% of a subscriber's cost). The one place `at` is
 * read. */
static double event_at(tv_bus_t *bus) {
  uint64_t now = tv_clock_now(bus->clock);
  if (now != bus->at_ms) {
    bus->at_ms = now;
    bus->at = tv_clock_wall(bus->clock);
  }
  return bus->at;
}

uint64_t tv_bus_publish(tv_bus_t *bus, tv_event_t *tmpl) {
  uint64_t seq = tv_event_next_seq();
  if (bus->nsubs == 0) return seq;
  tv_event_t *ev = event_alloc(bus);
  if (!ev) { /* best effort: dropped for everyone, and counted */
    tv_list_each(l, &bus->subs) tv_bus_sub(l)->dropped++;
    return seq;
  }
  *ev = *tmpl;
  ev->seq = seq;
  ev->at = event_at(bus);
  ev->refs = 1; /* held by this function until the fan-out is done */
#define REF(f) tv_str_ref(ev->f);
  TV_EVENT_STRINGS(REF)
#undef REF
  int diagnostic = tv_event_is_diagnostic(ev->kind), overflows = 0;
  tv_list_each(l, &bus->subs) {
    tv_sub_t *sub = tv_bus_sub(l);
    if (sub->count == sub->cap) {
      if (sub->flags & TV_SUB_KEEP_NEWEST) { /* the oldest makes room */
        tv_event_t *old = sub->ring[sub->head];
        sub->ring[sub->head] = ev;
        sub->head = (sub->head + 1) % sub->cap;
        sub->delivered++;
        ev->refs++;
        tv_bus_event_unref(bus, old);
        continue;
      }
      sub->dropped++;
      if (!diagnostic && !(sub->flags & TV_SUB_LOSSY)) sub->overflowed = 1, overflows = 1;
      continue;
    }
    sub->ring[(sub->head + sub->count++) % sub->cap] = ev;
    ev->refs++;
    if (sub->flags & TV_SUB_KEEP_NEWEST) {
      sub->delivered++;
      continue;
    }
    if (sub->parked) {
      sub->parked = 0;
      sub->ops->wake(sub);
    }
  }
  tv_bus_event_unref(bus, ev);
  if (overflows) {
    tv_list_each(l, &bus->subs) {
      tv_sub_t *sub = tv_bus_sub(l);
      if (!sub->overflowed) continue;
      sub->overflowed = 0;
      publish_overflow(bus, sub);
    }
  }
  return seq;
}

tv_event_t *tv_sub_pop(tv_sub_t *sub) {
  if (sub->count == 0) return NULL;
  tv_event_t *ev = sub->ring[sub->head];
  sub->head = (sub->head + 1) % sub->cap;
  sub->count--;
  sub->delivered++;
  sub->last_kind = ev->kind;
  return ev;
}

int tv_sub_park(tv_sub_t *sub) {
  if (sub->count) return 0;
  sub->parked = 1;
  if (sub->bus->on_park) sub->bus->on_park(sub->bus);
  return 1;
}

void tv_sub_report_panic(tv_sub_t *sub, const char *msg, size_t len,
                         tv_str_t *traceback) {
  if (sub->last_kind != UINT16_MAX && tv_event_is_diagnostic(sub->last_kind))
    return;
  tv_event_t ev = tv_event_make(TV_EV_SUBSCRIBER_PANICKED);
  tv_str_t *reason = tv_str_new(msg, len);
  ev.fields = TV_F_TASK | (reason ? TV_F_REASON : 0) |
              (traceback ? TV_F_TRACEBACK : 0);
  ev.task = sub->name;
  ev.reason = reason;
  ev.traceback = traceback;
  tv_bus_publish(sub->bus, &ev);
  tv_str_unref(reason);
}

int tv_bus_drained(const tv_bus_t *bus) {
  tv_list_each(l, &bus->subs) {
    const tv_sub_t *sub = tv_bus_sub(l);
    if (sub->flags & (TV_SUB_KEEP_NEWEST | TV_SUB_LOSSY)) continue; /* (not waited for) */
    if (sub->count || !sub->parked) return 0;
  }
  return 1;
}
