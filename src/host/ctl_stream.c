/* ctl_stream.c - the commands that read what the host recorded:
 * `tail [-f] [-n N] [--stderr] NAME` (a task's captured output) and
 * `events [-f] [--since SEQ] [--limit N]` (the event backlog, then the live
 * stream). Follow mode reads the API's ndjson stream until it ends or the
 * operator interrupts it. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

typedef struct printer {
  tv_client_t *c;
  const char *field; /* tail: "line"; events: NULL (the whole event) */
} printer;

static int print_line(void *ud, const char *line, size_t len) {
  printer *p = ud;
  if (p->c->json) { /* ndjson in, ndjson out: as the host wrote it */
    fwrite(line, 1, len, stdout);
    fputc('\n', stdout);
    return 0;
  }
  json_error_t je;
  json_t *j = json_loadb(line, len, 0, &je);
  if (j == NULL) {
    tv_client_error("a line of the host's stream is not JSON (%s): %.80s", je.text, line);
    return 0;
  }
  if (p->field) {
    const char *s = json_string_value(json_object_get(j, p->field));
    if (s) puts(s);
  } else if (json_object_get(j, "kind")) {
    tv_client_event_line(j, stdout);
  }
  json_decref(j);
  return 0;
}

int tv_client_tail(tv_client_t *c, int argc, char **argv) {
  static const tv_client_opt_t opts[] = {{"follow", 'f', 0}, {"lines", 'n', 1}, {"stderr", 0, 0}, {NULL, 0, 0}};
  const char *vals[3];
  int help;
  int n = tv_client_args(c, argc, argv, opts, vals, &help);
  if (help) return tv_client_usage(stdout, argv[0]), TV_CLIENT_OK;
  if (n < 0) return TV_CLIENT_USAGE;
  if (n == 0) return tv_client_usage_error(argv[0], "missing NAME (a task's name)");
  if (n > 1) return tv_client_usage_error(argv[0], "one NAME only (got %d)", n);
  long lines = vals[1] ? tv_client_number(argv[0], "-n", vals[1], 0) : 10;
  if (lines < 0) return TV_CLIENT_USAGE;
  char esc[1024], path[1400];
  if (!tv_client_escape(argv[1], esc, sizeof esc)[0]) return tv_client_usage_error(argv[0], "NAME too long");
  snprintf(path, sizeof path, "/v1/tasks/%s/output?stream=%s&lines=%ld%s", esc, vals[2] ? "stderr" : "stdout",
           lines, vals[0] ? "&follow=1" : "");
  printer p = {c, "line"};
  if (vals[0]) return tv_client_stream(c, argv[1], path, print_line, &p);
  tv_client_response_t r;
  int status = tv_client_request(c, argv[1], "GET", path, NULL, &r);
  if (status == TV_CLIENT_OK && c->json) {
    tv_client_print_body(&r, stdout);
  } else if (status == TV_CLIENT_OK) {
    json_t *j = tv_client_response_json(&r, "tail");
    json_t *list = json_object_get(j, "lines");
    if (j && !json_is_array(list)) tv_client_error("tail: the host's answer has no 'lines' list");
    if (!json_is_array(list)) status = TV_CLIENT_FAILED;
    size_t i;
    json_t *l;
    json_array_foreach(list, i, l) if (json_is_string(l)) puts(json_string_value(l));
    json_decref(j);
  }
  tv_client_response_free(&r);
  return status;
}

int tv_client_events(tv_client_t *c, int argc, char **argv) {
  static const tv_client_opt_t opts[] = {{"follow", 'f', 0}, {"since", 0, 1}, {"limit", 0, 1}, {NULL, 0, 0}};
  const char *vals[3];
  int help;
  int n = tv_client_args(c, argc, argv, opts, vals, &help);
  if (help) return tv_client_usage(stdout, argv[0]), TV_CLIENT_OK;
  if (n < 0) return TV_CLIENT_USAGE;
  if (n > 0) return tv_client_usage_error(argv[0], "unexpected operand '%s'", argv[1]);
  long since = vals[1] ? tv_client_number(argv[0], "--since", vals[1], 0) : -1;
  long limit = vals[2] ? tv_client_number(argv[0], "--limit", vals[2], 1) : -1;
  if ((vals[1] && since < 0) || (vals[2] && limit < 0)) return TV_CLIENT_USAGE;
  char path[128];
  int len = snprintf(path, sizeof path, "/v1/events?");
  if (since >= 0) len += snprintf(path + len, sizeof path - len, "since=%ld&", since);
  if (limit > 0) len += snprintf(path + len, sizeof path - len, "limit=%ld&", limit);
  if (vals[0]) len += snprintf(path + len, sizeof path - len, "follow=1&");
  path[len - 1] = '\0'; /* the last '&' or the '?' */
  printer p = {c, NULL};
  if (vals[0]) return tv_client_stream(c, "events", path, print_line, &p);
  tv_client_response_t r;
  int status = tv_client_request(c, "events", "GET", path, NULL, &r);
  if (status == TV_CLIENT_OK) {
    json_t *j = tv_client_response_json(&r, "events");
    json_t *list = json_object_get(j, "events");
    if (j && !json_is_array(list)) tv_client_error("events: the host's answer has no 'events' list");
    if (!json_is_array(list)) status = TV_CLIENT_FAILED;
    size_t i;
    json_t *ev;
    json_array_foreach(list, i, ev) {
      if (c->json) { /* ndjson, as the follow stream gives it */
        json_dumpf(ev, stdout, JSON_COMPACT);
        fputc('\n', stdout);
      } else {
        tv_client_event_line(ev, stdout);
      }
    }
    json_decref(j);
  }
  tv_client_response_free(&r);
  return status;
}
