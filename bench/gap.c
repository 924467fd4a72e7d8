/* bench/gap.c [SECONDS]: a loop that only reads the clock, printing each
 * second its longest gap between two reads, in wall time and in its own CPU
 * time ("wall/cpu" ms). What the machine itself gives any process: run it
 * pinned beside a load (BENCHMARKS.md, the 100 pollers) to tell a stall of
 * the host's loop from one of the VM.
 *   taskset -c 0 ./build/gap 10      (built with the rest) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  int secs = argc > 1 ? atoi(argv[1]) : 10;
  double start = now(CLOCK_MONOTONIC), last = start, second = start;
  double last_cpu = now(CLOCK_PROCESS_CPUTIME_ID), worst = 0, worst_cpu = 0;
  for (;;) {
    double t = now(CLOCK_MONOTONIC), c = now(CLOCK_PROCESS_CPUTIME_ID);
    if (t - last > worst) worst = t - last;
    if (c - last_cpu > worst_cpu) worst_cpu = c - last_cpu;
    last = t;
    last_cpu = c;
    if (t - second >= 1) {
      printf("%.1f/%.1f ", worst * 1e3, worst_cpu * 1e3);
      fflush(stdout);
      worst = worst_cpu = 0;
      second = t;
      if (t - start > secs) break;
    }
  }
  printf("\n");
  return 0;
}
