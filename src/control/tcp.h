/* tcp.h - the optional TCP listener of `taskvisor run --http ADDR:PORT`
 * (metrics, the status page, the API for a browser).
 * Layers up: json peer listener tcp | server | lserver (src/control/). */
#ifndef TVC_TCP_H
#define TVC_TCP_H

#include <stddef.h>

/* Binds host (a numeric IPv4 or IPv6 address) and port (0: any free one) and
 * listens, non-blocking and close-on-exec. The fd with *bound the port, or
 * -errno with a message in err. */
int tvc_listen_tcp(const char *host, int port, int *bound, char *err, size_t errlen);

/* Writes data to a new file at path, mode 0600 from its creation (what was
 * there is removed first). 0, or -errno with a message in err. */
int tvc_write_secret(const char *path, const char *data, size_t len, char *err, size_t errlen);

#endif
