/* ctl_http.c - requests to the control API: libcurl over the host's Unix
 * socket (CURLOPT_UNIX_SOCKET_PATH), answers read with jansson. The one place
 * that turns "no connection" into exit status 3 and an API error into the
 * message on stderr and status 1. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ctl.h"

#define BASE_URL "http://localhost"
#define CONNECT_TIMEOUT_S 10L
#define REQUEST_TIMEOUT_S 120L /* a host with 300,000 tasks answers in seconds */
#define MAX_ERROR_BODY (1u << 20)

const char *tv_client_escape(const char *s, char *out, size_t size) {
  char *e = curl_easy_escape(NULL, s, 0);
  if (e == NULL || strlen(e) >= size)
    out[0] = '\0';
  else
    strcpy(out, e);
  curl_free(e);
  return out;
}

typedef struct buffer {
  char *p;
  size_t n, cap;
} buffer;

static int append(buffer *b, const char *d, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) return -1;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
  b->p[b->n] = '\0';
  return 0;
}

static size_t on_body(char *d, size_t size, size_t nmemb, void *ud) {
  return append(ud, d, size * nmemb) == 0 ? size * nmemb : 0;
}

/* Why a connection failed, from a plain connect() (curl only says it did):
 * a missing socket and a refusing one mean no host (3); anything else, such
 * as a socket the peer's permissions keep us from, is a failure (1). */
static int connect_failed(const tv_client_t *c) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (strlen(c->socket) >= sizeof a.sun_path) {
    tv_client_error("socket path %s is longer than a Unix socket's %zu bytes", c->socket, sizeof a.sun_path - 1);
    return TV_CLIENT_FAILED;
  }
  strcpy(a.sun_path, c->socket);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int err = fd < 0 ? errno : (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : errno);
  if (fd >= 0) close(fd);
  if (err == ENOENT || err == ENOTDIR) {
    tv_client_error("no host running: no socket at %s", c->socket);
    return TV_CLIENT_DOWN;
  }
  if (err == ECONNREFUSED) {
    tv_client_error("no host running: %s refuses connections (left by a host that ended?)", c->socket);
    return TV_CLIENT_DOWN;
  }
  if (err == 0) {
    tv_client_error("cannot connect to %s (it accepts connections now: try again)", c->socket);
    return TV_CLIENT_FAILED;
  }
  tv_client_error("cannot connect to %s: %s", c->socket, strerror(err));
  return TV_CLIENT_FAILED;
}

static int transport_failed(const tv_client_t *c, CURLcode rc, const char *errbuf) {
  if (rc == CURLE_COULDNT_CONNECT) return connect_failed(c);
  tv_client_error("%s: %s", c->socket, errbuf[0] ? errbuf : curl_easy_strerror(rc));
  return TV_CLIENT_FAILED;
}

/* Reports an answer that is not 2xx: its error.message, or what it is. */
static int api_failed(const char *what, long status, const char *body, size_t len) {
  json_error_t je;
  json_t *j = body ? json_loadb(body, len, 0, &je) : NULL;
  const char *msg = NULL;
  json_t *e = json_object_get(j, "error");
  if (json_is_object(e)) msg = json_string_value(json_object_get(e, "message"));
  else if (json_is_string(e)) msg = json_string_value(e);
  /* 410 EGONE says which seq is the oldest kept: the operator's next --since */
  json_t *oldest = json_object_get(j, "oldest");
  if (!json_is_integer(oldest)) oldest = json_object_get(e, "oldest");
  char extra[64] = "";
  if (json_is_integer(oldest) && (!msg || !strstr(msg, "oldest")))
    snprintf(extra, sizeof extra, " (the oldest kept is seq %" JSON_INTEGER_FORMAT ")", json_integer_value(oldest));
  if (msg && what)
    tv_client_error("%s: %s%s", what, msg, extra);
  else if (msg)
    tv_client_error("%s%s", msg, extra);
  else
    tv_client_error("%s%sthe host answered HTTP %ld: %.200s", what ? what : "", what ? ": " : "", status,
                 body && len ? body : "(no body)");
  json_decref(j);
  return TV_CLIENT_FAILED;
}

static CURL *easy(const tv_client_t *c, const char *path, char *errbuf) {
  CURL *h = curl_easy_init();
  if (h == NULL) return NULL;
  size_t n = strlen(BASE_URL) + strlen(path) + 1;
  char *url = malloc(n);
  if (url == NULL) {
    curl_easy_cleanup(h);
    return NULL;
  }
  snprintf(url, n, "%s%s", BASE_URL, path);
  curl_easy_setopt(h, CURLOPT_URL, url); /* (libcurl copies it) */
  free(url);
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "taskvisor-ctl");
  errbuf[0] = '\0';
  return h;
}

