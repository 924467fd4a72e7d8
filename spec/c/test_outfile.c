/* test_outfile.c - the rotating log file: sizes stay under max_bytes, backups
 * shift and the oldest is dropped, nothing is lost between files, rotation
 * falls between lines, lost bytes are counted and reported. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "core/os/outfile.h"

static long size_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static char *slurp(const char *path) {
  static char buf[8192];
  FILE *fp = fopen(path, "r");
  if (!fp) return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[n] = 0;
  return buf;
}

/* Timestamps, time rotation (a manual clock) and compressed rotations. */
static void extras(const char *dir) {
  tv_clock_t clock;
  tv_clock_init_manual(&clock, 0); /* wall: 1e9 s = 2001-09-09T01:46:40Z */
  char path[256], p1[300], gz1[300], gz2[300];
  snprintf(path, sizeof path, "%s/stamped", dir);
  snprintf(p1, sizeof p1, "%s.1", path);
  tv_outfile_t f;
  CHECK(tv_outfile_open(&f, path, 0, 0) == 0);
  tv_outfile_extras(&f, &(tv_outfile_extra_t){.timestamps = 1, .clock = &clock});
  tv_outfile_write(&f, "a\nb", 3); /* a line in two pieces gets one stamp */
  tv_clock_set(&clock, 1500);
  tv_outfile_write(&f, "c\n\n", 3);
  tv_outfile_close(&f);
  CHECK_STR(slurp(path), "2001-09-09T01:46:40.000Z a\n2001-09-09T01:46:40.000Z bc\n"
                         "2001-09-09T01:46:41.500Z \n");

  /* every_s = 60: the first line after a period ended starts a new file */
  snprintf(path, sizeof path, "%s/timed", dir);
  snprintf(p1, sizeof p1, "%s.1", path);
  tv_clock_init_manual(&clock, 0);
  CHECK(tv_outfile_open(&f, path, 0, 2) == 0);
  tv_outfile_extras(&f, &(tv_outfile_extra_t){.every_s = 60, .clock = &clock});
  tv_outfile_write(&f, "one\n", 4);
  tv_clock_set(&clock, 15000);
  tv_outfile_write(&f, "two\n", 4); /* 1e9 + 15 s: the same minute (1e9 is 40 s into one) */
  CHECK(size_of(p1) == -1);
  tv_clock_set(&clock, 21000);
  tv_outfile_write(&f, "thr", 3); /* the next minute: rotated before the line */
  tv_outfile_write(&f, "ee\n", 3);
  tv_outfile_close(&f);
  CHECK_STR(slurp(p1), "one\ntwo\n");
  CHECK_STR(slurp(path), "three\n");

  /* compress: path.1 becomes path.1.gz in the thread pool, older ones shift */
  uv_loop_t loop;
  CHECK(uv_loop_init(&loop) == 0);
  snprintf(path, sizeof path, "%s/packed", dir);
  snprintf(p1, sizeof p1, "%s.1", path);
  snprintf(gz1, sizeof gz1, "%s.1.gz", path);
  snprintf(gz2, sizeof gz2, "%s.2.gz", path);
  CHECK(tv_outfile_open(&f, path, 10, 3) == 0);
  tv_outfile_extras(&f, &(tv_outfile_extra_t){.compress = 1, .loop = &loop});
  tv_outfile_write(&f, "first\n", 6);
  tv_outfile_write(&f, "second\n", 7); /* past 10 bytes: rotates, compresses */
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(size_of(p1) == -1);
  tv_outfile_write(&f, "third\n", 6);
  uv_run(&loop, UV_RUN_DEFAULT);
  tv_outfile_close(&f);
  gzFile gz = gzopen(gz2, "rb");
  CHECK(gz != NULL);
  char got[64] = {0};
  if (gz) {
    CHECK(gzread(gz, got, sizeof got - 1) == 6);
    gzclose(gz);
  }
  CHECK_STR(got, "first\n");
  gz = gzopen(gz1, "rb");
  CHECK(gz != NULL);
  memset(got, 0, sizeof got);
  if (gz) {
    CHECK(gzread(gz, got, sizeof got - 1) == 7);
    gzclose(gz);
  }
  CHECK_STR(got, "second\n");
  CHECK_STR(slurp(path), "third\n");
  CHECK(uv_loop_close(&loop) == 0);
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

  extras(dir);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  return check_report();
}
