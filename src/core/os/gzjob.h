/* gzjob.h - compressing a rotated log file off the loop: zlib in libuv's
 * thread pool, so a large file never stalls the loop (it owns nothing the
 * loop touches: its own copies of the names). src is written to dst.tmp,
 * renamed to dst when whole, and removed; on any error src stays as it is
 * and dst.tmp is removed. Owner: the caller until it forgets the job. */
#ifndef TV_GZJOB_H
#define TV_GZJOB_H

#include <uv.h>

typedef struct tv_gzjob tv_gzjob_t;

/* Starts compressing src into dst; done(arg, rc) runs on the loop when it
 * is over (rc 0 or a negative errno). 0 and *out, or a negative errno. */
int tv_gzjob_start(uv_loop_t *loop, const char *src, const char *dst,
                   void (*done)(void *arg, int rc), void *arg, tv_gzjob_t **out);
/* The owner is gone: the job finishes on its own, and calls nobody. */
void tv_gzjob_forget(tv_gzjob_t *j);

#endif
