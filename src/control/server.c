/* server.c - libmicrohttpd run from our libuv loop. MHD_USE_EPOLL without an
 * internal thread: MHD's epoll fd is watched by a uv_poll, its timeouts by a
 * uv_timer, and every MHD_run happens in one of their callbacks, so requests
 * are answered on the loop between task events, never concurrently.
 * Owner: the caller of tvc_server_start owns the server until
 * tvc_server_close; the struct is freed when both handles have closed. */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

struct tvc_server {
  struct MHD_Daemon *d;
  uv_poll_t poll;
  uv_timer_t timer;
  uv_timer_t tick;  /* on_tick's period */
  tvc_server_cfg_t cfg;
  uid_t own;
  unsigned nconn;
  int open_handles; /* handles not yet closed: freed at 0 */
  int closing;
  tvc_stream_t *streams; /* live streams (the response still holds them) */
  uint64_t pass_start;   /* uv_hrtime of the MHD_run under way */
  unsigned handled;      /* requests answered in it */
  tvc_request_t *deferred; /* suspended until the next pass (PASS_BUDGET_NS) */
};

/* One pass of MHD over its ready connections answers requests until it has
 * spent this long, then suspends the rest until the next turn of the loop:
 * a hundred clients asking at once never hold the loop (and every task's
 * timers) for a hundred answers. */
#define PASS_BUDGET_NS 2000000ull

/* A body over max_body is read and dropped, then answered 413, up to this
 * much: answering while the client still sends and closing would leave its
 * unread bytes in our socket, and the kernel resets the connection before
 * the client reads the answer (curl then reports no status at all). A
 * client that asks first (Expect: 100-continue) is answered at once, and a
 * larger body is cut short like that: answered, then the connection closed. */
#define DROP_MAX (8u << 20)

/* One request. Owner: MHD's per-request pointer, freed at NOTIFY_COMPLETED. */
struct tvc_request {
  tvc_server_t *srv;
  struct MHD_Connection *conn;
  const char *method, *url;
  tvc_peer_t peer;
  char *body;
  size_t len, cap;
  int too_big, answered;
  size_t dropped; /* body bytes read and dropped since too_big */
  tvc_request_t *next_deferred;
};

/* A streamed body. Two references: the writer's (until tvc_stream_end) and
 * the response's (until MHD frees it). Freed when both are gone. */
struct tvc_stream {
  tvc_server_t *srv; /* NULL once the response is gone */
  struct MHD_Connection *conn;
  char *buf;
  size_t off, len, cap; /* unsent bytes: buf[off, len) */
  int refs, ended, suspended, want_drain, hung_up;
  uv_poll_t *hup; /* while suspended: the client's socket, for its hang-up */
  const tvc_stream_watch_t *watch; /* the writer's, or NULL */
  void *watch_data;
  tvc_stream_t *next, **prevp;
};

static void kick(tvc_server_t *s);

/* ---- streams --------------------------------------------------------------- */

static void stream_unref(tvc_stream_t *st) {
  if (--st->refs > 0) return;
  free(st->buf);
  free(st);
}

static void hup_closed(uv_handle_t *h) { free(h); }

/* Closed at once (not only stopped): its fd is still the connection's now,
 * and a handle closed later could take a reused fd out of the loop's epoll. */
static void hup_stop(tvc_stream_t *st) {
  if (!st->hup) return;
  uv_close((uv_handle_t *)st->hup, hup_closed);
  st->hup = NULL;
}

static void stream_resume(tvc_stream_t *st) {
  hup_stop(st);
  if (!st->suspended || !st->srv) return;
  st->suspended = 0;
  MHD_resume_connection(st->conn);
  kick(st->srv);
}

/* The client hung up while its connection was suspended: resumed, so that
 * the server sees it and frees the response (stream_gone). */
static void on_hup(uv_poll_t *p, int status, int events) {
  (void)status, (void)events;
  tvc_stream_t *st = p->data;
  uv_os_fd_t fd;
  char c;
  ssize_t n = uv_fileno((uv_handle_t *)p, &fd) == 0 ? recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) : 1;
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
    st->hung_up = 1; /* (end of file: MHD too closes a connection that reads one) */
    stream_resume(st);
  } else {
    hup_stop(st); /* (not a hang-up: not watched again until the next suspend) */
  }
}

