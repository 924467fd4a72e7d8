/* listener.h - the control socket: its directory (0700), a stale socket of a
 * dead host replaced, a live one refused, the socket bound 0600.
 * Layers up: json peer listener | server | lserver (src/control/). */
#ifndef TVC_LISTENER_H
#define TVC_LISTENER_H

#include <stddef.h>
#include <sys/types.h>

/* Binds and listens on path (non-blocking, close-on-exec). Returns the fd, or
 * -errno with a message in err; -EADDRINUSE when a live host answers there
 * (*live_pid its pid, from SO_PEERCRED). A socket nobody answers is removed
 * first. The directory is made 0700 if missing; an existing one must be a
 * directory owned by us or root (not a symlink someone else planted). */
int tvc_listen(const char *path, pid_t *live_pid, char *err, size_t errlen);

#endif
