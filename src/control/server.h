/* server.h - the control API's HTTP/1.1 server: libmicrohttpd in external
 * epoll mode, driven from the host's libuv loop (its epoll fd watched by a
 * uv_poll, MHD_get_timeout on a uv_timer): no threads. It admits peers
 * (SO_PEERCRED), bounds connections, bodies and idle time, and hands each
 * complete request to on_request, which answers with tvc_reply or opens a
 * stream. Layers up: json peer listener | server | lserver (src/control/). */
#ifndef TVC_SERVER_H
#define TVC_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "peer.h"

typedef struct tvc_server tvc_server_t;
typedef struct tvc_stream tvc_stream_t;
typedef struct tvc_request tvc_request_t;

typedef struct tvc_server_cfg {
  unsigned idle_timeout; /* seconds a connection may stay silent */
  unsigned max_conn;     /* more open connections than this: 503 */
  size_t max_body;       /* a larger body: 413 */
  gid_t group;           /* admitted besides our uid and root; TVC_NO_GROUP */
  /* A complete, admitted request: answer it (tvc_reply / tvc_reply_stream)
   * before returning; unanswered, it gets 500. */
  void (*on_request)(void *data, tvc_request_t *r);
  void (*on_tick)(void *data); /* tvc_server_tick's period passed */
  void *data;
  int tcp; /* a TCP listener (--http): no SO_PEERCRED; on_request admits (token, Host) */
} tvc_server_cfg_t;

/* Starts serving the listening socket fd (the server owns it from now on).
 * 0 and *out, or -1 with a message in err (fd closed). */
int tvc_server_start(uv_loop_t *loop, int fd, const tvc_server_cfg_t *cfg, tvc_server_t **out,
                     char *err, size_t errlen);
/* Ends every stream, flushes what can be flushed, stops the daemon and closes
 * the handles (freed in their close callbacks: run the loop once after). */
void tvc_server_close(tvc_server_t *s);
/* Calls on_tick every ms milliseconds (0: stops): for followers of a file. */
void tvc_server_tick(tvc_server_t *s, uint64_t ms);
/* Open connections now. */
unsigned tvc_server_connections(const tvc_server_t *s);

/* The request being answered (valid during on_request only). */
const char *tvc_request_method(const tvc_request_t *r);
const char *tvc_request_path(const tvc_request_t *r);
const char *tvc_request_body(const tvc_request_t *r, size_t *len);
const tvc_peer_t *tvc_request_peer(const tvc_request_t *r);
/* A request header's value, or NULL (valid during on_request only). */
const char *tvc_request_header(const tvc_request_t *r, const char *name);
/* Calls fn for each query argument in order (value NULL for "?flag"). */
void tvc_request_args(tvc_request_t *r, void (*fn)(void *arg, const char *k, const char *v),
                      void *arg);

/* Answers with a whole body (copied). 0, or -1 if it cannot be queued. */
int tvc_reply(tvc_request_t *r, unsigned status, const char *ctype, const char *body, size_t len);
/* {"error": {"code": code, "message": message}} */
int tvc_reply_error(tvc_request_t *r, unsigned status, const char *code, const char *message);
/* Answers with a body written later, chunked, until tvc_stream_end. The
 * caller holds the returned stream (a reference) until tvc_stream_end.
 * NULL if it cannot be made. */
tvc_stream_t *tvc_reply_stream(tvc_request_t *r, unsigned status, const char *ctype);
/* Queues bytes for the client: 0, or -1 when the client is gone or has let
 * more than TVC_STREAM_MAX bytes pile up (the stream is then ended; a write
 * into an empty queue is always taken). */
int tvc_stream_write(tvc_stream_t *st, const char *data, size_t len);
/* Whether the client may still get what is written. */
int tvc_stream_alive(const tvc_stream_t *st);
/* Bytes written and not yet sent. */
size_t tvc_stream_pending(const tvc_stream_t *st);
/* Whether TVC_STREAM_HIGH bytes or more wait: a writer that can wait should
 * stop, and is told (watch->drained) once they are down to TVC_STREAM_LOW. */
int tvc_stream_full(tvc_stream_t *st);

/* A writer's callbacks, both called from inside the server (defer any work
 * that is not bookkeeping): drained after tvc_stream_full said 1, once the
 * bytes waiting fell to TVC_STREAM_LOW; gone once the client is gone or the
 * server closes (the writer then ends its reference with tvc_stream_end). */
typedef struct tvc_stream_watch {
  void (*drained)(void *data);
  void (*gone)(void *data);
} tvc_stream_watch_t;
/* Sets the writer's callbacks (w outlives the stream; NULL: none). */
void tvc_stream_watch(tvc_stream_t *st, const tvc_stream_watch_t *w, void *data);
/* The end of the body; drops the caller's reference (st is gone after). */
void tvc_stream_end(tvc_stream_t *st);

#define TVC_STREAM_MAX (1u << 20)
#define TVC_STREAM_HIGH (256u << 10)
#define TVC_STREAM_LOW (64u << 10)

#endif
