/* bench/stamp.c PATH: appends "START END\n" (CLOCK_MONOTONIC nanoseconds at
 * main() and just before exiting) to PATH, then exits 1. Built static by
 * bench/scale.sh, so a child's exec-to-main is as short as it gets: the
 * restart latency bench/scale.lua measures is the host's, not the loader's. */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  long long start = now_ns();
  if (argc < 2) return 2;
  int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) return 2;
  char buf[64];
  long long end = now_ns();
  int n = snprintf(buf, sizeof buf, "%lld %lld\n", start, end);
  if (write(fd, buf, (size_t)n) != n) return 2;
  return 1; /* a failure: restarted with no backoff, max_retries ends the run */
}