/* MHD does not watch a suspended connection: we do, for its hang-up only
 * (EPOLLRDHUP; data the client sends waits for MHD). Best effort. */
static void hup_watch(tvc_stream_t *st) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (st->hup || !ci || !st->srv) return;
  uv_poll_t *p = malloc(sizeof *p);
  if (!p) return;
  if (uv_poll_init(st->srv->poll.loop, p, ci->connect_fd) != 0) {
    free(p);
    return;
  }
  p->data = st;
  st->hup = p;
  if (uv_poll_start(p, UV_DISCONNECT, on_hup) != 0) hup_stop(st);
}

/* MHD asks for more of the body: what is queued, the end, or (nothing yet)
 * suspend the connection until a write resumes it. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  tvc_stream_t *st = cls;
  if (st->hung_up) return MHD_CONTENT_READER_END_WITH_ERROR;
  if (st->len > st->off) { /* (an offset, not a memmove per read: 1 MiB queued was 30 MiB moved) */
    size_t n = st->len - st->off < max ? st->len - st->off : max;
    memcpy(buf, st->buf + st->off, n);
    st->off += n;
    if (st->off == st->len) st->off = st->len = 0;
    if (st->want_drain && st->len - st->off <= TVC_STREAM_LOW) {
      st->want_drain = 0;
      if (st->watch && st->watch->drained) st->watch->drained(st->watch_data);
    }
    return (ssize_t)n;
  }
  if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
  st->suspended = 1;
  MHD_suspend_connection(st->conn);
  hup_watch(st);
  return 0;
}

static void stream_gone(void *cls) {
  tvc_stream_t *st = cls;
  if (st->prevp) {
    *st->prevp = st->next;
    if (st->next) st->next->prevp = st->prevp;
    st->prevp = NULL;
  }
  hup_stop(st);
  st->srv = NULL;
  st->ended = 1;
  const tvc_stream_watch_t *w = st->watch;
  st->watch = NULL;
  if (w && w->gone) w->gone(st->watch_data); /* (may end the writer's reference: ours is left) */
  stream_unref(st);
}

int tvc_stream_write(tvc_stream_t *st, const char *data, size_t len) {
  if (!st->srv || st->ended) return -1;
  size_t queued = st->len - st->off;
  /* A client that does not read: cut it off. (A write into an empty queue is
   * taken whatever its size: one line of 10,000 tasks is 3 MB.) */
  if (queued > 0 && queued + len > TVC_STREAM_MAX) {
    st->ended = 1;
    st->off = st->len = 0;
    stream_resume(st);
    return -1;
  }
  if (st->off && st->len + len > st->cap) { /* room at the front first */
    memmove(st->buf, st->buf + st->off, st->len - st->off);
    st->len -= st->off;
    st->off = 0;
  }
  if (st->len + len > st->cap) {
    size_t cap = st->cap ? st->cap : 4096;
    while (cap < st->len + len) cap *= 2;
    char *b = realloc(st->buf, cap);
    if (!b) return -1;
    st->buf = b;
    st->cap = cap;
  }
  memcpy(st->buf + st->len, data, len);
  st->len += len;
  stream_resume(st);
  return 0;
}

int tvc_stream_alive(const tvc_stream_t *st) { return st->srv != NULL && !st->ended; }

size_t tvc_stream_pending(const tvc_stream_t *st) { return st->len - st->off; }

int tvc_stream_full(tvc_stream_t *st) {
  if (st->len - st->off < TVC_STREAM_HIGH) return 0;
  st->want_drain = 1;
  return 1;
}

void tvc_stream_watch(tvc_stream_t *st, const tvc_stream_watch_t *w, void *data) {
  st->watch = st->srv ? w : NULL;
  st->watch_data = data;
}

void tvc_stream_end(tvc_stream_t *st) {
  st->watch = NULL;
  st->ended = 1;
  stream_resume(st);
  stream_unref(st);
}

