/* ctl_admin.c - the host-wide commands: `reload [--dry-run]` (the plan in
 * its five classes, or the new config's errors), `reopen`, `shutdown`,
 * `slots` (the controller's slots as a table) and `host`. */
#include <string.h>
#include <time.h>

#include "ctl.h"

/* Commands without operands or options of their own: 0, or an exit status. */
static int no_operands(tv_client_t *c, int argc, char **argv, const tv_client_opt_t *opts, const char **vals) {
  int help;
  int n = tv_client_args(c, argc, argv, opts, vals, &help);
  if (help) return tv_client_usage(stdout, argv[0]), -1;
  if (n < 0) return TV_CLIENT_USAGE;
  if (n > 0) return tv_client_usage_error(argv[0], "unexpected operand '%s'", argv[1]);
  return 0;
}

static void names(const char *label, json_t *list) {
  printf("%-10s", label);
  size_t i;
  json_t *v;
  if (json_array_size(list) == 0) fputs(" -", stdout);
  json_array_foreach(list, i, v) printf("%s %s", i ? "," : "", json_is_string(v) ? json_string_value(v) : "?");
  putchar('\n');
}

int tv_client_reload(tv_client_t *c, int argc, char **argv) {
  static const tv_client_opt_t opts[] = {{"dry-run", 0, 0}, {NULL, 0, 0}};
  const char *vals[1];
  int s = no_operands(c, argc, argv, opts, vals);
  if (s) return s < 0 ? TV_CLIENT_OK : s;
  json_t *body = json_pack("{sb}", "dry_run", vals[0] != NULL);
  tv_client_response_t r;
  int status = tv_client_request(c, "reload", "POST", "/v1/reload", body, &r);
  json_decref(body);
  if (c->json && r.body) {
    tv_client_print_body(&r, stdout); /* the plan, or the error with its errors */
  } else if (r.body) {
    json_error_t je;
    json_t *j = json_loadb(r.body, r.len, 0, &je);
    json_t *errors = json_object_get(j, "errors");
    if (!json_is_array(errors)) errors = json_object_get(json_object_get(j, "error"), "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) if (json_is_string(e)) fprintf(stderr, "  %s\n", json_string_value(e));
    json_t *plan = json_object_get(j, "plan");
    if (status == TV_CLIENT_OK && json_is_object(plan)) {
      if (vals[0]) puts("dry run: nothing changed; a reload would");
      static const char *const CLASSES[] = {"add", "remove", "restart", "update", "unchanged"};
      for (size_t k = 0; k < 5; k++) {
        char label[16];
        snprintf(label, sizeof label, "%s:", CLASSES[k]);
        names(label, json_object_get(plan, CLASSES[k]));
      }
    } else if (status == TV_CLIENT_OK) {
      tv_client_error("reload: the host's answer has no 'plan'");
      status = TV_CLIENT_FAILED;
    }
    json_decref(j);
  }
  tv_client_response_free(&r);
  return status;
}

int tv_client_admin(tv_client_t *c, int argc, char **argv) {
  int s = no_operands(c, argc, argv, NULL, NULL);
  if (s) return s < 0 ? TV_CLIENT_OK : s;
  int reopen = strcmp(argv[0], "reopen") == 0;
  tv_client_response_t r;
  int status = tv_client_request(c, argv[0], "POST", reopen ? "/v1/reopen" : "/v1/shutdown", NULL, &r);
  if (status == TV_CLIENT_OK && c->json) {
    tv_client_print_body(&r, stdout);
  } else if (status == TV_CLIENT_OK && reopen) {
    json_error_t je;
    json_t *j = json_loadb(r.body, r.len, 0, &je);
    json_t *files = json_object_get(j, "files");
    if (json_is_integer(files)) printf("reopened %" JSON_INTEGER_FORMAT " file%s\n", json_integer_value(files),
                                       json_integer_value(files) == 1 ? "" : "s");
    else puts("reopened");
    json_decref(j);
  } else if (status == TV_CLIENT_OK) {
    puts("shutting down");
  }
  tv_client_response_free(&r);
  return status;
}

static const char *const SLOT_HEADER[] = {"NAME", "STATUS", "RUNNING", "QUEUE", "FOR"};

int tv_client_slots(tv_client_t *c, int argc, char **argv) {
  int s = no_operands(c, argc, argv, NULL, NULL);
  if (s) return s < 0 ? TV_CLIENT_OK : s;
  tv_client_response_t r;
  int status = tv_client_request(c, "slots", "GET", "/v1/slots", NULL, &r);
  if (status == TV_CLIENT_OK && c->json) {
    tv_client_print_body(&r, stdout);
  } else if (status == TV_CLIENT_OK) {
    json_t *j = tv_client_response_json(&r, "slots");
    json_t *slots = json_object_get(j, "slots");
    if (j && !json_is_array(slots)) tv_client_error("slots: the host's answer has no 'slots' list");
    if (!json_is_array(slots)) status = TV_CLIENT_FAILED;
    tv_client_table_t *t = tv_client_table_new(5, SLOT_HEADER);
    size_t i;
    json_t *slot;
    json_array_foreach(slots, i, slot) {
      char buf[64];
      const char *name = json_string_value(json_object_get(slot, "name"));
      const char *st = json_string_value(json_object_get(slot, "status"));
      const char *running = json_string_value(json_object_get(slot, "running"));
      tv_client_table_cell(t, name ? name : "?", NULL);
      tv_client_table_cell(t, st ? st : "?", st && strcmp(st, "running") == 0 ? "32" : st && strcmp(st, "idle") ? "33" : NULL);
      tv_client_table_cell(t, running ? running : "-", NULL);
      tv_client_table_cell(t, tv_client_int_or_dash(json_object_get(slot, "queue"), buf, sizeof buf), NULL);
      json_t *f = json_object_get(slot, "for");
      tv_client_table_cell(t, tv_client_duration(json_is_number(f) ? json_number_value(f) : -1, buf, sizeof buf), NULL);
    }
    if (status == TV_CLIENT_OK) tv_client_table_print(t, stdout, c->color);
    tv_client_table_free(t);
    json_decref(j);
  }
  tv_client_response_free(&r);
  return status;
}

int tv_client_host(tv_client_t *c, int argc, char **argv) {
  int s = no_operands(c, argc, argv, NULL, NULL);
  if (s) return s < 0 ? TV_CLIENT_OK : s;
  tv_client_response_t r;
  int status = tv_client_request(c, "host", "GET", "/v1/host", NULL, &r);
  if (status == TV_CLIENT_OK && c->json) {
    tv_client_print_body(&r, stdout);
  } else if (status == TV_CLIENT_OK) {
    json_t *j = tv_client_response_json(&r, "host");
    if (j == NULL) status = TV_CLIENT_FAILED;
    char buf[64];
    const char *str;
    if ((str = json_string_value(json_object_get(j, "name")))) printf("name:       %s\n", str);
    if (json_object_get(j, "pid")) printf("pid:        %s\n", tv_client_int_or_dash(json_object_get(j, "pid"), buf, sizeof buf));
    if ((str = json_string_value(json_object_get(j, "version")))) printf("version:    %s\n", str);
    if ((str = json_string_value(json_object_get(j, "state")))) printf("state:      %s\n", str);
    json_t *up = json_object_get(j, "uptime");
    if (json_is_number(up)) printf("uptime:     %s\n", tv_client_duration(json_number_value(up), buf, sizeof buf));
    json_t *cfg = json_object_get(j, "config");
    if (cfg) printf("config:     %s%s\n", json_is_string(cfg) ? json_string_value(cfg) : "-",
                    json_is_false(json_object_get(j, "reloadable")) ? " (not reloadable)" : "");
    json_t *tasks = json_object_get(j, "tasks");
    if (json_is_object(tasks)) {
      static const char *const COUNTS[] = {"total", "running", "ready", "backoff", "stopped", "failed"};
      fputs("tasks:     ", stdout);
      for (size_t k = 0; k < 6; k++)
        printf(" %s %s", tv_client_int_or_dash(json_object_get(tasks, COUNTS[k]), buf, sizeof buf), COUNTS[k]);
      putchar('\n');
    }
    json_decref(j);
  }
  tv_client_response_free(&r);
  return status;
}
