/* ctl_format.c - the values of the API's JSON as the ctl tables show them:
 * durations compact like `pm2 ls` ("3m04s"), a last exit in words. */
#define _GNU_SOURCE /* sigabbrev_np */
#include <math.h>
#include <string.h>

#include "ctl.h"

const char *tv_client_duration(double secs, char *out, size_t size) {
  if (!(secs >= 0) || !isfinite(secs)) {
    snprintf(out, size, "-");
    return out;
  }
  long s = (long)secs;
  if (s < 60) snprintf(out, size, "%lds", s);
  else if (s < 3600) snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
  else if (s < 86400) snprintf(out, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else snprintf(out, size, "%ldd%02ldh", s / 86400, s / 3600 % 24);
  return out;
}

const char *tv_client_int_or_dash(json_t *v, char *out, size_t size) {
  if (json_is_integer(v)) snprintf(out, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  else if (json_is_real(v)) snprintf(out, size, "%.0f", json_real_value(v));
  else snprintf(out, size, "-");
  return out;
}

const char *tv_client_last_exit(json_t *last, char *out, size_t size) {
  json_t *sig = json_object_get(last, "signal"), *code = json_object_get(last, "code");
  const char *reason = json_string_value(json_object_get(last, "reason"));
  if (json_is_string(sig)) {
    const char *s = json_string_value(sig);
    snprintf(out, size, "signal %s", strncmp(s, "SIG", 3) == 0 ? s + 3 : s);
  } else if (json_is_integer(sig)) {
    const char *abbrev = sigabbrev_np((int)json_integer_value(sig));
    if (abbrev) snprintf(out, size, "signal %s", abbrev);
    else snprintf(out, size, "signal %" JSON_INTEGER_FORMAT, json_integer_value(sig));
  } else if (json_is_integer(code)) {
    snprintf(out, size, "exit %" JSON_INTEGER_FORMAT, json_integer_value(code));
  } else if (reason) {
    /* a Lua task's error: its first line, cut to fit the column */
    size_t n = strcspn(reason, "\n");
    if (n > 48) snprintf(out, size, "%.45s...", reason);
    else snprintf(out, size, "%.*s", (int)n, reason);
  } else {
    snprintf(out, size, "-");
  }
  return out;
}
