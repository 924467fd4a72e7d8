/* test_outfile.c - the rotating log file: sizes stay under max_bytes, backups
 * shift and the oldest is dropped, nothing is lost between files, rotation
 * falls between lines, lost bytes are counted and reported. */
#include <errno.h>
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
  CHECK_EQ_U(size_of(p1), 90); /* three whole lines: a fourth would cross 100 */
  CHECK_EQ_U(size_of(p2), 90);
  CHECK(size_of(p3) == -1);
  CHECK_EQ_U(f.dropped, 0);

  /* one write bigger than max_bytes is split across files, never past max */
  char big[250];
  memset(big, 'y', sizeof big);
  tv_outfile_write(&f, big, sizeof big);
  CHECK(size_of(path) <= 100 && size_of(p1) <= 100 && size_of(p2) <= 100);
  tv_outfile_close(&f);

  /* lines that arrive in pieces, and several per write, never straddle two
   * files; an unterminated line is held until its newline or a flush */
  char lines[256];
  snprintf(lines, sizeof lines, "%s/lines", dir);
  CHECK(tv_outfile_open(&f, lines, 100, 3) == 0);
  const char *text = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
                     "cccccccccccccccccccc\ndddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\n";
  size_t tlen = strlen(text);
  for (size_t i = 0; i < tlen; i += 7) tv_outfile_write(&f, text + i, tlen - i < 7 ? tlen - i : 7);
  tv_outfile_write(&f, "tail", 4);
  char l1[300];
  snprintf(l1, sizeof l1, "%s.1", lines);
  CHECK_EQ_U(f.holdlen, 4);
  tv_outfile_flush(&f);
  CHECK_EQ_U(f.holdlen, 0);
  tv_outfile_close(&f);
  char got[512];
  for (int i = 3; i >= 0; i--) { /* every file starts a line and ends one (but the last) */
    char name[300];
    if (i)
      snprintf(name, sizeof name, "%s.%d", lines, i);
    else
      snprintf(name, sizeof name, "%s", lines);
    FILE *in = fopen(name, "rb");
    if (!in) continue;
    size_t n = fread(got, 1, sizeof got - 1, in);
    fclose(in);
    got[n] = 0;
    CHECK(n > 0 && n <= 100);
    if (i) CHECK(got[n - 1] == '\n');
    if (i == 0) CHECK(strcmp(got + n - 4, "tail") == 0);
  }
  /* a 45, b 56, c 21, d 61 bytes, then "tail": a | b c | d tail */
  char l2[300];
  snprintf(l2, sizeof l2, "%s.2", lines);
  CHECK_EQ_U(size_of(l2), 45);
  CHECK_EQ_U(size_of(l1), 77);
  CHECK_EQ_U(size_of(lines), 65);

  /* lost bytes: counted, reported at once, then at most every REPORT_MS */
  CHECK(tv_outfile_open(&f, "/dev/full", 0, 0) == 0);
  uint64_t bytes = 0;
  int err = 0;
  CHECK(tv_outfile_report(&f, 1000, 0, &bytes, &err) == 0);
  tv_outfile_write(&f, line, 30);
  CHECK_EQ_U(f.dropped, 30);
  CHECK(tv_outfile_report(&f, 1000, 0, &bytes, &err) == 1);
  CHECK_EQ_U(bytes, 30);
  CHECK(err == -ENOSPC);
  tv_outfile_write(&f, line, 30);
  tv_outfile_write(&f, line, 30);
  CHECK(tv_outfile_report(&f, 1000 + TV_OUTFILE_REPORT_MS - 1, 0, &bytes, &err) == 0);
  CHECK(tv_outfile_report(&f, 1000 + TV_OUTFILE_REPORT_MS, 0, &bytes, &err) == 1);
  CHECK_EQ_U(bytes, 60);
  tv_outfile_write(&f, line, 30);
  CHECK(tv_outfile_report(&f, 1000 + TV_OUTFILE_REPORT_MS, 1, &bytes, &err) == 1); /* forced */
  CHECK_EQ_U(bytes, 30);
  CHECK_EQ_U(f.dropped, 120);
  tv_outfile_close(&f);

  /* a removed directory: rotation cannot reopen; every write after retries the
   * file, and once the directory is back, writing resumes */
  char sub[256], gone[300];
  snprintf(sub, sizeof sub, "%s/sub", dir);
  snprintf(gone, sizeof gone, "%s/log", sub);
  CHECK(mkdir(sub, 0755) == 0);
  CHECK(tv_outfile_open(&f, gone, 60, 1) == 0);
  char rmcmd[300];
  snprintf(rmcmd, sizeof rmcmd, "rm -rf %s", sub);
  tv_outfile_write(&f, line, 30);
  CHECK(system(rmcmd) == 0);
  tv_outfile_write(&f, line, 30);
  tv_outfile_write(&f, line, 30); /* rotates: the reopen fails */
  CHECK_EQ_U(f.dropped, 30);
  CHECK(f.error == -ENOENT);
  CHECK(mkdir(sub, 0755) == 0);
  tv_outfile_write(&f, line, 30);
  CHECK_EQ_U(f.dropped, 30);
  CHECK_EQ_U(size_of(gone), 30);
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
