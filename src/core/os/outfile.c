/* outfile.c - size-rotating append-only files (see outfile.h). */
#define _GNU_SOURCE
#include "core/os/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int reopen(tv_outfile_t *f) {
  f->fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
  if (f->fd < 0) return -errno;
  struct stat st;
  f->regular = fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode);
  f->size = f->regular ? (uint64_t)st.st_size : 0;
  return 0;
}

int tv_outfile_open(tv_outfile_t *f, const char *path, uint64_t max_bytes, uint32_t backups) {
  memset(f, 0, sizeof *f);
  f->fd = -1;
  f->path = strdup(path);
  if (!f->path) return -ENOMEM;
  f->max_bytes = max_bytes;
  f->backups = backups;
  int rc = reopen(f);
  if (rc) {
    free(f->path);
    f->path = NULL;
  }
  return rc;
}

static void rotate(tv_outfile_t *f) {
  size_t n = strlen(f->path) + 16;
  char *from = malloc(n), *to = malloc(n);
  close(f->fd);
  f->fd = -1;
  if (from && to) {
    if (f->backups == 0) {
      unlink(f->path);
    } else {
      for (uint32_t i = f->backups - 1; i >= 1; i--) {
        snprintf(from, n, "%s.%u", f->path, i);
        snprintf(to, n, "%s.%u", f->path, i + 1);
        rename(from, to); /* a missing one is fine */
      }
      snprintf(to, n, "%s.1", f->path);
      rename(f->path, to);
    }
  }
  free(from);
  free(to);
  reopen(f);
}

static void write_all(tv_outfile_t *f, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(f->fd, buf, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      f->dropped += len;
      return;
    }
    buf += w;
    len -= (size_t)w;
    f->size += (uint64_t)w;
  }
}

void tv_outfile_write(tv_outfile_t *f, const char *buf, size_t len) {
  while (len > 0) {
    if (f->fd < 0 && (!f->path || reopen(f) != 0)) {
      f->dropped += len;
      return;
    }
    size_t n = len;
    if (f->regular && f->max_bytes) {
      if (f->size >= f->max_bytes) {
        rotate(f);
        if (f->fd >= 0 && f->size >= f->max_bytes) { /* renames refused: never grow */
          f->dropped += len;
          return;
        }
        continue;
      }
      uint64_t room = f->max_bytes - f->size;
      if (n > room) n = (size_t)room;
    }
    write_all(f, buf, n);
    buf += n;
    len -= n;
  }
}

void tv_outfile_close(tv_outfile_t *f) {
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  free(f->path);
  f->path = NULL;
}
