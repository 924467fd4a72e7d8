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

static void lose(tv_outfile_t *f, size_t n, int error) {
  f->dropped += n;
  f->unreported += n;
  f->error = error;
}

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

/* 0, or the negative errno that left path in place. */
static int rotate(tv_outfile_t *f) {
  size_t n = strlen(f->path) + 16;
  char *from = malloc(n), *to = malloc(n);
  int rc = from && to ? 0 : -ENOMEM;
  close(f->fd);
  f->fd = -1;
  if (from && to) {
    if (f->backups == 0) {
      if (unlink(f->path) != 0 && errno != ENOENT) rc = -errno;
    } else {
      for (uint32_t i = f->backups - 1; i >= 1; i--) {
        snprintf(from, n, "%s.%u", f->path, i);
        snprintf(to, n, "%s.%u", f->path, i + 1);
        rename(from, to); /* a missing one is fine */
      }
      snprintf(to, n, "%s.1", f->path);
      if (rename(f->path, to) != 0 && errno != ENOENT) rc = -errno;
    }
  }
  free(from);
  free(to);
  reopen(f); /* a failure: the next write tries again, and counts its loss */
  return rc;
}

/* To the open file: 0, or -1 once the rest was lost (counted). */
static int write_all(tv_outfile_t *f, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(f->fd, buf, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      lose(f, len, w < 0 ? -errno : -ENOSPC);
      return -1;
    }
    buf += w;
    len -= (size_t)w;
    f->size += (uint64_t)w;
  }
  return 0;
}

static int rotating(const tv_outfile_t *f) { return f->regular && f->max_bytes; }

/* Bytes that are whole lines (or one piece of a line too long to hold):
 * written so that a file is rotated between lines. */
static void put(tv_outfile_t *f, const char *s, size_t n) {
  while (n > 0) {
    int rc = f->fd >= 0 ? 0 : f->path ? reopen(f) : -EBADF;
    if (rc) {
      lose(f, n, rc);
      return;
    }
    if (!rotating(f)) {
      write_all(f, s, n);
      return;
    }
    uint64_t room = f->size < f->max_bytes ? f->max_bytes - f->size : 0;
    if (n <= room) {
      write_all(f, s, n);
      return;
    }
    const char *cut = room ? memrchr(s, '\n', (size_t)room) : NULL;
    size_t k;
    if (cut) {
      k = (size_t)(cut - s) + 1; /* the lines that fit */
    } else if (f->size > 0) {
      k = 0; /* the next line does not fit: it starts the next file */
    } else {
      k = (size_t)room; /* a line longer than max_bytes: split */
    }
    if (k && write_all(f, s, k) != 0) {
      lose(f, n - k, f->error);
      return;
    }
    s += k;
    n -= k;
    rc = rotate(f);
    if (f->fd >= 0 && f->size > 0) { /* renames refused: never grow past max_bytes */
      lose(f, n, rc ? rc : -EEXIST);
      return;
    }
  }
}

static void hold(tv_outfile_t *f, const char *s, size_t n) {
  size_t cap = f->max_bytes < TV_OUTFILE_HOLD_MAX ? (size_t)f->max_bytes : TV_OUTFILE_HOLD_MAX;
  if (f->holdlen + n > cap) { /* too long to keep whole: written as it comes */
    tv_outfile_flush(f);
    put(f, s, n);
    return;
  }
  if (!f->hold && !(f->hold = malloc(cap))) {
    put(f, s, n);
    return;
  }
  memcpy(f->hold + f->holdlen, s, n);
  f->holdlen += n;
}

void tv_outfile_write(tv_outfile_t *f, const char *buf, size_t len) {
  if (len == 0) return;
  if (!rotating(f)) {
    put(f, buf, len);
    return;
  }
  const char *last = memrchr(buf, '\n', len);
  if (!last) {
    hold(f, buf, len);
    return;
  }
  size_t whole = (size_t)(last - buf) + 1;
  if (f->holdlen) { /* the held line ends in buf: completed and written first */
    size_t first = (size_t)((const char *)memchr(buf, '\n', len) - buf) + 1;
    hold(f, buf, first);
    tv_outfile_flush(f);
    buf += first;
    len -= first;
    whole -= first;
  }
  put(f, buf, whole);
  if (len > whole) hold(f, buf + whole, len - whole);
}

void tv_outfile_flush(tv_outfile_t *f) {
  if (!f->holdlen) return;
  size_t n = f->holdlen;
  f->holdlen = 0;
  put(f, f->hold, n);
}

int tv_outfile_report(tv_outfile_t *f, uint64_t now_ms, int force, uint64_t *bytes, int *error) {
  if (!f->unreported) return 0;
  if (!force && f->reported && now_ms < f->reported_ms + TV_OUTFILE_REPORT_MS) return 0;
  f->reported = 1;
  f->reported_ms = now_ms;
  *bytes = f->unreported;
  *error = f->error;
  f->unreported = 0;
  return 1;
}

void tv_outfile_close(tv_outfile_t *f) {
  tv_outfile_flush(f);
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  free(f->path);
  f->path = NULL;
  free(f->hold);
  f->hold = NULL;
}
