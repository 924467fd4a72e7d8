/* proc.h - one run of a child process: spawn through the reaper, output
 * pumps (log file, TaskOutput lines, bounded capture), an optional run
 * timeout, stop escalation (a signal to the group, SIGKILL after a delay),
 * and one "done" report once the child has exited and its output is drained.
 * Shared by process tasks (process.c) and ctx:exec (binding).
 *
 * Output is always read (the child never blocks on a full pipe). After the
 * leader exits, pipes still held open by escaped processes are read for at
 * most TV_PROC_DRAIN_MS more, then closed.
 *
 * Owner: the caller of tv_proc_start until tv_proc_release (before or after
 * done); then the run frees itself once its handles are closed. */
#ifndef TV_PROC_H
#define TV_PROC_H

#include <stdint.h>
#include <uv.h>

#include "core/events/bus.h"
#include "core/os/outfile.h"
#include "core/os/reaper.h"
#include "core/loop/sched.h"

#define TV_LINE_MAX 4096      /* TaskOutput lines longer than this are truncated */
#define TV_PROC_DRAIN_MS 500

enum { TV_IO_INHERIT, TV_IO_NULL, TV_IO_PIPE, TV_IO_FD };

typedef struct tv_proc tv_proc_t;

/* Where one output stream goes. */
typedef struct tv_proc_out {
  uint8_t mode;        /* TV_IO_INHERIT, TV_IO_NULL or TV_IO_PIPE */
  uint8_t events;      /* PIPE: publish each line as TaskOutput */
  tv_outfile_t *file;  /* PIPE: append here (borrowed; may be NULL) */
  size_t capture_max;  /* PIPE: keep up to this many bytes (0: none) */
} tv_proc_out_t;

typedef struct tv_proc_cfg {
  tv_spawn_t spawn;    /* argv, envp, cwd (fds are filled in here) */
  uint8_t stdin_mode;  /* TV_IO_INHERIT, TV_IO_NULL or TV_IO_FD */
  int stdin_fd;        /* TV_IO_FD: borrowed */
  tv_proc_out_t out[2]; /* stdout, stderr */
  uint64_t timeout_ms;  /* 0: none; on expiry: timed_out, stopped as below */
  int stop_signal;
  uint64_t stop_timeout_ms;
  tv_reaper_t *reaper;
  tv_sched_t *sched;
  tv_bus_t *bus;        /* events: where TaskOutput goes */
  tv_str_t *task;       /* events: the task's name (referenced) */
  uint32_t attempt;
  void (*on_done)(tv_proc_t *p);
  void *data;
} tv_proc_cfg_t;

typedef struct tv_pump {
  uv_pipe_t pipe;
  tv_proc_t *p;
  uint8_t stream, reading, open;
  char *line;        /* partial line (events), TV_LINE_MAX bytes while used */
  uint32_t linelen;
  uint64_t linedrop; /* bytes cut from the current line */
  uint8_t dropcr;    /* the last byte cut from it was a '\r' */
  char *cap;         /* capture */
  size_t caplen, capsize;
  uint8_t truncated;
} tv_pump_t;

struct tv_proc {
  tv_child_t *child; /* NULL once the leader was reaped or disowned */
  pid_t pid;
  int status;        /* wait status, valid once exited */
  uint8_t exited, stopping, killed, timed_out, done, released;
  int closing;       /* libuv handles not yet closed */
  tv_timer_t timer;  /* timeout, then SIGKILL escalation, then drain deadline */
  tv_pump_t pumps[2];
  tv_proc_out_t out[2];
  int stop_signal;
  uint64_t stop_timeout_ms;
  tv_sched_t *sched;
  tv_bus_t *bus;
  tv_str_t *task;
  uint32_t attempt;
  void (*on_done)(tv_proc_t *p);
  void *data;
};

/* 0 with *out set, or a negative errno with *stage (tv_spawn) and nothing
 * left running. */
int tv_proc_start(tv_proc_t **out, const tv_proc_cfg_t *cfg, int *stage);
/* Graceful: stop_signal (+SIGCONT) to the group, SIGKILL after stop_timeout. */
void tv_proc_stop(tv_proc_t *p);
/* SIGKILL to the group now. */
void tv_proc_kill(tv_proc_t *p);
/* Forwards sig to the group: 0, or TV_ESRCH once the child has exited. */
int tv_proc_signal(tv_proc_t *p, int sig);
/* The owner leaves; a child still running is SIGKILLed and reaped anyway. */
void tv_proc_release(tv_proc_t *p);

#endif
