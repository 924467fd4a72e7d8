/* event_json.c - core events as JSON text without a Lua value or a jansson
 * tree per event: the object is written field by field, and only what needs
 * jansson goes through it (a string with bytes to escape or that may not be
 * UTF-8, a real's text, cached per `at`). The text is what the Lua encoder
 * made of the binding's event objects (spec/control_spec.lua reads both). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop/signals.h"
#include "event_json.h"
#include "ljson.h"

int tvc_buf_grow(tvc_buf_t *b, size_t n) {
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + n) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

void tvc_buf_free(tvc_buf_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

#define ADD_LIT(b, lit) tvc_buf_add((b), (lit), sizeof(lit) - 1)

/* jansson's text for a value (JSON_ENCODE_ANY), appended; v is consumed. */
static int add_dumped(tvc_buf_t *b, json_t *v) {
  if (!v) return -1;
  size_t n = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY | JSON_COMPACT);
  int rc = n && tvc_buf_reserve(b, n) == 0 ? 0 : -1;
  if (rc == 0) b->len += json_dumpb(v, b->p + b->len, n, JSON_ENCODE_ANY | JSON_COMPACT);
  json_decref(v);
  return rc;
}

int tvc_json_string(tvc_buf_t *b, const char *s, size_t len) {
  size_t i = 0;
  while (i < len) { /* printable ASCII but '"' and '\\': jansson writes it as it is */
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
    i++;
  }
  if (i == len) {
    if (tvc_buf_reserve(b, len + 2) != 0) return -1;
    b->p[b->len++] = '"';
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len++] = '"';
    return 0;
  }
  json_t *v = json_stringn(s, len);
  if (!v) v = ltv_json_lossy_string(s, len);
  return add_dumped(b, v);
}

int tvc_json_uint(tvc_buf_t *b, uint64_t v) {
  static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                              "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                              "8081828384858687888990919293949596979899";
  char tmp[24], *p = tmp + sizeof tmp;
  while (v >= 100) { /* two digits a division: a seq has nine or ten */
    unsigned d = (unsigned)(v % 100);
    v /= 100;
    p -= 2;
    memcpy(p, pairs + 2 * d, 2);
  }
  if (v >= 10) {
    p -= 2;
    memcpy(p, pairs + 2 * v, 2);
  } else {
    *--p = (char)('0' + v);
  }
  return tvc_buf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

int tvc_json_int(tvc_buf_t *b, int64_t v) {
  if (v >= 0) return tvc_json_uint(b, (uint64_t)v);
  if (ADD_LIT(b, "-") != 0) return -1;
  return tvc_json_uint(b, (uint64_t)0 - (uint64_t)v);
}

int tvc_json_real(tvc_event_enc_t *e, tvc_buf_t *b, double v) {
  if (!isfinite(v)) return ADD_LIT(b, "null"); /* (the Lua encoder's choice too) */
  if (e->at_len == 0 || v != e->at) {
    size_t n = 0;
    json_t *r = json_real(v);
    if (r) n = json_dumpb(r, e->at_text, sizeof e->at_text, JSON_ENCODE_ANY);
    json_decref(r);
    if (n == 0 || n > sizeof e->at_text) return -1;
    e->at = v;
    e->at_len = (uint8_t)n;
  }
  return tvc_buf_add(b, e->at_text, e->at_len);
}

static int str_field(tvc_buf_t *b, const char *key, size_t klen, const tv_str_t *s) {
  if (tvc_buf_add(b, key, klen) != 0) return -1;
  return tvc_json_string(b, s ? s->s : "", s ? s->len : 0);
}

static int int_field(tvc_buf_t *b, const char *key, size_t klen, int64_t v) {
  if (tvc_buf_add(b, key, klen) != 0) return -1;
  return tvc_json_int(b, v);
}

static int name_field(tvc_buf_t *b, const char *key, size_t klen, const char *name) {
  if (tvc_buf_add(b, key, klen) != 0) return -1;
  return tvc_json_string(b, name, strlen(name));
}

#define KEY(k) ",\"" k "\":", sizeof(",\"" k "\":") - 1

int tvc_event_json(tvc_event_enc_t *e, tvc_buf_t *b, const tv_event_t *ev) {
  static const char *const sources[] = {"success", "failure", "schedule", "cooldown"};
  unsigned f = ev->fields;
  int bad = ADD_LIT(b, "{\"seq\":") || tvc_json_uint(b, ev->seq) || ADD_LIT(b, ",\"at\":") ||
            tvc_json_real(e, b, ev->at) ||
            name_field(b, KEY("kind"), ev->kind < TV_EV__COUNT ? tv_event_kind_name(ev->kind)
                                                               : tv_event_kind_name(0));
  if (!bad && (f & TV_F_TASK)) bad = str_field(b, KEY("task"), ev->task);
  if (!bad && (f & TV_F_ATTEMPT)) bad = int_field(b, KEY("attempt"), ev->attempt);
  if (!bad && (f & TV_F_REASON)) bad = str_field(b, KEY("reason"), ev->reason);
  if (!bad && (f & TV_F_TIMEOUT_MS)) bad = int_field(b, KEY("timeout_ms"), ev->timeout_ms);
  if (!bad && (f & TV_F_DELAY_MS)) bad = int_field(b, KEY("delay_ms"), ev->delay_ms);
  if (!bad && (f & TV_F_BACKOFF_SOURCE))
    bad = name_field(b, KEY("backoff_source"),
                     sources[ev->backoff_source <= TV_BACKOFF_COOLDOWN ? ev->backoff_source : 1]);
  if (!bad && (f & TV_F_EXIT_CODE)) bad = int_field(b, KEY("exit_code"), ev->exit_code);
  if (!bad && (f & TV_F_TRACEBACK)) bad = str_field(b, KEY("traceback"), ev->traceback);
  if (!bad && (f & TV_F_SLOT)) bad = str_field(b, KEY("slot"), ev->slot);
  if (!bad && (f & TV_F_SIGNAL)) bad = name_field(b, KEY("signal"), tv_signal_name(ev->signal));
  if (!bad && (f & TV_F_STREAM))
    bad = name_field(b, KEY("stream"), ev->stream == TV_STREAM_STDERR ? "stderr" : "stdout");
  if (!bad && (f & TV_F_LINE)) bad = str_field(b, KEY("line"), ev->line);
  if (!bad && (f & TV_F_FILE)) bad = str_field(b, KEY("file"), ev->file);
  if (!bad && (f & TV_F_BYTES)) bad = tvc_buf_add(b, KEY("bytes")) || tvc_json_uint(b, ev->bytes);
  if (!bad && (f & TV_F_PID)) bad = int_field(b, KEY("pid"), ev->pid);
  if (!bad && (f & TV_F_KILLED)) bad = tvc_buf_add(b, KEY("killed")) || ADD_LIT(b, "true");
  if (!bad) bad = ADD_LIT(b, "}");
  return bad ? -1 : 0;
}
