/* event.h - the typed lifecycle events every supervisor publishes.
 * Kind names are the reference crate's (semantics A9); new kinds are appended,
 * never renamed. `seq` is one process-wide counter starting at 1. */
#ifndef TV_EVENT_H
#define TV_EVENT_H

#include <stdint.h>

#include "core/base/str.h"

#define TV_EVENT_KINDS(X)                   \
  X(SUBSCRIBER_PANICKED, "SubscriberPanicked") \
  X(SUBSCRIBER_OVERFLOW, "SubscriberOverflow") \
  X(SHUTDOWN_REQUESTED, "ShutdownRequested")   \
  X(ALL_STOPPED_WITHIN_GRACE, "AllStoppedWithinGrace") \
  X(GRACE_EXCEEDED, "GraceExceeded")           \
  X(TASK_STARTING, "TaskStarting")             \
  X(TASK_STOPPED, "TaskStopped")               \
  X(TASK_FAILED, "TaskFailed")                 \
  X(TIMEOUT_HIT, "TimeoutHit")                 \
  X(BACKOFF_SCHEDULED, "BackoffScheduled")     \
  X(TASK_ADD_REQUESTED, "TaskAddRequested")    \
  X(TASK_ADDED, "TaskAdded")                   \
  X(TASK_REMOVE_REQUESTED, "TaskRemoveRequested") \
  X(TASK_REMOVED, "TaskRemoved")               \
  X(ACTOR_EXHAUSTED, "ActorExhausted")         \
  X(ACTOR_DEAD, "ActorDead")                   \
  X(TASK_ADD_FAILED, "TaskAddFailed")         \
  X(CONTROLLER_SUBMITTED, "ControllerSubmitted") \
  X(CONTROLLER_REJECTED, "ControllerRejected") \
  X(CONTROLLER_SLOT_TRANSITION, "ControllerSlotTransition") \
  X(TASK_OUTPUT, "TaskOutput")                 \
  X(TASK_READY, "TaskReady")                   \
  X(HOOK_FAILED, "HookFailed")                 \
  X(ESCALATED, "Escalated")                   \
  X(OUTPUT_LOST, "OutputLost")                 \
  X(AUTO_SHUTDOWN, "AutoShutdown")

typedef enum tv_event_kind {
#define X(id, name) TV_EV_##id,
  TV_EVENT_KINDS(X)
#undef X
  TV_EV__COUNT
} tv_event_kind_t;

/* Which optional fields an event carries. */
enum {
  TV_F_TASK = 1 << 0,
  TV_F_ATTEMPT = 1 << 1,
  TV_F_REASON = 1 << 2,
  TV_F_TIMEOUT_MS = 1 << 3,
  TV_F_DELAY_MS = 1 << 4,
  TV_F_BACKOFF_SOURCE = 1 << 5,
  TV_F_EXIT_CODE = 1 << 6,
  TV_F_TRACEBACK = 1 << 7,
  TV_F_SLOT = 1 << 8,   /* controller events: the slot's name */
  TV_F_SIGNAL = 1 << 9, /* the signal that ended a process (number) */
  TV_F_STREAM = 1 << 10, /* TaskOutput: TV_STREAM_* */
  TV_F_LINE = 1 << 11,   /* TaskOutput: one line of output */
  TV_F_FILE = 1 << 12,   /* OutputLost: the log file's path */
  TV_F_BYTES = 1 << 13,  /* OutputLost: bytes lost since the last report */
  TV_F_PID = 1 << 14,    /* TaskStarting of a process attempt: its pid */
  TV_F_KILLED = 1 << 15  /* TaskStopped / TaskFailed: the process needed SIGKILL */
};

enum { TV_STREAM_STDOUT = 1, TV_STREAM_STDERR = 2 };

/* What a BackoffScheduled waits for: the pause after a success, a failure's
 * backoff, the next run of an `every` schedule, a budget's cooldown. */
enum { TV_BACKOFF_SUCCESS = 0, TV_BACKOFF_FAILURE = 1, TV_BACKOFF_SCHEDULE = 2,
       TV_BACKOFF_COOLDOWN = 3 };
const char *tv_backoff_source_name(int source);

/* A published event. Owner: the bus's pool; each subscriber queue holding it
 * owns one reference (released with tv_bus_event_unref). The strings are
 * referenced, not copied. */
typedef struct tv_event {
  uint64_t seq;
  double at; /* seconds since the Unix epoch */
  tv_str_t *task, *reason, *traceback, *slot, *line, *file;
  uint64_t bytes;
  uint32_t attempt, timeout_ms, delay_ms;
  int32_t exit_code, signal, pid;
  uint16_t kind;
  uint32_t fields;
  uint8_t backoff_source, stream;
  uint32_t refs;
  struct tv_event *next_free;
} tv_event_t;

/* Every string field of an event, for code that must treat them all alike
 * (references taken and dropped): a new string field goes here too. */
#define TV_EVENT_STRINGS(X) X(task) X(reason) X(traceback) X(slot) X(line) X(file)

/* A stack template with only `kind` set; fill fields, then publish. */
static inline tv_event_t tv_event_make(tv_event_kind_t kind) {
  tv_event_t ev = {0};
  ev.kind = (uint16_t)kind;
  return ev;
}

const char *tv_event_kind_name(int kind);
/* The kind for a name, or -1. */
int tv_event_kind_parse(const char *name);
/* Internal diagnostics: never reported about (no overflow of an overflow). */
static inline int tv_event_is_diagnostic(int kind) {
  return kind == TV_EV_SUBSCRIBER_OVERFLOW || kind == TV_EV_SUBSCRIBER_PANICKED;
}
/* The next process-wide sequence number (1, 2, ...). */
uint64_t tv_event_next_seq(void);
/* The last sequence number given (0: none yet). */
uint64_t tv_event_last_seq(void);
/* Nanoseconds to whole milliseconds, saturating at UINT32_MAX. */
uint32_t tv_ns_to_ms_u32(uint64_t ns);

#endif
