/* ctl.c - `taskvisor ctl [--socket PATH | --name NAME] [--json] COMMAND ...`:
 * the global options, which socket, and the command table. Each command
 * lives in its own file and returns the exit status (ctl.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ctl.h"

typedef int (*command_fn)(tv_client_t *, int, char **);

static const struct {
  const char *name;
  command_fn fn;
} COMMANDS[] = {
    {"status", tv_client_status},        {"start", tv_client_task_command}, {"stop", tv_client_task_command},
    {"restart", tv_client_task_command}, {"signal", tv_client_task_command}, {"tail", tv_client_tail},
    {"events", tv_client_events},        {"reload", tv_client_reload},       {"reopen", tv_client_admin},
    {"shutdown", tv_client_admin},       {"slots", tv_client_slots},         {"host", tv_client_host},
    {NULL, NULL},
};

/* no-color.org: set and not empty turns colour off; so does a dumb terminal. */
static int want_color(void) {
  const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
  return isatty(STDOUT_FILENO) && !(no && no[0]) && !(term && strcmp(term, "dumb") == 0);
}

/* 1 when the command's words ask for its help (before any "--"). */
static int asks_help(int argc, char **argv) {
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  return 0;
}

int tv_client_main(int argc, char **argv) {
  tv_client_t c;
  memset(&c, 0, sizeof c);
  const char *socket = NULL, *name = NULL;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    const char **dest = NULL;
    size_t klen = 0;
    if (strncmp(a, "--socket", 8) == 0 && (a[8] == '\0' || a[8] == '=')) dest = &socket, klen = 8;
    else if (strncmp(a, "--name", 6) == 0 && (a[6] == '\0' || a[6] == '=')) dest = &name, klen = 6;
    if (dest) {
      if (a[klen] == '=') *dest = a + klen + 1;
      else if (i + 1 < argc) *dest = argv[++i];
      else return tv_client_usage_error(NULL, "'%s' needs a value", a);
      continue;
    }
    if (strcmp(a, "--json") == 0) c.json = 1;
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return tv_client_usage(stdout, NULL), TV_CLIENT_OK;
    else return tv_client_usage_error(NULL, "unknown option '%s'", a);
  }
  if (i >= argc) {
    tv_client_usage(stderr, NULL);
    return TV_CLIENT_USAGE;
  }
  if (socket && name) return tv_client_usage_error(NULL, "--socket and --name name the socket twice: give one");
  int k = 0;
  while (COMMANDS[k].name && strcmp(COMMANDS[k].name, argv[i]) != 0) k++;
  if (COMMANDS[k].name == NULL) return tv_client_usage_error(NULL, "unknown command '%s'", argv[i]);
  if (asks_help(argc - i, argv + i)) return tv_client_usage(stdout, argv[i]), TV_CLIENT_OK;
  if (socket) {
    if (socket[0] == '\0' || strlen(socket) >= sizeof c.socket)
      return tv_client_usage_error(NULL, "--socket: expected a path of 1 to %zu bytes", sizeof c.socket - 1);
    strcpy(c.socket, socket);
    c.resolved = 1;
  }
  c.name = name;
  c.color = want_color();
  if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
    tv_client_error("cannot initialise libcurl");
    return TV_CLIENT_FAILED;
  }
  int status = COMMANDS[k].fn(&c, argc - i, argv + i);
  curl_global_cleanup();
  if (fflush(stdout) != 0 && status == TV_CLIENT_OK) status = TV_CLIENT_FAILED;
  return status;
}