/* ---- answers --------------------------------------------------------------- */

static int queue(tvc_request_t *r, unsigned status, struct MHD_Response *resp, const char *ctype) {
  if (!resp) return -1;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  int ok = MHD_queue_response(r->conn, status, resp) == MHD_YES;
  MHD_destroy_response(resp);
  if (ok) r->answered = 1;
  return ok ? 0 : -1;
}

int tvc_reply(tvc_request_t *r, unsigned status, const char *ctype, const char *body, size_t len) {
  if (r->answered) return -1;
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  return queue(r, status, resp, ctype);
}

int tvc_reply_error(tvc_request_t *r, unsigned status, const char *code, const char *message) {
  json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  int rc;
  if (text) {
    size_t n = strlen(text);
    text[n] = '\n'; /* (over its NUL: the length is given) */
    rc = tvc_reply(r, status, "application/json", text, n + 1);
    free(text);
  } else {
    static const char oom[] = "{\"error\":{\"code\":\"ENOMEM\",\"message\":\"not enough memory\"}}";
    rc = tvc_reply(r, 500, "application/json", oom, sizeof oom - 1);
  }
  return rc;
}

tvc_stream_t *tvc_reply_stream(tvc_request_t *r, unsigned status, const char *ctype) {
  if (r->answered) return NULL;
  tvc_stream_t *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->srv = r->srv;
  st->conn = r->conn;
  st->refs = 2;
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_gone);
  if (!resp) {
    free(st);
    return NULL;
  }
  st->next = r->srv->streams;
  if (st->next) st->next->prevp = &st->next;
  st->prevp = &r->srv->streams;
  r->srv->streams = st;
  /* a follower may be quiet for long: no idle timeout on it */
  MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0);
  if (queue(r, status, resp, ctype) != 0) { /* (stream_gone ran: the writer's ref is left) */
    stream_unref(st);
    return NULL;
  }
  return st;
}

/* ---- the request ----------------------------------------------------------- */

const char *tvc_request_method(const tvc_request_t *r) { return r->method; }
const char *tvc_request_path(const tvc_request_t *r) { return r->url; }
const char *tvc_request_body(const tvc_request_t *r, size_t *len) {
  *len = r->len;
  return r->body;
}
const tvc_peer_t *tvc_request_peer(const tvc_request_t *r) { return &r->peer; }

const char *tvc_request_header(const tvc_request_t *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

typedef struct args_ctx {
  void (*fn)(void *arg, const char *k, const char *v);
  void *arg;
} args_ctx;

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind, const char *k, const char *v) {
  (void)kind;
  args_ctx *a = cls;
  a->fn(a->arg, k, v);
  return MHD_YES;
}

void tvc_request_args(tvc_request_t *r, void (*fn)(void *arg, const char *k, const char *v),
                      void *arg) {
  args_ctx a = {fn, arg};
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_arg, &a);
}

static int reply_too_big(tvc_request_t *r) {
  char msg[96];
  snprintf(msg, sizeof msg, "request body over %zu bytes", r->srv->cfg.max_body);
  return tvc_reply_error(r, 413, "ETOOBIG", msg);
}

/* First call for a request: admission, connection limit, declared size. */
static int screen(tvc_server_t *s, tvc_request_t *r) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  int fd = ci ? ci->connect_fd : -1;
  if (s->cfg.tcp) { /* (no kernel word on a TCP peer: the handler checks its token) */
    r->peer.uid = (uid_t)-1, r->peer.gid = (gid_t)-1, r->peer.pid = 0;
  } else if (fd < 0 || tvc_peer_get(fd, &r->peer) != 0 ||
      !tvc_peer_admitted(fd, &r->peer, s->own, s->cfg.group)) {
    fprintf(stderr, "taskvisor: control: refused %s %s from uid %u gid %u pid %d (not this host's "
                    "user, root or the control group)\n",
            r->method, r->url, (unsigned)r->peer.uid, (unsigned)r->peer.gid, (int)r->peer.pid);
    fflush(stderr);
    return tvc_reply_error(r, 403, "EACCES", "peer not admitted: only this host's user, root "
                                             "and the control group may use this socket");
  }
  if (s->nconn > s->cfg.max_conn) {
    char msg[96];
    snprintf(msg, sizeof msg, "too many connections (limit %u)", s->cfg.max_conn);
    return tvc_reply_error(r, 503, "EBUSY", msg);
  }
  const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
  if (n > s->cfg.max_body) {
    const char *expect = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    r->too_big = 1; /* (take_body drops what comes; the last call answers) */
    if ((expect && strcasecmp(expect, "100-continue") == 0) || n > DROP_MAX) return reply_too_big(r);
  }
  return 0;
}

