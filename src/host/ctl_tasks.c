/* ctl_tasks.c - `taskvisor ctl start|stop|restart NAME...` and `signal SIG
 * NAME...`: one POST per task, in order; a refusal (unknown task, wrong
 * state) is reported and the rest still go (supervisorctl's way), the exit
 * status 1 if any was refused. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* A 200 answer may still say it did not finish: `stop --wait` past its
 * seconds answers {"ok": false, "error": {...}} (its status line goes out
 * before the wait). Returns the exit status, after printing why. */
static int not_done(const char *name, const tv_client_response_t *r) {
  json_error_t je;
  json_t *j = json_loadb(r->body, r->len, 0, &je);
  int status = TV_CLIENT_OK;
  if (json_is_false(json_object_get(j, "ok"))) {
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    tv_client_error("%s: %s", name, msg ? msg : "the host answered ok=false");
    status = TV_CLIENT_FAILED;
  }
  json_decref(j);
  return status;
}

/* "web: started (pid 4242)", from the answer's task. */
static void say(const char *name, const char *verb, const tv_client_response_t *r) {
  json_error_t je;
  json_t *j = json_loadb(r->body, r->len, 0, &je);
  json_t *task = json_object_get(j, "task");
  json_t *pid = json_object_get(task, "pid");
  const char *state = json_string_value(json_object_get(task, "state"));
  printf("%s: %s", name, verb);
  if (json_is_integer(pid)) printf(" (pid %" JSON_INTEGER_FORMAT ")", json_integer_value(pid));
  else if (state) printf(" (%s)", state);
  putchar('\n');
  json_decref(j);
}

int tv_client_task_command(tv_client_t *c, int argc, char **argv) {
  const char *cmd = argv[0];
  int is_signal = strcmp(cmd, "signal") == 0, is_stop = strcmp(cmd, "stop") == 0;
  static const tv_client_opt_t stop_opts[] = {{"wait", 0, 1}, {NULL, 0, 0}};
  const char *vals[1];
  int help;
  int n = tv_client_args(c, argc, argv, is_stop ? stop_opts : NULL, vals, &help);
  if (help) return tv_client_usage(stdout, cmd), TV_CLIENT_OK;
  if (n < 0) return TV_CLIENT_USAGE;
  int first = 1;
  json_t *body = NULL;
  if (is_signal) {
    if (n < 1) return tv_client_usage_error(cmd, "missing SIG (a signal's name, such as HUP, or its number)");
    body = json_pack("{ss}", "signal", argv[1]);
    first = 2;
  } else if (is_stop && vals[0]) {
    char *end;
    double w = strtod(vals[0], &end);
    if (vals[0][0] == '\0' || *end || !(w >= 0))
      return tv_client_usage_error(cmd, "'--wait' expects seconds >= 0 (got '%s')", vals[0]);
    body = json_pack("{sf}", "wait", w);
  }
  if (n < first) {
    json_decref(body);
    return tv_client_usage_error(cmd, "missing NAME (a task's or a group's name)");
  }
  const char *verb = strcmp(cmd, "start") == 0 ? "started"
                     : is_stop                 ? "stopped"
                     : is_signal               ? "signalled"
                                               : "restarted";
  int status = TV_CLIENT_OK;
  for (int i = first; i <= n; i++) {
    char esc[1024], path[1200];
    if (!tv_client_escape(argv[i], esc, sizeof esc)[0]) {
      tv_client_error("%s: name too long: '%.40s...'", cmd, argv[i]);
      status = TV_CLIENT_FAILED;
      continue;
    }
    snprintf(path, sizeof path, "/v1/tasks/%s/%s", esc, cmd);
    tv_client_response_t r;
    int s = tv_client_request(c, NULL, "POST", path, body, &r);
    if (s == TV_CLIENT_OK) {
      if (c->json) tv_client_print_body(&r, stdout); /* one answer a line, ok=false too */
      s = not_done(argv[i], &r);
      if (s == TV_CLIENT_OK && !c->json) {
        if (is_signal) printf("%s: signalled %s\n", argv[i], argv[1]);
        else say(argv[i], verb, &r);
      }
    }
    tv_client_response_free(&r);
    if (s == TV_CLIENT_DOWN) { /* no host: the rest would say the same */
      status = s;
      break;
    }
    if (s != TV_CLIENT_OK) status = s;
  }
  json_decref(body);
  fflush(stdout);
  return status;
}
