/* ctl_error.c - the client's one way to say what went wrong: a line on
 * stderr after "taskvisor ctl: ", so scripts can tell ctl's words from the
 * host's output. */
#include <stdarg.h>

#include "ctl.h"

void tv_client_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(TV_CLIENT_PROG ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}