static void take_body(tvc_server_t *s, tvc_request_t *r, const char *data, size_t n) {
  if (!r->too_big && r->len + n > s->cfg.max_body) { /* (chunked: no Content-Length said so) */
    r->too_big = 1;
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
  }
  if (r->too_big) {
    r->dropped += n;
    if (r->dropped > DROP_MAX) reply_too_big(r); /* (answered: the rest is not read) */
    return;
  }
  if (r->len + n + 1 > r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 1024;
    while (cap < r->len + n + 1) cap *= 2;
    char *b = realloc(r->body, cap);
    if (!b) {
      r->too_big = 1;
      return;
    }
    r->body = b;
    r->cap = cap;
  }
  memcpy(r->body + r->len, data, n);
  r->len += n;
  r->body[r->len] = 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
  (void)version;
  tvc_server_t *s = cls;
  tvc_request_t *r = *con_cls;
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    r->srv = s;
    r->conn = conn;
    r->method = method;
    r->url = url;
    *con_cls = r;
    if (screen(s, r) != 0) return MHD_NO;
    return MHD_YES;
  }
  if (r->answered) { /* refused at the door: drop what it still sends */
    *upload_size = 0;
    return MHD_YES;
  }
  if (*upload_size) {
    take_body(s, r, upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  if (r->too_big) return reply_too_big(r) == 0 ? MHD_YES : MHD_NO;
  if (s->handled && (int64_t)(uv_hrtime() - s->pass_start) > (int64_t)PASS_BUDGET_NS) { /* the next pass answers it */
    MHD_suspend_connection(conn);
    r->next_deferred = s->deferred;
    s->deferred = r;
    kick(s);
    return MHD_YES;
  }
  s->handled++;
  s->cfg.on_request(s->cfg.data, r);
  if (!r->answered) tvc_reply_error(r, 500, "EINTERNAL", "the request was not answered");
  return r->answered ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls, (void)c, (void)toe;
  tvc_request_t *r = *con_cls;
  if (!r) return;
  free(r->body);
  free(r);
  *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  (void)c, (void)socket_context;
  tvc_server_t *s = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED)
    s->nconn++;
  else if (s->nconn > 0)
    s->nconn--;
}

/* ---- the loop -------------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

/* The requests a pass put off go back to MHD. */
static void resume_deferred(tvc_server_t *s) {
  tvc_request_t *r = s->deferred;
  s->deferred = NULL;
  while (r) {
    tvc_request_t *next = r->next_deferred;
    r->next_deferred = NULL;
    MHD_resume_connection(r->conn);
    r = next;
  }
}

#define STREAM_PASSES 15

/* The bytes queued on streams whose connections are not suspended. */
static size_t streams_waiting(const tvc_server_t *s) {
  size_t n = 0;
  for (const tvc_stream_t *st = s->streams; st; st = st->next)
    if (!st->suspended) n += st->len - st->off;
  return n;
}

