/* event_json.h - a core event (tv_event_t) as one JSON object, the text the
 * control API's /v1/events gives: the fields and values of the binding's
 * event objects (src/lua/levent.c) as the Lua encoder wrote them (strings
 * escaped by jansson, lossy where not UTF-8; `at` as jansson prints a real),
 * in levent's order: seq, at, kind, then the optional fields present.
 * Layers up: json peer listener event_json | server | backlog | lbacklog lserver. */
#ifndef TVC_EVENT_JSON_H
#define TVC_EVENT_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/events/event.h"

/* A growable text buffer. Owner: whoever embeds it (tvc_buf_free). */
typedef struct tvc_buf {
  char *p;
  size_t len, cap;
} tvc_buf_t;

int tvc_buf_grow(tvc_buf_t *b, size_t n);
/* Makes room for n more bytes: 0, or -1 (no memory). (Inline: an event is
 * a dozen small appends.) */
static inline int tvc_buf_reserve(tvc_buf_t *b, size_t n) {
  return b->len + n <= b->cap ? 0 : tvc_buf_grow(b, n);
}
static inline int tvc_buf_add(tvc_buf_t *b, const char *s, size_t n) {
  if (tvc_buf_reserve(b, n) != 0) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}
void tvc_buf_free(tvc_buf_t *b);

/* The encoder's cache: the text of the last `at` (it changes once per loop
 * tick, not per event). Zero it to start. */
typedef struct tvc_event_enc {
  double at;
  uint8_t at_len;
  char at_text[40];
} tvc_event_enc_t;

/* Appends ev as a JSON object (no newline): 0, or -1 (no memory). */
int tvc_event_json(tvc_event_enc_t *e, tvc_buf_t *b, const tv_event_t *ev);
/* Appends a JSON string (quoted, escaped; lossy: not UTF-8 -> U+FFFD). */
int tvc_json_string(tvc_buf_t *b, const char *s, size_t len);
/* Appends a signed / unsigned integer as JSON. */
int tvc_json_int(tvc_buf_t *b, int64_t v);
int tvc_json_uint(tvc_buf_t *b, uint64_t v);
/* Appends a real as jansson writes one (the text of json_real(v)). */
int tvc_json_real(tvc_event_enc_t *e, tvc_buf_t *b, double v);

#endif
