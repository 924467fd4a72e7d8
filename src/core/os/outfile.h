/* outfile.h - an append-only log file with size-based rotation: when a write
 * would take it past max_bytes, path.N-1 -> path.N, ..., path -> path.1 and a
 * fresh path is opened, so at most (backups + 1) * max_bytes bytes are kept.
 * Files that are not regular (a tty, /dev/stdout as a pipe) are never
 * rotated. Writes are synchronous: local files, bounded chunks.
 * Owner: whoever opened it (a process task, across its attempts). */
#ifndef TV_OUTFILE_H
#define TV_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tv_outfile {
  char *path;
  uint64_t max_bytes; /* 0: never rotate */
  uint32_t backups;   /* rotated files kept (0: the file is just truncated) */
  int fd;             /* -1 when closed (reopened on the next write) */
  int regular;
  uint64_t size;
  uint64_t dropped;   /* bytes lost to write errors (disk full, ...) */
} tv_outfile_t;

/* Copies path. 0, or a negative errno (the file cannot be opened: the error
 * is reported at configuration time, not on the first line). */
int tv_outfile_open(tv_outfile_t *f, const char *path, uint64_t max_bytes, uint32_t backups);
void tv_outfile_write(tv_outfile_t *f, const char *buf, size_t len);
void tv_outfile_close(tv_outfile_t *f);

#endif