static void run_mhd(tvc_server_t *s) {
  if (s->closing) return;
  resume_deferred(s);
  s->pass_start = uv_hrtime();
  s->handled = 0;
  MHD_run(s->d);
  /* A pass sends at most a connection's write buffer (its 32 KiB memory
   * pool) per connection: a stream with more queued gets a few more passes
   * now rather than one per turn of a busy loop (a follower of a restart
   * storm was held to ~30 MB/s), as long as they take some (a client that
   * does not read costs no extra pass). */
  size_t waiting = streams_waiting(s), now;
  for (int i = 0; i < STREAM_PASSES && waiting; i++, waiting = now) {
    MHD_run(s->d);
    if ((now = streams_waiting(s)) >= waiting) break;
  }
  MHD_UNSIGNED_LONG_LONG ms;
  if (MHD_get_timeout(s->d, &ms) == MHD_YES)
    uv_timer_start(&s->timer, on_timer, ms, 0);
  else
    uv_timer_stop(&s->timer);
}

static void on_timer(uv_timer_t *t) { run_mhd(t->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status, (void)events;
  run_mhd(p->data);
}

/* Work for MHD outside its callbacks (a stream resumed): on the next turn. */
static void kick(tvc_server_t *s) {
  if (!s->closing) uv_timer_start(&s->timer, on_timer, 0, 0);
}

static void on_tick(uv_timer_t *t) {
  tvc_server_t *s = t->data;
  if (!s->closing && s->cfg.on_tick) s->cfg.on_tick(s->cfg.data);
}

void tvc_server_tick(tvc_server_t *s, uint64_t ms) {
  if (s->closing) return;
  if (ms == 0)
    uv_timer_stop(&s->tick);
  else if (!uv_is_active((uv_handle_t *)&s->tick))
    uv_timer_start(&s->tick, on_tick, ms, ms);
}

unsigned tvc_server_connections(const tvc_server_t *s) { return s->nconn; }

static void on_closed(uv_handle_t *h) {
  tvc_server_t *s = h->data;
  if (--s->open_handles == 0) free(s);
}

int tvc_server_start(uv_loop_t *loop, int fd, const tvc_server_cfg_t *cfg, tvc_server_t **out,
                     char *err, size_t errlen) {
  tvc_server_t *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    snprintf(err, errlen, "not enough memory");
    return -1;
  }
  s->cfg = *cfg;
  s->own = getuid();
  s->d = MHD_start_daemon(
      MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, on_access, s,
      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->idle_timeout,
      /* past max_conn a few more are let in to be told 503; past those, closed */
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)(cfg->max_conn + 16),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
  if (!s->d) {
    close(fd);
    free(s);
    snprintf(err, errlen, "cannot start the HTTP server (libmicrohttpd)");
    return -1;
  }
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  uv_timer_init(loop, &s->tick);
  s->tick.data = s;
  s->open_handles = 2;
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
  int rc = di ? uv_poll_init(loop, &s->poll, di->epoll_fd) : UV_EINVAL;
  if (rc != 0) {
    MHD_stop_daemon(s->d); /* (closes fd) */
    snprintf(err, errlen, "cannot watch the HTTP server on the loop: %s", uv_strerror(rc));
    s->closing = 1;
    uv_close((uv_handle_t *)&s->timer, on_closed);
    uv_close((uv_handle_t *)&s->tick, on_closed); /* (the last frees s) */
    return -1;
  }
  s->poll.data = s;
  s->open_handles = 3;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  run_mhd(s);
  *out = s;
  return 0;
}

void tvc_server_close(tvc_server_t *s) {
  /* Every stream ends: resumed, its connection gets the end of the body. */
  for (tvc_stream_t *st = s->streams; st; st = st->next) {
    st->ended = 1;
    hup_stop(st);
    if (st->suspended) {
      st->suspended = 0;
      MHD_resume_connection(st->conn);
    }
  }
  resume_deferred(s);
  s->handled = 0;
  s->pass_start = uv_hrtime() + 3600000000000ull; /* (no budget: what is under way is answered now) */
  for (int i = 0; i < 3; i++) MHD_run(s->d); /* flush answers queued just now */
  s->closing = 1;
  uv_timer_stop(&s->timer);
  uv_poll_stop(&s->poll);
  MHD_stop_daemon(s->d); /* closes the socket, frees the responses (stream_gone) */
  uv_close((uv_handle_t *)&s->poll, on_closed);
  uv_close((uv_handle_t *)&s->timer, on_closed);
  uv_close((uv_handle_t *)&s->tick, on_closed);
}
