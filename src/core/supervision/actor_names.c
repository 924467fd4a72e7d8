/* actor_names.c - the words for an actor's states and ends, and for
 * auto_shutdown (events, outcomes and the binding show them). */
#include "core/supervision/actor.h"

const char *tv_actor_state_name(int state) {
  static const char *const names[] = {"queued", "waiting", "running", "backoff",
                                      "done",   "blocked", "hook",    "held"};
  return (unsigned)state < 8 ? names[state] : "?";
}

const char *tv_auto_shutdown_name(int mode) {
  static const char *const names[] = {"never", "any_significant", "all_significant"};
  return (unsigned)mode < 3 ? names[mode] : "?";
}

tv_str_t *tv_auto_shutdown_reason(const tv_actor_t *child, int mode) {
  return tv_str_printf("auto_shutdown = %s: significant child '%s' ended (%s)%s",
                       tv_auto_shutdown_name(mode), child->name->s, tv_actor_end_status(child->end),
                       mode == TV_AUTO_ALL_SIGNIFICANT ? "; no significant child is left" : "");
}

const char *tv_actor_end_status(int end) {
  switch (end) {
    case TV_END_COMPLETED: return "completed";
    case TV_END_EXHAUSTED:
    case TV_END_ESCALATED: return "exhausted";
    case TV_END_DEAD: return "dead";
    case TV_END_SETUP_FAILED: return "setup_failed";
    default: return "cancelled";
  }
}

tv_str_t *tv_actor_deadline_reason(const tv_actor_t *a, int killing) {
  char buf[48];
  if (killing == TV_KILL_WATCHDOG)
    return tv_str_printf("watchdog timeout: no sign of life within %s",
                         tv_fmt_duration((uint64_t)a->ext->watchdog_ms * TV_NS_PER_MS, buf, sizeof buf));
  return tv_str_printf("timed out after %s", tv_fmt_duration(a->policy->timeout_ns, buf, sizeof buf));
}
