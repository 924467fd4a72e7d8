/* event.c - event kind names and the process-wide sequence counter. */
#include "core/events/event.h"

#include <string.h>

static const char *const kind_names[] = {
#define X(id, name) name,
    TV_EVENT_KINDS(X)
#undef X
};

const char *tv_event_kind_name(int kind) {
  return (unsigned)kind < TV_EV__COUNT ? kind_names[kind] : "Unknown";
}

int tv_event_kind_parse(const char *name) {
  for (int i = 0; i < TV_EV__COUNT; i++)
    if (strcmp(kind_names[i], name) == 0) return i;
  return -1;
}

/* One loop thread: a plain counter is enough. */
static uint64_t next_seq = 1;

uint64_t tv_event_next_seq(void) { return next_seq++; }
uint64_t tv_event_last_seq(void) { return next_seq - 1; }

uint32_t tv_ns_to_ms_u32(uint64_t ns) {
  uint64_t ms = ns / 1000000ull;
  return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

const char *tv_backoff_source_name(int source) {
  static const char *const names[] = {"success", "failure", "schedule", "cooldown"};
  return (unsigned)source < 4 ? names[source] : "?";
}
