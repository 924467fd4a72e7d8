/* ctl_event.c - one event (the API's JSON) as one line in tv.log_writer's
 * words, e.g. `[1042] [failed] task=web reason="exit status 1" attempt=3`,
 * with the full seq (the log writer keeps three digits; an operator needs
 * the seq to resume with --since) and, where the event has them, its exit
 * code and signal (the log writer's verbose fields). */
#include <string.h>

#include "ctl.h"

/* How a field is shown: s text, i integer (0 if absent), q quoted text,
 * D milliseconds as a duration, P / Q an integer / quoted text shown only
 * when present, K "killed=true" when true, R text without its key. */
typedef struct item {
  const char *key, *field;
  char how;
  const char *dflt;
} item;

typedef struct layout {
  const char *kind, *label;
  item items[6];
} layout;

#define TASK {"task", "task", 's', "none"}
#define ATTEMPT {"attempt", "attempt", 'i', NULL}
#define REASON(d) {"reason", "reason", 'q', d}

static const layout LAYOUTS[] = {
    {"ShutdownRequested", "shutdown-requested", {{0}}},
    {"AllStoppedWithinGrace", "all-stopped-within-grace", {{0}}},
    {"GraceExceeded", "grace-exceeded", {{0}}},
    {"TaskStarting", "starting", {TASK, ATTEMPT, {"pid", "pid", 'P', NULL}}},
    {"TaskStopped", "stopped", {TASK, {"killed", "killed", 'K', NULL}}},
    {"TaskFailed", "failed", {TASK, REASON("unknown"), ATTEMPT, {"killed", "killed", 'K', NULL}}},
    {"TimeoutHit", "timeout", {TASK, {"timeout", "timeout_ms", 'D', NULL}}},
    {"BackoffScheduled", "backoff",
     {TASK, {"source", "backoff_source", 's', "unknown"}, {"delay", "delay_ms", 'D', NULL},
      {"after_attempt", "attempt", 'i', NULL}, {"reason", "reason", 'Q', NULL}}},
    {"SubscriberOverflow", "subscriber-overflow", {{"subscriber", "task", 's', "none"}, REASON("unknown")}},
    {"SubscriberPanicked", "subscriber-panicked", {{"subscriber", "task", 's', "none"}, {"info", "reason", 'q', "unknown"}}},
    {"TaskAddRequested", "task-add-requested", {TASK}},
    {"TaskAdded", "task-added", {TASK}},
    {"TaskRemoveRequested", "task-remove-requested", {TASK}},
    {"TaskRemoved", "task-removed", {TASK}},
    {"TaskAddFailed", "task-add-failed", {TASK, REASON("unknown")}},
    {"ActorExhausted", "actor-exhausted", {TASK, REASON("policy")}},
    {"ActorDead", "actor-dead", {TASK, REASON("fatal")}},
    {"ControllerSubmitted", "controller-submitted", {{"slot", "slot", 's', "none"}, {NULL, "reason", 'R', ""}}},
    {"ControllerRejected", "controller-rejected", {{"slot", "slot", 's', "none"}, REASON("unknown")}},
    {"ControllerSlotTransition", "controller-transition",
     {{"slot", "slot", 's', "none"}, {"transition", "reason", 'q', "unknown"}}},
    {"TaskOutput", "output", {TASK, {"stream", "stream", 's', "stdout"}, {"line", "line", 'q', ""}}},
    {"TaskReady", "ready", {TASK, ATTEMPT}},
    {"HookFailed", "hook-failed", {TASK, REASON("unknown")}},
    {"OutputLost", "output-lost",
     {TASK, {"stream", "stream", 's', "stdout"}, {"file", "file", 'q', "unknown"}, {"bytes", "bytes", 'i', NULL},
      REASON("unknown")}},
    {"Escalated", "escalated", {TASK, REASON("unknown")}},
    {"EventsLost", "events-lost", {{"lost", "lost", 'i', NULL}, {"after", "after", 'i', NULL}}}, /* (the API's own) */
    {NULL, NULL, {{0}}},
};

static void quoted(const char *s, FILE *out) {
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fprintf(out, "\\%c", *s);
    else if (*s == '\n') fputs("\\n", out);
    else if (*s == '\r') fputs("\\r", out);
    else if (*s == '\t') fputs("\\t", out);
    else if ((unsigned char)*s < 0x20) fprintf(out, "\\%03o", (unsigned char)*s);
    else fputc(*s, out);
  }
  fputc('"', out);
}

static void duration_ms(json_int_t ms, FILE *out) {
  if (ms >= 1000 && ms % 1000 == 0) fprintf(out, "%llds", (long long)(ms / 1000));
  else if (ms >= 1000) fprintf(out, "%.1fs", (double)ms / 1000);
  else fprintf(out, "%lldms", (long long)ms);
}

static void field(const item *it, json_t *ev, FILE *out) {
  json_t *v = json_object_get(ev, it->field);
  const char *s = json_string_value(v);
  if ((it->how == 'P' && !json_is_integer(v)) || (it->how == 'Q' && !s) || (it->how == 'K' && !json_is_true(v)))
    return;
  fputc(' ', out);
  if (it->how != 'R') fprintf(out, "%s=", it->key);
  switch (it->how) {
  case 's': fputs(s ? s : it->dflt, out); break;
  case 'R': fputs(s ? s : it->dflt, out); break;
  case 'q': case 'Q': quoted(s ? s : it->dflt, out); break;
  case 'K': fputs("true", out); break;
  case 'D': duration_ms(json_is_number(v) ? (json_int_t)json_number_value(v) : 0, out); break;
  default: /* i, P */
    fprintf(out, "%" JSON_INTEGER_FORMAT, json_is_integer(v) ? json_integer_value(v) : (json_int_t)0);
  }
}

void tv_client_event_line(json_t *ev, FILE *out) {
  const char *kind = json_string_value(json_object_get(ev, "kind"));
  json_t *seq = json_object_get(ev, "seq");
  if (json_is_integer(seq)) fprintf(out, "[%03" JSON_INTEGER_FORMAT "] ", json_integer_value(seq));
  else fputs("[-] ", out); /* (not an event of the host's: EventsLost) */
  const layout *l = LAYOUTS;
  while (l->kind && (!kind || strcmp(l->kind, kind) != 0)) l++;
  if (l->kind) {
    fprintf(out, "[%s]", l->label);
    for (const item *it = l->items; it < l->items + 6 && it->field; it++) field(it, ev, out);
  } else { /* a kind newer than this client: still one line */
    const char *task = json_string_value(json_object_get(ev, "task"));
    fprintf(out, "[%s] task=%s", kind ? kind : "?", task ? task : "none");
  }
  json_t *code = json_object_get(ev, "exit_code"), *sig = json_object_get(ev, "signal");
  if (json_is_integer(code)) fprintf(out, " exit_code=%" JSON_INTEGER_FORMAT, json_integer_value(code));
  if (json_is_string(sig)) fprintf(out, " signal=%s", json_string_value(sig));
  else if (json_is_integer(sig)) fprintf(out, " signal=%" JSON_INTEGER_FORMAT, json_integer_value(sig));
  fputc('\n', out);
}
