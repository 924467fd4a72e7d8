/* notify.h - readiness through systemd's sd_notify protocol: one AF_UNIX
 * datagram socket per process attempt, named in the child's NOTIFY_SOCKET
 * and watched on the loop. A "READY=1" line calls on_ready (once); STATUS=,
 * "WATCHDOG=1" calls on_alive when set (systemd's watchdog keep-alive); STATUS=,
 * STOPPING=1, MAINPID= and unknown keys are read and ignored.
 *
 * The socket is in the abstract namespace ("@taskvisor/<host pid>/<n>"):
 * nothing on disk to create, protect or clean up; the name goes with the
 * fd, even when the host is SIGKILLed. Any process of the network namespace
 * can send to an abstract name, so each datagram's kernel-verified
 * credentials (SO_PASSCRED) decide, like systemd's NotifyAccess=all with the
 * process group standing in for the cgroup: a sender in the attempt's
 * process group is heard (whatever its user); a sender already gone is
 * heard if it ran as the host's user or root (a short-lived helper, e.g.
 * `python3 -c ...` from a shell script, reaped by its parent before the
 * host read its datagram); anyone else is ignored. Datagrams over
 * TV_NOTIFY_MAX bytes are dropped whole; fds passed along are closed.
 *
 * Owner: the attempt that opened it, until tv_notify_close; then it frees
 * itself in its poll handle's close callback. */
#ifndef TV_NOTIFY_H
#define TV_NOTIFY_H

#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "core/loop/sched.h"

#define TV_NOTIFY_MAX 4096  /* bytes per datagram, as systemd (NOTIFY_BUFFER_MAX) */
#define TV_NOTIFY_BATCH 64  /* datagrams read per loop pass: a flood cannot starve the loop */
#define TV_NOTIFY_DRAIN 1024 /* datagrams read at most when the attempt ends */

enum { TV_NOTIFY_READY = 1, TV_NOTIFY_STOPPING = 2, TV_NOTIFY_WATCHDOG = 4 };

typedef struct tv_notify {
  uv_poll_t poll;
  int fd;
  pid_t pgid;      /* the attempt's process group (tv_notify_start) */
  uid_t uid;       /* the host's effective user */
  tv_sched_t *sched;
  void (*on_ready)(void *data);
  void (*on_alive)(void *data); /* WATCHDOG=1, or NULL (set after tv_notify_open) */
  void *data;
  uint8_t ready, closed;
  uint32_t ignored; /* datagrams dropped: unknown sender, oversized, truncated */
  char addr[64];    /* the NOTIFY_SOCKET value: "@taskvisor/<pid>/<n>" */
} tv_notify_t;

/* Opens a fresh socket (close-on-exec, non-blocking). 0, or a negative errno. */
int tv_notify_open(tv_notify_t **out, uv_loop_t *loop, tv_sched_t *s,
                   void (*on_ready)(void *data), void *data);
/* Starts reading, hearing the process group pgid (the attempt's leader). */
int tv_notify_start(tv_notify_t *n, pid_t pgid);
/* Reads what is queued now (bounded), e.g. as the attempt ends: a READY=1
 * sent before the process exited is heard before its exit is reported. */
void tv_notify_drain(tv_notify_t *n);
/* Stops reading and closes the socket (the memory goes in the close callback). */
void tv_notify_close(tv_notify_t *n);
/* The TV_NOTIFY_* flags of one datagram's newline-separated KEY=VALUE lines. */
int tv_notify_parse(const char *buf, size_t len);
/* A copy of `base` (NULL: the host's environment) without NOTIFY_SOCKET and
 * WATCHDOG_USEC, then "NOTIFY_SOCKET=<addr>" and, when watchdog_usec is not
 * 0, "WATCHDOG_USEC=<n>" (what sd_watchdog_enabled reads): one malloc block
 * to free(), or NULL. */
char **tv_notify_env(char *const *base, const char *addr, uint64_t watchdog_usec);

#endif
