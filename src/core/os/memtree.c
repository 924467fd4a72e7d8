/* memtree.c - a child tree's resident memory (see memtree.h). */
#define _GNU_SOURCE
#include "core/os/memtree.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* At most this many members are looked at (a fork bomb is not walked). */
#define MAX_MEMBERS 4096

/* The small file at path into buf (NUL-terminated): its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return n;
}

/* Resident bytes of one process, or -1 (gone). */
static int64_t rss(pid_t pid) {
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
  if (read_small(path, buf, sizeof buf) <= 0) return -1;
  unsigned long size, resident;
  if (sscanf(buf, "%lu %lu", &size, &resident) != 2) return -1;
  return (int64_t)resident * sysconf(_SC_PAGESIZE);
}

/* The members of cgroup cg (cgroup.procs) into pids: how many, or -1. */
static int cgroup_members(const char *cg, pid_t *pids, int max) {
  char path[4096];
  snprintf(path, sizeof path, "%s/cgroup.procs", cg);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  int n = 0;
  long pid;
  while (n < max && fscanf(f, "%ld", &pid) == 1) pids[n++] = (pid_t)pid;
  fclose(f);
  return n;
}

/* The leader and its descendants, breadth first, into pids: how many. */
static int descendants(pid_t leader, pid_t *pids, int max) {
  int n = 0;
  pids[n++] = leader;
  for (int i = 0; i < n && n < max; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pids[i]);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
      if (e->d_name[0] == '.') continue;
      char cpath[96];
      snprintf(cpath, sizeof cpath, "/proc/%d/task/%.20s/children", (int)pids[i], e->d_name);
      FILE *f = fopen(cpath, "re");
      if (!f) continue;
      long pid;
      while (n < max && fscanf(f, "%ld", &pid) == 1) pids[n++] = (pid_t)pid;
      fclose(f);
    }
    if (d) closedir(d);
  }
  return n;
}

int64_t tv_memtree_bytes(const char *cg, pid_t leader) {
  if (cg) { /* one read, shared pages once: where the memory controller is on */
    char path[4096], buf[64];
    snprintf(path, sizeof path, "%s/memory.current", cg);
    if (read_small(path, buf, sizeof buf) > 0) return (int64_t)strtoll(buf, NULL, 10);
  }
  pid_t *pids = malloc(MAX_MEMBERS * sizeof *pids);
  if (!pids) return -1;
  int n = cg ? cgroup_members(cg, pids, MAX_MEMBERS) : -1;
  if (n < 0) n = leader > 0 ? descendants(leader, pids, MAX_MEMBERS) : 0;
  int64_t total = -1;
  for (int i = 0; i < n; i++) {
    int64_t r = rss(pids[i]);
    if (r >= 0) total = (total < 0 ? 0 : total) + r;
  }
  free(pids);
  return total;
}

char *tv_fmt_bytes(uint64_t bytes, char *buf, size_t size) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes >= (1ULL << (10 * (u + 1)))) u++;
  uint64_t unit = 1ULL << (10 * u);
  if (bytes % unit == 0)
    snprintf(buf, size, "%" PRIu64 " %s", bytes / unit, units[u]);
  else
    snprintf(buf, size, "%.1f %s", (double)bytes / (double)unit, units[u]);
  return buf;
}
