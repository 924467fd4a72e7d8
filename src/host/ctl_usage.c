/* ctl_usage.c - the help of `taskvisor ctl` and of each of its commands
 * (`taskvisor help ctl`, `ctl --help`, `ctl CMD --help`); man/taskvisor.1
 * says the same at length. */
#include <stdarg.h>
#include <string.h>

#include "ctl.h"

typedef struct command_help {
  const char *name, *synopsis, *text;
} command_help;

static const command_help HELP[] = {
    {"status", "status [NAME...]",
     "The task tree as a table: NAME STATE PID UPTIME RESTARTS LAST-EXIT, a group's\n"
     "children indented under it (supervisorctl status, pm2 ls). NAMEs limit it to\n"
     "those tasks; an unknown NAME is an error (exit 1) after the table.\n"},
    {"start", "start NAME...", "Starts each task (a stopped one, or one an operator stopped).\n"},
    {"stop", "stop [--wait SECONDS] NAME...",
     "Stops each task; it stays stopped (no restart, no budget charged) until\n"
     "'start', across reloads. Returns once the stop has begun; with --wait, once\n"
     "the task is gone (exit 1 if it is still there after SECONDS).\n"},
    {"restart", "restart NAME...", "Stops and starts each task (a new attempt, a new pid).\n"},
    {"signal", "signal SIG NAME...",
     "Sends SIG (HUP, SIGHUP or a number) to each process task's process.\n"},
    {"tail", "tail [-f] [-n N] [--stderr] NAME",
     "The last N (default 10) lines of a task's captured stdout (--stderr: stderr);\n"
     "-f then follows the output as it is written, until interrupted.\n"},
    {"events", "events [-f] [--since SEQ] [--limit N]",
     "The host's recent events, one line each as tv.log_writer prints them, with\n"
     "the full seq; --since SEQ: those after SEQ (an error naming the oldest kept\n"
     "seq when SEQ has fallen out of the backlog); -f: then every new one, until\n"
     "interrupted. With --json: one JSON object per event per line (ndjson).\n"},
    {"reload", "reload [--dry-run]",
     "Re-reads the config and applies the difference: added tasks start, removed\n"
     "ones stop, changed ones restart, policy-only changes apply in place; prints\n"
     "the plan (add/remove/restart/update/unchanged). --dry-run: only the plan.\n"
     "An invalid config changes nothing: its errors are printed, exit 1.\n"},
    {"reopen", "reopen", "Reopens every output file (for logrotate; as SIGHUP to the host).\n"},
    {"shutdown", "shutdown", "Shuts the host down gracefully (as SIGTERM to it).\n"},
    {"slots", "slots", "The controller's slots: NAME STATUS RUNNING QUEUE FOR.\n"},
    {"host", "host", "The host: pid, version, name, uptime, state, config, task counts.\n"},
    {NULL, NULL, NULL},
};

static const command_help *lookup(const char *cmd) {
  for (const command_help *h = HELP; cmd && h->name; h++)
    if (strcmp(h->name, cmd) == 0) return h;
  return NULL;
}

int tv_client_usage(FILE *out, const char *cmd) {
  const command_help *h = lookup(cmd);
  if (out == NULL) return h || !cmd ? 0 : -1; /* only: is it a command? */
  if (h) {
    fprintf(out, "usage: " TV_CLIENT_PROG " [--socket PATH | --name NAME] [--json] %s\n%s", h->synopsis,
            h->text);
    return 0;
  }
  fprintf(out, "usage: " TV_CLIENT_PROG " [--socket PATH | --name NAME] [--json] COMMAND [ARGS...]\n"
               "Operates a running host through its control API (docs/control-api.md).\n"
               "Commands:\n");
  for (h = HELP; h->name; h++) fprintf(out, "  %s\n", h->synopsis);
  fprintf(out,
          "Options:\n"
          "  --socket PATH  the host's control socket (as 'taskvisor run --control PATH')\n"
          "  --name NAME    the host NAME's socket in $XDG_RUNTIME_DIR/taskvisor/, or for\n"
          "                 root /run/taskvisor/, else /tmp/taskvisor-UID/; without either,\n"
          "                 the only socket there\n"
          "  --json         print the API's JSON instead of text\n"
          "Exit status: 0 done; 1 refused or failed (the reason on stderr); 2 usage error;\n"
          "3 no host running (no socket, or it refuses connections).\n"
          "'" TV_CLIENT_PROG " COMMAND --help' describes one command.\n");
  return cmd ? -1 : 0;
}

int tv_client_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(TV_CLIENT_PROG ": ", stderr);
  if (cmd) fprintf(stderr, "%s: ", cmd);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(see '" TV_CLIENT_PROG " %s%s--help')\n", cmd ? cmd : "", cmd ? " " : "");
  return TV_CLIENT_USAGE;
}
