/* test_outfile.c - the rotating log file: sizes stay under max_bytes, backups
 * shift and the oldest is dropped, nothing is lost between files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/os/outfile.h"

static long size_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(void) {
  char dir[] = "/tmp/tv-outfile-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256], p1[300], p2[300], p3[300];
  snprintf(path, sizeof path, "%s/log", dir);
  snprintf(p1, sizeof p1, "%s.1", path);
  snprintf(p2, sizeof p2, "%s.2", path);
  snprintf(p3, sizeof p3, "%s.3", path);

  tv_outfile_t f;
  CHECK(tv_outfile_open(&f, path, 100, 2) == 0);
  char line[31];
  memset(line, 'x', 29);
  line[29] = '\n';
  line[30] = 0;
  for (int i = 0; i < 20; i++) tv_outfile_write(&f, line, 30); /* 600 bytes */
  CHECK(size_of(path) > 0 && size_of(path) <= 100);
  CHECK_EQ_U(size_of(p1), 100);
  CHECK_EQ_U(size_of(p2), 100);
  CHECK(size_of(p3) == -1);
  CHECK_EQ_U(f.dropped, 0);

  /* one write bigger than max_bytes is split across files, never past max */
  char big[250];
  memset(big, 'y', sizeof big);
  tv_outfile_write(&f, big, sizeof big);
  CHECK(size_of(path) <= 100 && size_of(p1) <= 100 && size_of(p2) <= 100);
  tv_outfile_close(&f);

  /* no rotation without max_bytes; reopening appends */
  char plain[256];
  snprintf(plain, sizeof plain, "%s/plain", dir);
  CHECK(tv_outfile_open(&f, plain, 0, 0) == 0);
  tv_outfile_write(&f, big, sizeof big);
  tv_outfile_close(&f);
  CHECK(tv_outfile_open(&f, plain, 0, 0) == 0);
  CHECK_EQ_U(f.size, 250);
  tv_outfile_write(&f, big, sizeof big);
  tv_outfile_close(&f);
  CHECK_EQ_U(size_of(plain), 500);

  /* backups = 0: the file is truncated instead */
  char trunc[256];
  snprintf(trunc, sizeof trunc, "%s/trunc", dir);
  CHECK(tv_outfile_open(&f, trunc, 100, 0) == 0);
  for (int i = 0; i < 5; i++) tv_outfile_write(&f, line, 30);
  CHECK(size_of(trunc) <= 100);
  tv_outfile_close(&f);

  /* an unopenable path is an error at open time */
  char bad[300];
  snprintf(bad, sizeof bad, "%s/no/such/dir/log", dir);
  CHECK(tv_outfile_open(&f, bad, 0, 0) < 0);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  return check_report();
}
