/* gzjob.c - gzip a rotated log file in libuv's thread pool (gzjob.h). */
#define _GNU_SOURCE
#include "core/os/gzjob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

struct tv_gzjob {
  uv_work_t work;
  char *src, *dst, *tmp;
  int rc;
  void (*done)(void *arg, int rc);
  void *arg;
};

/* In the thread pool: touches only the job. */
static void compress_file(uv_work_t *w) {
  tv_gzjob_t *j = w->data;
  int in = open(j->src, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    j->rc = -errno;
    return;
  }
  gzFile out = gzopen(j->tmp, "wb6e"); /* e: O_CLOEXEC */
  if (!out) {
    j->rc = errno ? -errno : -ENOMEM;
    close(in);
    return;
  }
  char buf[65536];
  ssize_t n;
  int rc = 0;
  while ((n = read(in, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
      break;
    }
    if (gzwrite(out, buf, (unsigned)n) != (int)n) {
      rc = -EIO;
      break;
    }
  }
  close(in);
  if (gzclose(out) != Z_OK && rc == 0) rc = -EIO;
  if (rc == 0 && rename(j->tmp, j->dst) != 0) rc = -errno;
  if (rc == 0) {
    unlink(j->src);
  } else {
    unlink(j->tmp);
  }
  j->rc = rc;
}

static void finished(uv_work_t *w, int status) {
  tv_gzjob_t *j = w->data;
  if (j->done) j->done(j->arg, status ? status : j->rc);
  free(j->src);
  free(j->dst);
  free(j->tmp);
  free(j);
}

int tv_gzjob_start(uv_loop_t *loop, const char *src, const char *dst,
                   void (*done)(void *arg, int rc), void *arg, tv_gzjob_t **out) {
  tv_gzjob_t *j = calloc(1, sizeof *j);
  size_t n = strlen(dst) + 5;
  if (j) {
    j->src = strdup(src);
    j->dst = strdup(dst);
    j->tmp = malloc(n);
  }
  if (!j || !j->src || !j->dst || !j->tmp) {
    if (j) {
      free(j->src);
      free(j->dst);
      free(j->tmp);
    }
    free(j);
    return -ENOMEM;
  }
  snprintf(j->tmp, n, "%s.tmp", dst);
  j->done = done;
  j->arg = arg;
  j->work.data = j;
  int rc = uv_queue_work(loop, &j->work, compress_file, finished);
  if (rc != 0) {
    free(j->src);
    free(j->dst);
    free(j->tmp);
    free(j);
    return rc;
  }
  *out = j;
  return 0;
}

void tv_gzjob_forget(tv_gzjob_t *j) { j->done = NULL; }
