/* cgroup.c - cgroup v2 containment (see cgroup.h). */
#define _GNU_SOURCE
#include "core/os/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PREFIX "taskvisor-"

/* The whole of a small file into a malloc'd NUL-terminated buffer, or NULL. */
static char *slurp(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t len = 0, size = 4096;
  char *buf = malloc(size);
  while (buf) {
    ssize_t n = read(fd, buf + len, size - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    if (len + 1 == size) {
      char *b = realloc(buf, size * 2);
      if (!b) break;
      buf = b, size *= 2;
    }
  }
  int saved = errno;
  close(fd);
  if (buf) buf[len] = 0;
  errno = saved;
  return buf;
}

static int write_str(const char *path, const char *s) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = write(fd, s, strlen(s));
  int rc = n < 0 ? -errno : 0;
  close(fd);
  return rc;
}

/* The cgroup2 mount point (malloc'd), or NULL. */
static char *find_mount(void) {
  FILE *f = setmntent("/proc/mounts", "re");
  if (!f) return NULL;
  char *out = NULL;
  struct mntent *m;
  while (!out && (m = getmntent(f)))
    if (strcmp(m->mnt_type, "cgroup2") == 0) out = strdup(m->mnt_dir);
  endmntent(f);
  return out;
}

/* The cgroup v2 path of pid ("0::/a/b" -> "/a/b", " (deleted)" kept), malloc'd. */
static char *cgroup_of(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
  char *all = slurp(path);
  if (!all) return NULL;
  char *out = NULL;
  for (char *line = all; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    if (strncmp(line, "0::", 3) == 0) {
      out = strdup(line + 3);
      break;
    }
    line = nl ? nl + 1 : NULL;
  }
  free(all);
  return out;
}

static int is_under(const char *path, const char *dir, size_t len) {
  return strncmp(path, dir, len) == 0 && (path[len] == '/' || path[len] == 0 || path[len] == ' ');
}

int tv_cgroot_holds(const tv_cgroot_t *root, pid_t pid) {
  if (!root->dir) return 0;
  char *cg = cgroup_of(pid);
  const char *rel = root->dir + root->mntlen;
  int in = cg && is_under(cg, rel, strlen(rel));
  free(cg);
  return in;
}

static void pause_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Empties and removes a dead host's directory (depth one: ours have no more). */
static void remove_leftover(const char *dir, size_t mntlen) {
  tv_cgroot_t tmp = {(char *)dir, mntlen, 0};
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char sub[4096];
  while ((e = readdir(d))) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= (int)sizeof sub) continue;
    tv_cgroup_kill(&tmp, sub);
    for (int i = 0; i < 200 && tv_cgroup_populated(sub) == 1; i++) pause_ms(10);
    rmdir(sub);
  }
  closedir(d);
  rmdir(dir);
}

/* Whether the host that made taskvisor-<pid> may still run: the pid exists
 * and is not a zombie (a SIGKILLed host its parent has not reaped yet). */
