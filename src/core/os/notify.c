/* notify.c - the sd_notify readiness socket of a process attempt (see notify.h). */
#define _GNU_SOURCE
#include "core/os/notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/base/list.h"

#define SCM_MAX_FDS 253 /* the kernel's SCM_MAX_FD: room to take (and close) them all */

extern char **environ;

static void on_closed(uv_handle_t *h) {
  tv_notify_t *n = tv_container_of((uv_poll_t *)h, tv_notify_t, poll);
  close(n->fd);
  free(n);
}

int tv_notify_parse(const char *buf, size_t len) {
  int flags = 0;
  while (len > 0) {
    const char *nl = memchr(buf, '\n', len);
    size_t line = nl ? (size_t)(nl - buf) : len;
    if (line == 7 && memcmp(buf, "READY=1", 7) == 0) flags |= TV_NOTIFY_READY;
    if (line == 10 && memcmp(buf, "STOPPING=1", 10) == 0) flags |= TV_NOTIFY_STOPPING;
    if (line == 10 && memcmp(buf, "WATCHDOG=1", 10) == 0) flags |= TV_NOTIFY_WATCHDOG;
    if (!nl) break;
    buf = nl + 1;
    len -= line + 1;
  }
  return flags;
}

/* Whom a datagram is heard from (see notify.h). */
static int heard(const tv_notify_t *n, const struct ucred *c) {
  if (c->pid <= 0) return 0; /* from outside our pid namespace (0 would mean us) */
  pid_t pg = getpgid(c->pid); /* a zombie still has its group */
  if (pg >= 0) return pg == n->pgid;
  return errno == ESRCH && (c->uid == n->uid || c->uid == 0);
}

/* One datagram: 1 read (heard or not), 0 none left, -1 error. */
static int read_one(tv_notify_t *n) {
  char buf[TV_NOTIFY_MAX];
  union {
    struct cmsghdr align;
    char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * SCM_MAX_FDS)];
  } ctl;
  struct iovec iov = {buf, sizeof buf};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl.b;
  m.msg_controllen = sizeof ctl.b;
  ssize_t len;
  do len = recvmsg(n->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
  while (len < 0 && errno == EINTR);
  if (len < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  const struct ucred *cred = NULL;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof *cred)) {
      cred = (const struct ucred *)(void *)CMSG_DATA(c);
    } else if (c->cmsg_type == SCM_RIGHTS) { /* FDSTORE=1 and the like: not kept */
      size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < nfds; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
        close(fd);
      }
    }
  }
  if (!cred || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)len > sizeof buf ||
      !heard(n, cred)) {
    n->ignored++;
    return 1;
  }
  int flags = tv_notify_parse(buf, (size_t)len);
  if ((flags & TV_NOTIFY_WATCHDOG) && n->on_alive) n->on_alive(n->data);
  if ((flags & TV_NOTIFY_READY) && !n->ready && !n->closed) {
    n->ready = 1;
    n->on_ready(n->data); /* may close n: the caller checks n->closed */
  }
  return 1;
}

static void read_some(tv_notify_t *n, int max) {
  for (int i = 0; i < max && !n->closed; i++)
    if (read_one(n) <= 0) break;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  tv_notify_t *n = tv_container_of(h, tv_notify_t, poll);
  (void)events;
  if (status < 0) return;
  read_some(n, TV_NOTIFY_BATCH);
  tv_sched_flush(n->sched); /* deliver what on_ready published */
}

void tv_notify_drain(tv_notify_t *n) {
  if (n->pgid) read_some(n, TV_NOTIFY_DRAIN);
}

/* Binds fd to a name of our own in the abstract namespace, into n->addr. */
static int bind_abstract(tv_notify_t *n) {
  static unsigned counter;
  for (int tries = 0; tries < 16; tries++) {
    char name[48];
    int len = snprintf(name, sizeof name, "taskvisor/%ld/%u", (long)getpid(), ++counter);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path + 1, name, (size_t)len); /* sun_path[0] = 0: abstract, no NUL after */
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    if (bind(n->fd, (struct sockaddr *)&sa, salen) == 0) {
      snprintf(n->addr, sizeof n->addr, "@%s", name);
      return 0;
    }
    if (errno != EADDRINUSE) return -errno; /* in use: another host with our pid (a pid namespace) */
  }
  return -EADDRINUSE;
}

int tv_notify_open(tv_notify_t **out, uv_loop_t *loop, tv_sched_t *s,
                   void (*on_ready)(void *data), void *data) {
  tv_notify_t *n = calloc(1, sizeof *n);
  if (!n) return -ENOMEM;
  int one = 1, rc = 0;
  n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (n->fd < 0) rc = -errno;
  if (rc == 0 && setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) rc = -errno;
  if (rc == 0) rc = bind_abstract(n);
  if (rc == 0) rc = uv_poll_init(loop, &n->poll, n->fd);
  if (rc != 0) {
    if (n->fd >= 0) close(n->fd);
    free(n);
    return rc;
  }
  n->uid = geteuid();
  n->sched = s;
  n->on_ready = on_ready;
  n->data = data;
  *out = n;
  return 0;
}

int tv_notify_start(tv_notify_t *n, pid_t pgid) {
  n->pgid = pgid;
  return uv_poll_start(&n->poll, UV_READABLE, on_poll);
}

void tv_notify_close(tv_notify_t *n) {
  n->closed = 1;
  uv_close((uv_handle_t *)&n->poll, on_closed);
}

static int ours(const char *var) {
  return strncmp(var, "NOTIFY_SOCKET=", 14) == 0 || strncmp(var, "WATCHDOG_USEC=", 14) == 0 ||
         strncmp(var, "WATCHDOG_PID=", 13) == 0;
}

char **tv_notify_env(char *const *base, const char *addr, uint64_t watchdog_usec) {
  static const char key[] = "NOTIFY_SOCKET=";
  char wd[48];
  snprintf(wd, sizeof wd, "WATCHDOG_USEC=%llu", (unsigned long long)watchdog_usec);
  if (!base) base = environ;
  size_t count = watchdog_usec ? 2 : 1, bytes = sizeof key + strlen(addr) + strlen(wd) + 1;
  for (size_t i = 0; base[i]; i++)
    if (!ours(base[i])) count++, bytes += strlen(base[i]) + 1;
  char **env = malloc((count + 1) * sizeof *env + bytes);
  if (!env) return NULL;
  char *s = (char *)(env + count + 1);
  size_t k = 0;
  for (size_t i = 0; base[i]; i++) {
    if (ours(base[i])) continue;
    env[k++] = strcpy(s, base[i]);
    s += strlen(s) + 1;
  }
  env[k++] = s;
  s += sprintf(s, "%s%s", key, addr) + 1;
  if (watchdog_usec) env[k++] = strcpy(s, wd);
  env[k] = NULL;
  return env;
}
