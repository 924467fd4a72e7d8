/* raw_spawn.c N PROGRAM [ARGS...]: the baseline for bench/processes.lua:
 * spawns PROGRAM with libuv alone (uv_spawn), waits for its exit, and spawns
 * it again, N times; prints spawns per second. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_process_options_t opts;
static long left, done;

static void spawn_next(void);

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  (void)status;
  (void)sig;
  uv_close((uv_handle_t *)p, (uv_close_cb)free);
  done++;
  if (--left > 0) spawn_next();
}

static void spawn_next(void) {
  uv_process_t *p = malloc(sizeof *p);
  int rc = uv_spawn(loop, p, &opts);
  if (rc) {
    fprintf(stderr, "uv_spawn: %s\n", uv_strerror(rc));
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: raw_spawn N PROGRAM [ARGS...]\n");
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
  uint64_t t0 = uv_hrtime();
  spawn_next();
  uv_run(loop, UV_RUN_DEFAULT);
  double dt = (double)(uv_hrtime() - t0) / 1e9;
  printf("raw_spawn: spawns=%ld time=%.3fs spawns/s=%.0f\n", done, dt, (double)done / dt);
  return 0;
}
