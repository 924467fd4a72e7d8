/* raw_spawn.c [--posix] N PROGRAM [ARGS...]: the baselines for
 * bench/processes.lua: spawns PROGRAM, waits for its exit, and spawns it
 * again, N times; prints spawns per second. By default with libuv alone
 * (uv_spawn, its SIGCHLD watcher); with --posix through glibc's posix_spawn
 * (a CLONE_VM | CLONE_VFORK child) and a SIGCHLD watcher of libuv's, which
 * reaps it with waitpid: the same shape of loop, the cheapest spawn. */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <uv.h>

extern char **environ;

static uv_loop_t *loop;
static uv_process_options_t opts;
static uv_signal_t sigchld;
static long left, done;
static int posix;
static pid_t running;

static void spawn_next(void);

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  (void)status;
  (void)sig;
  uv_close((uv_handle_t *)p, (uv_close_cb)free);
  done++;
  if (--left > 0) spawn_next();
}

static void on_sigchld(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  if (running <= 0 || waitpid(running, NULL, WNOHANG) != running) return;
  running = 0;
  done++;
  if (--left > 0)
    spawn_next();
  else
    uv_close((uv_handle_t *)&sigchld, NULL);
}

static void spawn_next(void) {
  if (posix) {
    int rc = posix_spawn(&running, opts.file, NULL, NULL, opts.args, environ);
    if (rc) {
      fprintf(stderr, "posix_spawn: %s\n", strerror(rc));
      exit(1);
    }
    return;
  }
  uv_process_t *p = malloc(sizeof *p);
  int rc = uv_spawn(loop, p, &opts);
  if (rc) {
    fprintf(stderr, "uv_spawn: %s\n", uv_strerror(rc));
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--posix") == 0) posix = 1, argv++, argc--;
  if (argc < 3) {
    fprintf(stderr, "usage: raw_spawn [--posix] N PROGRAM [ARGS...]\n");
    return 2;
  }
  loop = uv_default_loop();
  left = atol(argv[1]);
  opts.file = argv[2];
  opts.args = argv + 2;
  opts.exit_cb = on_exit_cb;
  uv_stdio_container_t stdio[3] = {{UV_INHERIT_FD, {.fd = 0}}, {UV_INHERIT_FD, {.fd = 1}},
                                   {UV_INHERIT_FD, {.fd = 2}}};
  opts.stdio = stdio;
  opts.stdio_count = 3;
  if (posix) {
    uv_signal_init(loop, &sigchld);
    uv_signal_start(&sigchld, on_sigchld, SIGCHLD);
  }
  uint64_t t0 = uv_hrtime();
  spawn_next();
  uv_run(loop, UV_RUN_DEFAULT);
  double dt = (double)(uv_hrtime() - t0) / 1e9;
  printf("raw_spawn%s: spawns=%ld time=%.3fs spawns/s=%.0f\n", posix ? " posix" : "", done, dt,
         (double)done / dt);
  return 0;
}
