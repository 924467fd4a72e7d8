/* outfile.h - an append-only log file with size-based rotation: before a line
 * would take it past max_bytes, path.N-1 -> path.N, ..., path -> path.1 and a
 * fresh path is opened, so at most (backups + 1) * max_bytes bytes are kept
 * and a line is never split across two files (Python's RotatingFileHandler,
 * supervisord), except a line longer than max_bytes (or than
 * TV_OUTFILE_HOLD_MAX: an unterminated line is held in memory up to that,
 * until its newline or a flush). Files that are not regular (a tty,
 * /dev/stdout as a pipe) are never rotated nor held. Writes are synchronous:
 * local files, bounded chunks. Bytes the file refused (a full disk, a
 * removed directory) are counted, and the file is tried again on the next
 * write; tv_outfile_report says when to tell someone.
 * Owner: whoever opened it (a process task, across its attempts). */
#ifndef TV_OUTFILE_H
#define TV_OUTFILE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/base/clock.h"

#define TV_OUTFILE_HOLD_MAX 65536
#define TV_OUTFILE_REPORT_MS 5000 /* at most one loss report per file this often */

typedef struct tv_outfile {
  char *path;
  uint64_t max_bytes; /* 0: never rotate */
  uint32_t backups;   /* rotated files kept (0: the file is just truncated) */
  int fd;             /* -1 when closed (reopened on the next write) */
  int regular;
  uint64_t size;
  char *hold;         /* rotating: the unterminated last line, not written yet */
  size_t holdlen;
  uint64_t dropped;   /* bytes lost to write errors, in total */
  uint64_t unreported; /* of those, lost since the last report */
  int error;          /* the last error that lost bytes (negative errno) */
  uint8_t reported;   /* a report was made; the next waits for reported_ms + TV_OUTFILE_REPORT_MS */
  uint64_t reported_ms;
  /* tv_outfile_extras: */
  uint8_t timestamps;  /* each line starts with its RFC 3339 UTC time */
  uint8_t compress;    /* rotated files are gzip'd (path.1.gz ...), off the loop */
  uint8_t midline;     /* timestamps: the last byte written was not a newline */
  uint64_t every_s;    /* time rotation: a new file each every_s seconds (0: none) */
  double period_end;   /* wall time the current file's period ends */
  const tv_clock_t *clock;
  uv_loop_t *loop;
  struct tv_gzjob *gz; /* the compression running, or NULL */
  uint8_t gz_due;      /* a rotation waits for it */
} tv_outfile_t;

/* What a log file does beyond size rotation (supervisord's logfile options,
 * logrotate's compress/daily, PM2 logrotate's rotateInterval). */
typedef struct tv_outfile_extra {
  int timestamps;
  int compress;      /* needs loop: the work runs in libuv's thread pool */
  uint64_t every_s;  /* periods are aligned to the epoch (UTC): 3600 rotates on the hour */
  const tv_clock_t *clock; /* wall time for stamps and periods */
  uv_loop_t *loop;
} tv_outfile_extra_t;

/* Copies path. 0, or a negative errno (the file cannot be opened: the error
 * is reported at configuration time, not on the first line). */
int tv_outfile_open(tv_outfile_t *f, const char *path, uint64_t max_bytes, uint32_t backups);
/* After tv_outfile_open. A file with timestamps or a period is rotated
 * between lines like a size-rotated one. */
void tv_outfile_extras(tv_outfile_t *f, const tv_outfile_extra_t *x);
void tv_outfile_write(tv_outfile_t *f, const char *buf, size_t len);
/* Writes a held unterminated line (the stream ended). */
void tv_outfile_flush(tv_outfile_t *f);
/* 1 when bytes were lost since the last report and a report is due (the
 * first at once, then at most every TV_OUTFILE_REPORT_MS; `force`: now,
 * e.g. the stream ended): *bytes and *error say what, and the count starts
 * again. 0: nothing to report now. */
int tv_outfile_report(tv_outfile_t *f, uint64_t now_ms, int force, uint64_t *bytes, int *error);
/* Flushes, closes, frees (a compression still running finishes on its own). */
void tv_outfile_close(tv_outfile_t *f);

#endif