int tv_client_request(tv_client_t *c, const char *what, const char *method, const char *path,
                   json_t *body, tv_client_response_t *r) {
  memset(r, 0, sizeof *r);
  if (!c->resolved) { /* only now: a usage error is reported before "no host" */
    int s = tv_client_socket_resolve(c->name, c->socket, sizeof c->socket);
    if (s != TV_CLIENT_OK) return s;
    c->resolved = 1;
  }
  char errbuf[CURL_ERROR_SIZE];
  CURL *h = easy(c, path, errbuf);
  if (h == NULL) {
    tv_client_error("cannot set up a request: not enough memory");
    return TV_CLIENT_FAILED;
  }
  buffer b = {0};
  char *text = NULL;
  struct curl_slist *headers = NULL;
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S);
  if (strcmp(method, "POST") == 0) {
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(text ? strlen(text) : 0));
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  } else if (strcmp(method, "GET") != 0) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  }
  CURLcode rc = curl_easy_perform(h);
  int status = TV_CLIENT_OK;
  if (rc != CURLE_OK) {
    status = transport_failed(c, rc, errbuf);
  } else {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    r->body = b.p ? b.p : strdup("");
    r->len = b.n;
    b.p = NULL;
    if (r->status < 200 || r->status > 299) status = api_failed(what, r->status, r->body, r->len);
  }
  free(b.p);
  free(text);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  return status;
}

void tv_client_response_free(tv_client_response_t *r) {
  free(r->body);
  memset(r, 0, sizeof *r);
}

json_t *tv_client_response_json(const tv_client_response_t *r, const char *what) {
  json_error_t je;
  json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, &je);
  if (j == NULL) tv_client_error("%s: the host's answer is not JSON (%s at byte %d)", what, je.text, je.position);
  return j;
}

/* ---- streams */
typedef struct stream {
  CURL *h;
  long status; /* 0 until the headers are in */
  buffer line;  /* a partial line; or, for an error answer, the whole body */
  tv_client_line_fn on_line;
  void *ud;
  int stopped;
} stream;

static size_t on_stream(char *d, size_t size, size_t nmemb, void *ud) {
  stream *s = ud;
  size_t n = size * nmemb;
  if (s->status == 0) curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
  if (s->status < 200 || s->status > 299)
    return s->line.n + n > MAX_ERROR_BODY || append(&s->line, d, n) == 0 ? n : 0;
  const char *end = d + n;
  while (d < end) {
    char *nl = memchr(d, '\n', (size_t)(end - d));
    if (nl == NULL) return append(&s->line, d, (size_t)(end - d)) == 0 ? n : 0;
    const char *l = d; /* (the line is read only) */
    size_t len = (size_t)(nl - d);
    if (s->line.n) { /* the rest of a line begun in an earlier chunk */
      if (append(&s->line, d, len) != 0) return 0;
      l = s->line.p;
      len = s->line.n;
    }
    if (len && s->on_line(s->ud, l, len) != 0) {
      s->stopped = 1;
      return 0;
    }
    s->line.n = 0;
    d = nl + 1;
  }
  /* Each chunk shown as it comes (`ctl events -f | grep` sees lines at once);
   * a reader gone (EPIPE: `| head`) ends the stream quietly. */
  if (fflush(stdout) != 0) {
    s->stopped = 1;
    return 0;
  }
  return n;
}

int tv_client_stream(tv_client_t *c, const char *what, const char *path, tv_client_line_fn on_line,
                  void *ud) {
  if (!c->resolved) {
    int st = tv_client_socket_resolve(c->name, c->socket, sizeof c->socket);
    if (st != TV_CLIENT_OK) return st;
    c->resolved = 1;
  }
  char errbuf[CURL_ERROR_SIZE];
  stream s = {.on_line = on_line, .ud = ud};
  s.h = easy(c, path, errbuf);
  if (s.h == NULL) {
    tv_client_error("cannot set up a request: not enough memory");
    return TV_CLIENT_FAILED;
  }
  curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, on_stream);
  curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
  CURLcode rc = curl_easy_perform(s.h);
  if (s.status == 0) curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &s.status); /* (an empty body) */
  int status = TV_CLIENT_OK;
  if (rc != CURLE_OK && !s.stopped) {
    status = transport_failed(c, rc, errbuf);
  } else if (s.status < 200 || s.status > 299) {
    status = api_failed(what, s.status, s.line.p, s.line.n);
  } else if (!s.stopped && s.line.n) { /* a last line without its newline */
    on_line(ud, s.line.p, s.line.n);
  }
  free(s.line.p);
  curl_easy_cleanup(s.h);
  return status;
}

void tv_client_print_body(const tv_client_response_t *r, FILE *out) {
  size_t len = r->len;
  while (len && (r->body[len - 1] == '\n' || r->body[len - 1] == '\r')) len--;
  if (memchr(r->body, '\n', len) == NULL) { /* as the host wrote it: no parse, no re-encode */
    fwrite(r->body, 1, len, out);
    fputc('\n', out);
    return;
  }
  json_error_t je;
  json_t *j = json_loadb(r->body, len, 0, &je);
  if (j) {
    json_dumpf(j, out, JSON_COMPACT);
    fputc('\n', out);
    json_decref(j);
  } else {
    fwrite(r->body, 1, len, out);
    fputc('\n', out);
  }
}