static int host_alive(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return 0;
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 1;
  buf[n] = 0;
  const char *rp = strrchr(buf, ')');
  return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

static void remove_leftovers(const char *parent, size_t mntlen) {
  DIR *d = opendir(parent);
  if (!d) return;
  struct dirent *e;
  char path[4096];
  while ((e = readdir(d))) {
    if (e->d_type != DT_DIR || strncmp(e->d_name, PREFIX, strlen(PREFIX)) != 0) continue;
    char *end;
    long pid = strtol(e->d_name + strlen(PREFIX), &end, 10);
    if ((*end && *end != '.') || pid <= 0 || pid == getpid()) continue;
    if (host_alive((pid_t)pid)) continue;
    if (snprintf(path, sizeof path, "%s/%s", parent, e->d_name) >= (int)sizeof path) continue;
    remove_leftover(path, mntlen);
  }
  closedir(d);
}

/* Whether dir's cgroup.procs lists this process: the mount and
 * /proc/self/cgroup agree on where the host is. */
static int lists_self(const char *dir) {
  char path[4200];
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  char *procs = slurp(path);
  if (!procs) return 0;
  long self = (long)getpid();
  int found = 0;
  for (char *s = procs, *end; *s && !found; s = end) {
    long pid = strtol(s, &end, 10);
    if (end == s) break;
    found = pid == self;
  }
  free(procs);
  return found;
}

int tv_cgroot_open(tv_cgroot_t *root) {
  memset(root, 0, sizeof *root);
  const char *env = getenv("TASKVISOR_CGROUP");
  if (env && strcmp(env, "off") == 0) return -ENOTSUP;
  char *mnt = find_mount();
  if (!mnt) return -ENOENT;
  size_t mntlen = strlen(mnt);
  while (mntlen > 1 && mnt[mntlen - 1] == '/') mnt[--mntlen] = 0;
  char *parent;
  if (env && *env) { /* a directory of the cgroup2 tree given by the user */
    if (!is_under(env, mnt, mntlen) || env[mntlen] == ' ') {
      free(mnt);
      return -EINVAL;
    }
    parent = strdup(env);
  } else {
    char *own = cgroup_of(getpid());
    if (!own || strstr(own, " (deleted)")) {
      free(own);
      free(mnt);
      return -ENOENT;
    }
    parent = malloc(mntlen + strlen(own) + 1);
    if (parent) strcat(strcpy(parent, mnt), strcmp(own, "/") == 0 ? "" : own);
    free(own);
  }
  free(mnt);
  if (!parent) return -ENOMEM;
  if (!(env && *env) && !lists_self(parent)) { /* (another cgroup namespace's view) */
    free(parent);
    return -ENOENT;
  }
  size_t plen = strlen(parent);
  while (plen > mntlen && parent[plen - 1] == '/') parent[--plen] = 0;
  remove_leftovers(parent, mntlen);
  char *dir = malloc(plen + sizeof PREFIX + 24);
  if (!dir) {
    free(parent);
    return -ENOMEM;
  }
  /* A second reaper in this process (another Lua state) gets ".2", ... */
  int rc = -EEXIST;
  for (int k = 1; k < 100 && rc == -EEXIST; k++) {
    if (k == 1)
      sprintf(dir, "%s/" PREFIX "%d", parent, (int)getpid());
    else
      sprintf(dir, "%s/" PREFIX "%d.%d", parent, (int)getpid(), k);
    rc = mkdir(dir, 0755) == 0 ? 0 : -errno;
  }
  free(parent);
  if (rc != 0) {
    free(dir);
    return rc;
  }
  root->dir = dir;
  root->mntlen = mntlen;
  return 0;
}

void tv_cgroot_close(tv_cgroot_t *root) {
  if (!root->dir) return;
  rmdir(root->dir);
  free(root->dir);
  root->dir = NULL;
}

char *tv_cgroup_new(tv_cgroot_t *root) {
  size_t len = strlen(root->dir) + 24;
  char *cg = malloc(len);
  if (!cg) return NULL;
  snprintf(cg, len, "%s/%llu", root->dir, (unsigned long long)++root->seq);
  if (mkdir(cg, 0755) != 0) {
    int saved = errno;
    free(cg);
    errno = saved;
    return NULL;
  }
  return cg;
}

static char *file_in(const char *cg, const char *name, char *buf, size_t size) {
  snprintf(buf, size, "%s/%s", cg, name);
  return buf;
}

int tv_cgroup_dir_fd(const char *cg) {
  int fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

/* Signals pid only if it is (still) in cg: a pidfd pins the process, then its
 * membership is checked, so a pid reused between the listing and the signal
 * is never hit. Kernels without pidfds (< 5.3) get a plain kill. */
static int signal_member(const char *rel, pid_t pid, int sig) {
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return errno == ENOSYS ? (kill(pid, sig) == 0) : 0;
  char *now = cgroup_of(pid);
  int hit = 0;
  if (now && strcmp(now, rel) == 0) hit = syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) == 0;
  free(now);
  close(fd);
  return hit;
}

int tv_cgroup_signal(const tv_cgroot_t *root, const char *cg, int sig) {
  char path[4096];
  char *procs = slurp(file_in(cg, "cgroup.procs", path, sizeof path));
  if (!procs) return -errno;
  int n = 0;
  const char *rel = cg + root->mntlen;
  for (char *s = procs, *end; *s; s = end) {
    long pid = strtol(s, &end, 10);
    if (end == s) break;
    if (pid > 0) n += signal_member(rel, (pid_t)pid, sig);
  }
  free(procs);
  return n;
}

void tv_cgroup_kill(const tv_cgroot_t *root, const char *cg) {
  char path[4096];
  if (write_str(file_in(cg, "cgroup.kill", path, sizeof path), "1") == 0) return;
  /* Before 5.14: kill what is listed until nothing is (a member forking
   * meanwhile adds one the next round finds). */
  for (int round = 0; round < 1000 && tv_cgroup_signal(root, cg, SIGKILL) > 0; round++) {}
}

int tv_cgroup_populated(const char *cg) {
  char path[4096];
  char *ev = slurp(file_in(cg, "cgroup.events", path, sizeof path));
  if (!ev) return -errno;
  const char *p = strstr(ev, "populated ");
  int rc = p ? p[10] == '1' : -EINVAL;
  free(ev);
  return rc;
}

int tv_cgroup_remove(const char *cg) { return rmdir(cg) == 0 ? 0 : -errno; }
