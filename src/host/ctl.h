/* ctl.h - `taskvisor ctl`: a client of the control API (docs/control-api.md)
 * over the host's Unix socket. libcurl speaks the HTTP, jansson the JSON.
 * Every command returns one of the exit statuses below. */
#ifndef TV_HOST_CTL_H
#define TV_HOST_CTL_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define TV_CLIENT_PROG "taskvisor ctl"

/* Exit statuses (as `systemctl is-active`: 3 = not running). */
enum {
  TV_CLIENT_OK = 0,     /* done */
  TV_CLIENT_FAILED = 1, /* refused or failed: the API's message is on stderr */
  TV_CLIENT_USAGE = 2,  /* bad command line */
  TV_CLIENT_DOWN = 3,   /* no host: the socket is missing or refuses connections */
};

/* The client's settings, parsed from the command line; owned by tv_client_main. */
typedef struct tv_client {
  const char *name; /* --name, or NULL */
  int resolved;     /* socket holds the path (--socket, or resolved at the first request) */
  char socket[256]; /* the socket path */
  int json;         /* --json: print the API's JSON */
  int color;        /* stdout is a terminal and NO_COLOR is unset */
} tv_client_t;

/* A finished request. body is owned by the response (tv_client_response_free). */
typedef struct tv_client_response {
  long status; /* HTTP status */
  char *body;
  size_t len;
} tv_client_response_t;

/* ---- ctl_socket.c */
/* The socket the host NAME listens on, or with name NULL the only one there
 * is. Writes the path to out; returns TV_CLIENT_OK, or an exit status after
 * printing why (TV_CLIENT_DOWN: none, TV_CLIENT_USAGE: several, name one). */
int tv_client_socket_resolve(const char *name, char *out, size_t size);
/* The directory the sockets live in (the server's rule). */
int tv_client_socket_dir(char *out, size_t size);

/* ---- ctl_http.c */
/* One request: method, path (from "/v1/...", escaped by the caller), a JSON
 * body or NULL (not stolen). On a 2xx answer returns TV_CLIENT_OK with r filled;
 * otherwise prints "taskvisor ctl: WHAT: message" and returns the exit status
 * (r is still filled when the host answered, so a caller may read the body). */
int tv_client_request(tv_client_t *c, const char *what, const char *method, const char *path,
                   json_t *body, tv_client_response_t *r);
void tv_client_response_free(tv_client_response_t *r);
/* The answer's JSON (a new reference), or NULL after printing why. */
json_t *tv_client_response_json(const tv_client_response_t *r, const char *what);
/* A streamed GET (ndjson): on_line gets each line (without its newline) as it
 * arrives and returns 0 to go on, -1 to stop. Returns as tv_client_request; a
 * stream stopped by on_line or ended by the host returns TV_CLIENT_OK. */
typedef int (*tv_client_line_fn)(void *ud, const char *line, size_t len);
int tv_client_stream(tv_client_t *c, const char *what, const char *path, tv_client_line_fn on_line,
                  void *ud);
/* --json: the answer's JSON on one line (as written when it is one line). */
void tv_client_print_body(const tv_client_response_t *r, FILE *out);
/* "%s" URL-escaped into out ("" when it does not fit); returns out. */
const char *tv_client_escape(const char *s, char *out, size_t size);
/* ---- ctl_error.c: prints "taskvisor ctl: ..." on stderr. */
void tv_client_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- ctl_args.c: each command's options */
typedef struct tv_client_opt {
  const char *name; /* long name without "--" */
  char short_name;  /* or 0 */
  int has_arg;
} tv_client_opt_t;
/* Parses argv[1..] (argv[0] the command) against opts (ending with a NULL
 * name); --json and --help are always known. Stores option i's value in
 * vals[i] ("" for a flag; NULL when absent) and the operands in order into
 * argv[1..], returning how many, or -1 after a usage message. help is set
 * for --help (the caller prints its usage and returns 0). */
int tv_client_args(tv_client_t *c, int argc, char **argv, const tv_client_opt_t *opts, const char **vals,
                int *help);
/* A decimal integer >= min in s, or -1 after a usage message naming opt. */
long tv_client_number(const char *cmd, const char *opt, const char *s, long min);

/* ---- ctl_usage.c */
/* The usage of `ctl` (cmd NULL) or of one of its commands; returns 0 when
 * cmd is a command (-1: the general usage is printed). out NULL: only checks. */
int tv_client_usage(FILE *out, const char *cmd);
/* A usage error: the message, a pointer to the help, TV_CLIENT_USAGE. */
int tv_client_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- ctl_table.c: aligned columns, a cell may carry an SGR colour */
typedef struct tv_client_table tv_client_table_t;
tv_client_table_t *tv_client_table_new(int ncols, const char *const *header);
/* Adds a cell to the current row (copied); colour is an SGR code or NULL. */
void tv_client_table_cell(tv_client_table_t *t, const char *text, const char *colour);
void tv_client_table_print(tv_client_table_t *t, FILE *out, int color);
void tv_client_table_free(tv_client_table_t *t);

/* ---- ctl_format.c: values as the tables show them */
/* "45s", "3m04s", "2h05m", "3d04h"; "-" for a negative or missing value. */
const char *tv_client_duration(double secs, char *out, size_t size);
/* A task's last exit: "exit 1", "signal TERM", its reason, or "-". */
const char *tv_client_last_exit(json_t *last, char *out, size_t size);
/* A JSON integer as text, or "-" for null / missing. */
const char *tv_client_int_or_dash(json_t *v, char *out, size_t size);

/* ---- ctl_event.c */
/* The line for one event, in tv.log_writer's words with the full seq. */
void tv_client_event_line(json_t *ev, FILE *out);

/* ---- the commands: argv[0] is the command's name */
int tv_client_status(tv_client_t *c, int argc, char **argv);
int tv_client_task_command(tv_client_t *c, int argc, char **argv); /* start stop restart signal */
int tv_client_tail(tv_client_t *c, int argc, char **argv);
int tv_client_events(tv_client_t *c, int argc, char **argv);
int tv_client_reload(tv_client_t *c, int argc, char **argv);
int tv_client_admin(tv_client_t *c, int argc, char **argv); /* reopen shutdown */
int tv_client_slots(tv_client_t *c, int argc, char **argv);
int tv_client_host(tv_client_t *c, int argc, char **argv);

/* ---- ctl.c */
/* taskvisor ctl ...: argv[0] is "ctl". Returns the exit status. */
int tv_client_main(int argc, char **argv);

#endif
