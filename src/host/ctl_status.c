/* ctl_status.c - `taskvisor ctl status [NAME...]`: GET /v1/tasks as the table
 * supervisorctl and pm2 print (NAME STATE PID UPTIME RESTARTS LAST-EXIT), a
 * group's children indented under it. With --json, the API's answer as is. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char *const HEADER[] = {"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST-EXIT"};

/* SGR colours by state: running green, on the way yellow, given up red. */
static const char *state_colour(const char *s) {
  if (strcmp(s, "RUNNING") == 0) return "32";
  if (strcmp(s, "STARTING") == 0 || strcmp(s, "BACKOFF") == 0 || strcmp(s, "STOPPING") == 0) return "33";
  if (strcmp(s, "FATAL") == 0) return "31";
  return "2"; /* STOPPED, EXITED: dim */
}

/* Depth of each task: the API lists a group before its children (depth
 * first), so a child's depth is its group's plus one. */
typedef struct depths {
  json_t *by_name; /* name -> integer depth */
} depths;

static int depth_of(depths *d, json_t *task) {
  const char *group = json_string_value(json_object_get(task, "group"));
  json_t *known = json_object_get(d->by_name, json_string_value(json_object_get(task, "name")));
  int depth = json_is_integer(known) ? (int)json_integer_value(known) : 0;
  json_t *g = group ? json_object_get(d->by_name, group) : NULL;
  if (json_is_integer(g)) depth = (int)json_integer_value(g) + 1;
  size_t i;
  json_t *child;
  json_array_foreach(json_object_get(task, "children"), i, child) {
    const char *cn = json_is_string(child) ? json_string_value(child)
                                           : json_string_value(json_object_get(child, "name"));
    if (cn) json_object_set_new(d->by_name, cn, json_integer(depth + 1));
  }
  const char *name = json_string_value(json_object_get(task, "name"));
  if (name) json_object_set_new(d->by_name, name, json_integer(depth));
  return depth > 20 ? 20 : depth;
}

static void row(tv_client_table_t *t, depths *d, json_t *task) {
  char name[512], buf[64];
  const char *n = json_string_value(json_object_get(task, "name"));
  int depth = depth_of(d, task);
  snprintf(name, sizeof name, "%*s%s", 2 * depth, "", n ? n : "?");
  tv_client_table_cell(t, name, NULL);
  const char *state = json_string_value(json_object_get(task, "state"));
  tv_client_table_cell(t, state ? state : "?", state ? state_colour(state) : NULL);
  tv_client_table_cell(t, tv_client_int_or_dash(json_object_get(task, "pid"), buf, sizeof buf), NULL);
  json_t *up = json_object_get(task, "uptime");
  int live = state && (strcmp(state, "RUNNING") == 0 || strcmp(state, "STARTING") == 0);
  tv_client_table_cell(t, tv_client_duration(json_is_number(up) && live ? json_number_value(up) : -1, buf, sizeof buf),
                    NULL);
  tv_client_table_cell(t, tv_client_int_or_dash(json_object_get(task, "restarts"), buf, sizeof buf), NULL);
  char last[64];
  tv_client_table_cell(t, tv_client_last_exit(json_object_get(task, "last_exit"), last, sizeof last), NULL);
}

/* 1 when `name` is among the answer's tasks. */
static int listed(json_t *tasks, const char *name) {
  size_t i;
  json_t *task;
  json_array_foreach(tasks, i, task) {
    const char *n = json_string_value(json_object_get(task, "name"));
    if (n && strcmp(n, name) == 0) return 1;
  }
  return 0;
}

int tv_client_status(tv_client_t *c, int argc, char **argv) {
  int help;
  int n = tv_client_args(c, argc, argv, NULL, NULL, &help);
  if (help) return tv_client_usage(stdout, argv[0]), TV_CLIENT_OK;
  if (n < 0) return TV_CLIENT_USAGE;
  size_t cap = 16;
  for (int i = 1; i <= n; i++) cap += 6 + 3 * strlen(argv[i]);
  char *path = malloc(cap), esc[1024];
  if (path == NULL) return tv_client_error("not enough memory"), TV_CLIENT_FAILED;
  strcpy(path, "/v1/tasks");
  for (int i = 1; i <= n; i++) {
    strcat(path, i == 1 ? "?name=" : "&name=");
    strcat(path, tv_client_escape(argv[i], esc, sizeof esc));
  }
  tv_client_response_t r;
  int status = tv_client_request(c, NULL, "GET", path, NULL, &r);
  free(path);
  if (status != TV_CLIENT_OK) return tv_client_response_free(&r), status;
  if (c->json && n == 0) {
    tv_client_print_body(&r, stdout);
    tv_client_response_free(&r);
    return TV_CLIENT_OK;
  }
  json_t *j = tv_client_response_json(&r, "status");
  tv_client_response_free(&r);
  json_t *tasks = json_object_get(j, "tasks");
  if (!json_is_array(tasks)) {
    if (j) tv_client_error("status: the host's answer has no 'tasks' list");
    json_decref(j);
    return TV_CLIENT_FAILED;
  }
  if (c->json) {
    json_dumpf(j, stdout, JSON_COMPACT);
    fputc('\n', stdout);
  } else {
    tv_client_table_t *t = tv_client_table_new(6, HEADER);
    depths d = {json_object()};
    size_t i;
    json_t *task;
    json_array_foreach(tasks, i, task) row(t, &d, task);
    tv_client_table_print(t, stdout, c->color);
    tv_client_table_free(t);
    json_decref(d.by_name);
  }
  for (int i = 1; i <= n; i++)
    if (!listed(tasks, argv[i])) {
      tv_client_error("no task '%s'", argv[i]);
      status = TV_CLIENT_FAILED;
    }
  json_decref(j);
  return status;
}
