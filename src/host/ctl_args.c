/* ctl_args.c - the options of one `taskvisor ctl` command: long and short
 * options in any place before "--" (as GNU tools take them), --json and
 * --help everywhere, operands kept in order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static int find(const tv_client_opt_t *opts, const char *name, size_t len, char short_name) {
  for (int i = 0; opts && opts[i].name; i++)
    if (short_name ? opts[i].short_name == short_name
                   : strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
      return i;
  return -1;
}

int tv_client_args(tv_client_t *c, int argc, char **argv, const tv_client_opt_t *opts, const char **vals,
                int *help) {
  const char *cmd = argv[0];
  int nops = 0, only_operands = 0;
  *help = 0;
  for (int i = 0; opts && opts[i].name; i++) vals[i] = NULL;
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    if (only_operands || a[0] != '-' || a[1] == '\0') {
      argv[++nops] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_operands = 1;
      continue;
    }
    if (strcmp(a, "--json") == 0) {
      c->json = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      *help = 1;
      return 0;
    }
    int k;
    const char *val = NULL;
    if (a[1] == '-') {
      const char *eq = strchr(a + 2, '=');
      size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
      k = find(opts, a + 2, len, 0);
      if (k < 0) return tv_client_usage_error(cmd, "unknown option '%.*s'", (int)len + 2, a), -1;
      if (eq && !opts[k].has_arg) return tv_client_usage_error(cmd, "'--%s' takes no value", opts[k].name), -1;
      if (eq) val = eq + 1;
    } else {
      k = find(opts, NULL, 0, a[1]);
      if (k < 0) return tv_client_usage_error(cmd, "unknown option '-%c'", a[1]), -1;
      if (a[2]) {
        if (!opts[k].has_arg) return tv_client_usage_error(cmd, "'-%c' takes no value", a[1]), -1;
        val = a + 2; /* -n5 */
      }
    }
    if (opts[k].has_arg && val == NULL) {
      if (i + 1 >= argc) return tv_client_usage_error(cmd, "'--%s' needs a value", opts[k].name), -1;
      val = argv[++i];
    }
    vals[k] = val ? val : "";
  }
  return nops;
}

long tv_client_number(const char *cmd, const char *opt, const char *s, long min) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (s[0] == '\0' || *end != '\0' || errno || v < min) {
    tv_client_usage_error(cmd, "'%s' expects an integer >= %ld (got '%s')", opt, min, s);
    return -1;
  }
  return v;
}
