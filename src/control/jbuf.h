/* jbuf.h - a growing text buffer that writes JSON values as it goes, for the
 * control API's large answers (10,000 tasks): jansson builds a tree of every
 * value first (an allocation per value; 45 ms for 10,000 tasks here), and has
 * no streaming writer. Strings are escaped as RFC 8259 wants (", \ and
 * control characters) and any byte that is not UTF-8 becomes U+FFFD, as
 * ljson's lossy encoding does; what reads the text back (ctl, specs) parses
 * it with jansson. Also the buffer of the Prometheus text (lmetrics.c).
 * Layers up: json peer listener jbuf tasklist | server lstatus lmetrics | lserver. */
#ifndef TVC_JBUF_H
#define TVC_JBUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct jbuf {
  char *s;
  size_t len, cap;
  int failed; /* out of memory: everything after is dropped */
} jbuf_t;

void jb_put(jbuf_t *b, const char *s, size_t n);
void jb_cstr(jbuf_t *b, const char *s); /* raw text */
/* A JSON string (quoted, escaped; non-UTF-8 bytes as U+FFFD). */
void jb_str(jbuf_t *b, const char *s, size_t n);
void jb_int(jbuf_t *b, int64_t v);
/* A number with microsecond precision ("1796655757.558000"). */
void jb_secs(jbuf_t *b, double v);
static inline void jb_free(jbuf_t *b) {
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}

#endif
