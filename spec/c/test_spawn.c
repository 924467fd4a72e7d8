/* test_spawn.c - tv_spawn without a loop, on its CLONE_VM | CLONE_VFORK
 * path: a child that runs and exits; exec and cwd failures reported with
 * their stage and message and reaped; a limit the kernel refuses in the
 * child named in the message; umask and nice applied; the child's signal
 * state clean although the parent ignores, catches and blocks signals; no
 * fd of the parent's left open by a spawn. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "core/os/creds.h"
#include "core/os/spawn.h"

static int count_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  while (d && (e = readdir(d))) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

/* Runs argv with creds (may be NULL), stdout into a pipe: the output into
 * out, the exit status returned (-1: the spawn failed, *rc its error). */
static int run(char **argv, const tv_creds_t *creds, char *out, size_t size, int *rc, int *stage) {
  int p[2];
  CHECK(pipe2(p, O_CLOEXEC) == 0);
  tv_spawn_t sp = {argv, NULL, NULL, {0, p[1], 2}, 0, creds};
  pid_t pid = tv_spawn(&sp, stage);
  close(p[1]);
  size_t len = 0;
  ssize_t n;
  while (len + 1 < size && (n = read(p[0], out + len, size - 1 - len)) > 0) len += (size_t)n;
  out[len] = 0;
  close(p[0]);
  if (pid < 0) {
    *rc = (int)pid;
    return -1;
  }
  int st;
  CHECK(waitpid(pid, &st, 0) == pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_runs(void) {
  char out[256];
  int rc = 0, stage;
  char *argv[] = {"sh", "-c", "echo hi; exit 3", NULL};
  CHECK_EQ_U(run(argv, NULL, out, sizeof out, &rc, &stage), 3);
  CHECK_STR(out, "hi\n");
  CHECK_EQ_U(stage, TV_SPAWN_AT_EXEC);
}

static void test_failures(void) {
  char out[256], msg[256];
  int rc = 0, stage;
  char *missing[] = {"/no/such/prog", NULL};
  CHECK(run(missing, NULL, out, sizeof out, &rc, &stage) == -1);
  CHECK(rc == UV_ENOENT);
  CHECK_EQ_U(stage, TV_SPAWN_AT_EXEC);
  tv_spawn_t sp = {missing, NULL, NULL, {0, 1, 2}, 0, NULL};
  CHECK_STR(tv_spawn_strerror(rc, stage, &sp, msg, sizeof msg), "ENOENT: no such file: /no/such/prog");
  char *t[] = {"/bin/true", NULL};
  sp = (tv_spawn_t){t, NULL, "/no/such/dir", {0, 1, 2}, 0, NULL};
  pid_t pid = tv_spawn(&sp, &stage);
  CHECK(pid == UV_ENOENT);
  CHECK_EQ_U(stage, TV_SPAWN_AT_CWD);
  CHECK_STR(tv_spawn_strerror((int)pid, stage, &sp, msg, sizeof msg),
            "ENOENT: no such directory (cwd): /no/such/dir");
  CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD); /* reaped */
}

static void test_creds(void) {
  static tv_creds_t c; /* (static: 1 KiB of groups) */
  memset(&c, 0, sizeof c);
  c.set_umask = 1;
  c.umask = 027;
  c.set_nice = 1;
  c.nice = 5;
  char out[256];
  int rc = 0, stage;
  char *argv[] = {"sh", "-c", "umask; cut -d' ' -f19 /proc/self/stat", NULL};
  CHECK_EQ_U(run(argv, &c, out, sizeof out, &rc, &stage), 0);
  CHECK_STR(out, "0027\n5\n");
  /* soft above hard: prlimit refuses it in the child (EINVAL) */
  c.nlimits = 2;
  c.limits[0].resource = RLIMIT_CORE;
  c.limits[0].lim.rlim_cur = c.limits[0].lim.rlim_max = 0;
  c.limits[1].resource = RLIMIT_NOFILE;
  c.limits[1].lim.rlim_cur = 64;
  c.limits[1].lim.rlim_max = 32;
  char *t[] = {"/bin/true", NULL};
  CHECK(run(t, &c, out, sizeof out, &rc, &stage) == -1);
  CHECK(rc == UV_EINVAL);
  char msg[256];
  tv_spawn_t sp = {t, NULL, NULL, {0, 1, 2}, 0, &c};
  CHECK_STR(tv_spawn_strerror(rc, stage, &sp, msg, sizeof msg),
            "EINVAL: cannot set limits.nofile: invalid argument");
}

static void on_usr1(int sig) { (void)sig; }

static void test_signals(void) {
  signal(SIGPIPE, SIG_IGN);
  signal(SIGUSR1, on_usr1);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, NULL);
  char out[4096];
  int rc = 0, stage;
  char *argv[] = {"cat", "/proc/self/status", NULL}; /* (grep catches SIGSEGV itself) */
  CHECK_EQ_U(run(argv, NULL, out, sizeof out, &rc, &stage), 0);
  CHECK(strstr(out, "SigBlk:\t0000000000000000\n") != NULL);
  CHECK(strstr(out, "SigIgn:\t0000000000000000\n") != NULL);
  CHECK(strstr(out, "SigCgt:\t0000000000000000\n") != NULL);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGUSR1, SIG_DFL);
}

int main(void) {
  int before = count_fds();
  test_runs();
  test_failures();
  test_creds();
  test_signals();
  CHECK_EQ_U(count_fds(), before);
  printf("test_spawn: %d checks, %d failed\n", check_count, check_failures);
  return check_failures != 0;
}
