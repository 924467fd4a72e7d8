/* outfile.c - size- and time-rotating append-only files, with optional
 * per-line timestamps and compressed rotations (see outfile.h). */
#define _GNU_SOURCE
#include "core/os/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/os/gzjob.h"

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

static int rotate_gz(tv_outfile_t *f);

static void gz_done(void *arg, int rc) {
  tv_outfile_t *f = arg;
  (void)rc; /* a failure leaves path.1 uncompressed: nothing is lost */
  f->gz = NULL;
}

/* 0, or the negative errno that left path in place. */
static int rotate(tv_outfile_t *f) {
  if (f->compress && f->backups > 0) return rotate_gz(f);
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

/* Compressed backups: path.N-1.gz -> path.N.gz, ..., path -> path.1, then
 * path.1 -> path.1.gz in the thread pool (no rotation until that is done). */
static int rotate_gz(tv_outfile_t *f) {
  size_t n = strlen(f->path) + 24;
  char *from = malloc(n), *to = malloc(n);
  int rc = from && to ? 0 : -ENOMEM;
  close(f->fd);
  f->fd = -1;
  if (from && to) {
    for (uint32_t i = f->backups - 1; i >= 1; i--) {
      snprintf(from, n, "%s.%u.gz", f->path, i);
      snprintf(to, n, "%s.%u.gz", f->path, i + 1);
      rename(from, to);
    }
    snprintf(from, n, "%s.1", f->path);
    snprintf(to, n, "%s.1.gz", f->path);
    if (rename(f->path, from) != 0 && errno != ENOENT) {
      rc = -errno;
    } else if (f->loop && tv_gzjob_start(f->loop, from, to, gz_done, f, &f->gz) != 0) {
      f->gz = NULL; /* no memory: path.1 stays as it is */
    }
  }
  free(from);
  free(to);
  reopen(f);
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

static int rotating(const tv_outfile_t *f) { return f->regular && (f->max_bytes || f->every_s); }

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
    /* (while the last rotation is being compressed, the file grows on) */
    uint64_t limit = f->max_bytes && !f->gz ? f->max_bytes : UINT64_MAX;
    uint64_t room = f->size < limit ? limit - f->size : 0;
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
  size_t cap = f->max_bytes && f->max_bytes < TV_OUTFILE_HOLD_MAX ? (size_t)f->max_bytes
                                                                  : TV_OUTFILE_HOLD_MAX;
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

void tv_outfile_extras(tv_outfile_t *f, const tv_outfile_extra_t *x) {
  f->timestamps = x->timestamps && x->clock;
  f->compress = x->compress && x->loop;
  f->clock = x->clock;
  f->loop = x->loop;
  f->every_s = x->clock ? x->every_s : 0;
  if (f->every_s) {
    double now = tv_clock_wall(f->clock);
    f->period_end = (floor(now / (double)f->every_s) + 1) * (double)f->every_s;
  }
}

/* Time rotation, between lines: the first write after the period ended
 * starts a new file (not before a held line is complete, nor while the last
 * rotation is being compressed). */
static void rotate_on_time(tv_outfile_t *f) {
  double now = tv_clock_wall(f->clock);
  if (now < f->period_end || f->holdlen || f->gz) return;
  if (f->size > 0) rotate(f);
  f->period_end = (floor(now / (double)f->every_s) + 1) * (double)f->every_s;
}

/* "2026-12-07T11:40:00.123Z " */
#define STAMP_LEN 25
static void stamp(const tv_outfile_t *f, char out[64]) {
  double now = tv_clock_wall(f->clock);
  time_t secs = (time_t)now;
  int ms = (int)((now - (double)secs) * 1000.0);
  if (ms > 999) ms = 999;
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static void write_lines(tv_outfile_t *f, const char *buf, size_t len);

/* Each line that starts in buf gets the time its first bytes arrived. */
static void write_stamped(tv_outfile_t *f, const char *buf, size_t len) {
  size_t lines = 0;
  for (const char *p = buf, *end = buf + len; p < end && (p = memchr(p, '\n', (size_t)(end - p)));
       p++)
    lines++;
  size_t cap = len + (lines + 1) * STAMP_LEN;
  char small[8192];
  char *out = cap <= sizeof small ? small : malloc(cap);
  if (!out) { /* no memory for the stamps: the bytes matter more */
    write_lines(f, buf, len);
    return;
  }
  char st[64];
  stamp(f, st);
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (!f->midline) {
      memcpy(out + o, st, STAMP_LEN);
      o += STAMP_LEN;
      f->midline = 1;
    }
    out[o++] = buf[i];
    if (buf[i] == '\n') f->midline = 0;
  }
  write_lines(f, out, o);
  if (out != small) free(out);
}

void tv_outfile_write(tv_outfile_t *f, const char *buf, size_t len) {
  if (len == 0) return;
  if (f->every_s && f->regular) rotate_on_time(f);
  if (f->timestamps) {
    write_stamped(f, buf, len);
    return;
  }
  write_lines(f, buf, len);
}

static void write_lines(tv_outfile_t *f, const char *buf, size_t len) {
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
  if (f->gz) tv_gzjob_forget(f->gz);
  f->gz = NULL;
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  free(f->path);
  f->path = NULL;
  free(f->hold);
  f->hold = NULL;
}
