/* test_cgroup.c - cgroup containment without a loop: TASKVISOR_CGROUP's
 * refusals, a child spawned into its cgroup (and what it forks, setsid'd
 * included) signalled, killed and counted through the cgroup, the directory
 * removed; a dead host's leftovers emptied and removed by the next open.
 * Everything lives below a directory of the test's own, removed at the end;
 * the cgroup cases are skipped where no cgroup2 is writable. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/os/cgroup.h"
#include "core/os/spawn.h"

static char base[4096]; /* the test's own directory, or "" */

static void pause_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Waits (up to 10 s) until cg is (1) or is not (0) populated. */
static int wait_populated(const char *cg, int want) {
  for (int i = 0; i < 1000; i++) {
    if (tv_cgroup_populated(cg) == want) return 1;
    pause_ms(10);
  }
  return 0;
}

static int make_base(void) {
  FILE *f = fopen("/proc/mounts", "re");
  char dev[256], dir[1024], type[64], own[2048] = "";
  int found = 0;
  while (f && fscanf(f, "%255s %1023s %63s %*[^\n]", dev, dir, type) == 3)
    if (strcmp(type, "cgroup2") == 0) {
      found = 1;
      break;
    }
  if (f) fclose(f);
  if (!found) return 0;
  f = fopen("/proc/self/cgroup", "re");
  char line[2100];
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "0::", 3) == 0) sscanf(line + 3, "%2047s", own);
  if (f) fclose(f);
  snprintf(base, sizeof base, "%s%s/test_cgroup-%d", dir, strcmp(own, "/") == 0 ? "" : own,
           (int)getpid());
  if (mkdir(base, 0755) != 0) {
    base[0] = 0;
    return 0;
  }
  return 1;
}

static void test_refusals(void) {
  tv_cgroot_t root;
  setenv("TASKVISOR_CGROUP", "off", 1);
  CHECK(tv_cgroot_open(&root) == -ENOTSUP);
  CHECK(root.dir == NULL);
  setenv("TASKVISOR_CGROUP", "/tmp/not-a-cgroup", 1); /* outside the cgroup2 mount */
  int rc = tv_cgroot_open(&root);
  CHECK(rc == -EINVAL || rc == -ENOENT); /* (-ENOENT: no cgroup2 at all) */
  CHECK(root.dir == NULL);
  unsetenv("TASKVISOR_CGROUP");
}

static pid_t spawn_in(const char *cg, const char *script) {
  int fd = tv_cgroup_dir_fd(cg);
  CHECK(fd > 2);
  char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
  tv_spawn_t sp = {argv, NULL, NULL, {0, 1, 2}, fd, NULL};
  int stage;
  pid_t pid = tv_spawn(&sp, &stage);
  close(fd);
  CHECK(pid > 0);
  CHECK_EQ_U(stage, TV_SPAWN_AT_EXEC); /* it joined */
  return pid;
}

static void test_tree(void) {
  tv_cgroot_t root;
  setenv("TASKVISOR_CGROUP", base, 1);
  CHECK(tv_cgroot_open(&root) == 0);
  unsetenv("TASKVISOR_CGROUP");
  if (!root.dir) return;
  char want[4200];
  snprintf(want, sizeof want, "%s/taskvisor-%d", base, (int)getpid());
  CHECK_STR(root.dir, want);
  char *cg = tv_cgroup_new(&root);
  CHECK(cg != NULL);
  if (!cg) return;
  CHECK_EQ_U(tv_cgroup_populated(cg), 0);
  CHECK_EQ_U(tv_cgroup_signal(&root, cg, 0), 0);
  /* the child, a background sleep, and one that left the session */
  pid_t pid = spawn_in(cg, "sleep 60 & setsid sleep 60 & exec sleep 60");
  CHECK(tv_cgroot_holds(&root, pid));
  CHECK(!tv_cgroot_holds(&root, getpid()));
  CHECK(wait_populated(cg, 1));
  int n = 0;
  for (int i = 0; i < 500 && (n = tv_cgroup_signal(&root, cg, 0)) < 3; i++) pause_ms(10);
  CHECK_EQ_U(n, 3); /* signal 0: every member counted, none hurt */
  CHECK(tv_cgroup_remove(cg) == -EBUSY);
  tv_cgroup_kill(&root, cg);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  CHECK(wait_populated(cg, 0)); /* the other two (re-parented elsewhere) too */
  CHECK(tv_cgroot_holds(&root, pid) == 0); /* reaped: no such process */
  CHECK(tv_cgroup_remove(cg) == 0);
  free(cg);
  tv_cgroot_close(&root);
  struct stat st;
  CHECK(stat(want, &st) != 0);
}

/* A dead host's directory (a pid no process has) with a live member. */
static void test_leftovers(void) {
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, NULL, 0);
  char dir[4200], sub[4300];
  snprintf(dir, sizeof dir, "%s/taskvisor-%d", base, (int)dead);
  snprintf(sub, sizeof sub, "%s/1", dir);
  CHECK(mkdir(dir, 0755) == 0);
  CHECK(mkdir(sub, 0755) == 0);
  pid_t pid = spawn_in(sub, "exec sleep 60");
  CHECK(wait_populated(sub, 1));
  tv_cgroot_t root;
  setenv("TASKVISOR_CGROUP", base, 1);
  CHECK(tv_cgroot_open(&root) == 0);
  unsetenv("TASKVISOR_CGROUP");
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  struct stat st;
  CHECK(stat(dir, &st) != 0); /* removed */
  tv_cgroot_close(&root);
}

int main(void) {
  RUN(test_refusals);
  if (make_base()) {
    RUN(test_tree);
    RUN(test_leftovers);
    if (rmdir(base) != 0) {
      fprintf(stderr, "left behind: %s\n", base);
      check_failures++;
    }
  } else {
    printf("skip test_tree, test_leftovers: no writable cgroup2\n");
  }
  return check_report();
}
