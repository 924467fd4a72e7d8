/* listener.c - binding the control socket. The probe of an existing socket
 * connects to it: refused means its host died (a stale file: replaced);
 * accepted means a live host, whose pid SO_PEERCRED tells. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listener.h"
#include "peer.h"

static int fill_addr(struct sockaddr_un *a, const char *path) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a->sun_path) return -ENAMETOOLONG;
  strcpy(a->sun_path, path);
  return 0;
}

/* The socket's directory: made 0700 if missing (one level), else checked. */
static int ensure_dir(const char *path, char *err, size_t errlen) {
  char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash) return 0;
  if (slash == dir) return 0; /* "/x.sock" */
  *slash = 0;
  if (mkdir(dir, 0700) == 0) return 0;
  if (errno != EEXIST) {
    int e = errno;
    snprintf(err, errlen, "cannot make the control socket's directory %s: %s", dir, strerror(e));
    return -e;
  }
  struct stat st;
  if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "the control socket's directory %s is not a directory", dir);
    return -ENOTDIR;
  }
  if (st.st_uid != getuid() && st.st_uid != 0) {
    snprintf(err, errlen, "the control socket's directory %s belongs to uid %u, not to us",
             dir, (unsigned)st.st_uid);
    return -EPERM;
  }
  return 0;
}

/* 1: a live host answers at path (*pid set); 0: nothing there or stale (removed). */
static int probe(const char *path, const struct sockaddr_un *a, pid_t *pid) {
  struct stat st;
  if (lstat(path, &st) != 0) return 0;
  if (!S_ISSOCK(st.st_mode)) return -EEXIST;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, (const struct sockaddr *)a, sizeof *a) == 0) {
    tvc_peer_t p = {0};
    tvc_peer_get(fd, &p);
    *pid = p.pid;
    close(fd);
    return 1;
  }
  int e = errno;
  close(fd);
  if (e != ECONNREFUSED) return -e;
  unlink(path);
  return 0;
}

int tvc_listen(const char *path, pid_t *live_pid, char *err, size_t errlen) {
  struct sockaddr_un a;
  *live_pid = 0;
  err[0] = 0;
  if (fill_addr(&a, path) != 0) {
    snprintf(err, errlen, "control socket path too long (%zu bytes, at most %zu): %s", strlen(path),
             sizeof a.sun_path - 1, path);
    return -ENAMETOOLONG;
  }
  int rc = ensure_dir(path, err, errlen);
  if (rc != 0) return rc;
  rc = probe(path, &a, live_pid);
  if (rc == 1) {
    snprintf(err, errlen, "a live host answers at %s, pid %d", path, (int)*live_pid);
    return -EADDRINUSE;
  }
  if (rc < 0) {
    snprintf(err, errlen, "%s exists and is not a socket we can replace: %s", path, strerror(-rc));
    return rc;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    rc = -errno;
    snprintf(err, errlen, "socket: %s", strerror(-rc));
    return rc;
  }
  mode_t old = umask(0177); /* born 0600: no window where others may connect */
  rc = bind(fd, (const struct sockaddr *)&a, sizeof a);
  umask(old);
  if (rc != 0 || listen(fd, 128) != 0) {
    rc = -errno;
    snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(-rc));
    close(fd);
    return rc;
  }
  return fd;
}
