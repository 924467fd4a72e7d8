/* ctl_socket.c - which socket `taskvisor ctl` talks to: the server's rule
 * (docs/control-api.md) read backwards, so client and host always agree:
 * $XDG_RUNTIME_DIR/taskvisor/, else /run/taskvisor/ for root, else
 * /tmp/taskvisor-UID/; NAME.sock in it. Without --name, the only socket
 * there is, as `docker context` picks its one default. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

int tv_client_socket_dir(char *out, size_t size) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  int n;
  if (xdg && xdg[0] == '/')
    n = snprintf(out, size, "%s/taskvisor", xdg);
  else if (geteuid() == 0)
    n = snprintf(out, size, "/run/taskvisor");
  else
    n = snprintf(out, size, "/tmp/taskvisor-%u", (unsigned)geteuid());
  return n > 0 && (size_t)n < size ? 0 : -1;
}

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n > m && strcmp(s + n - m, suffix) == 0;
}

/* The names (NAME of NAME.sock) in dir, sorted; returns how many, or -1. */
static int list_sockets(const char *dir, char ***names) {
  DIR *d = opendir(dir);
  *names = NULL;
  if (d == NULL) return errno == ENOENT ? 0 : -1;
  int n = 0, cap = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".sock")) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 8;
      char **grown = realloc(*names, cap * sizeof **names);
      if (grown == NULL) break;
      *names = grown;
    }
    (*names)[n] = strndup(e->d_name, strlen(e->d_name) - 5);
    if ((*names)[n]) n++;
  }
  closedir(d);
  for (int i = 1; i < n; i++) /* insertion sort: a handful of names */
    for (int j = i; j > 0 && strcmp((*names)[j - 1], (*names)[j]) > 0; j--) {
      char *t = (*names)[j];
      (*names)[j] = (*names)[j - 1];
      (*names)[j - 1] = t;
    }
  return n;
}

int tv_client_socket_resolve(const char *name, char *out, size_t size) {
  char dir[200];
  if (tv_client_socket_dir(dir, sizeof dir) != 0) {
    tv_client_error("the socket directory's path is too long (XDG_RUNTIME_DIR): use --socket PATH");
    return TV_CLIENT_USAGE;
  }
  if (name) {
    if (name[0] == '\0' || strchr(name, '/')) {
      tv_client_error("--name: expected a host's name (no '/'), got '%s'", name);
      return TV_CLIENT_USAGE;
    }
    int n = snprintf(out, size, "%s/%s.sock", dir, name);
    if (n < 0 || (size_t)n >= size) {
      tv_client_error("--name: '%s' makes a socket path over %zu bytes", name, size - 1);
      return TV_CLIENT_USAGE;
    }
    return TV_CLIENT_OK;
  }
  char **names;
  int n = list_sockets(dir, &names);
  int status = TV_CLIENT_OK;
  if (n < 0) {
    tv_client_error("cannot read %s: %s", dir, strerror(errno));
    status = TV_CLIENT_DOWN;
  } else if (n == 0) {
    tv_client_error("no host running: no socket in %s (start one with 'taskvisor run CONFIG', "
                 "or name its socket with --socket PATH)", dir);
    status = TV_CLIENT_DOWN;
  } else if (n > 1) {
    tv_client_error("%d hosts have sockets in %s; choose one with --name NAME:", n, dir);
    for (int i = 0; i < n; i++) fprintf(stderr, "  %s\n", names[i]);
    status = TV_CLIENT_USAGE;
  } else if (snprintf(out, size, "%s/%s.sock", dir, names[0]) >= (int)size) {
    tv_client_error("the socket path of '%s' is too long: use --socket PATH", names[0]);
    status = TV_CLIENT_USAGE;
  }
  for (int i = 0; i < (n > 0 ? n : 0); i++) free(names[i]);
  free(names);
  return status;
}
