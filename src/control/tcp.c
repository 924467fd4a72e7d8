/* tcp.c - a listening TCP socket for the --http surface. The address is
 * numeric (no resolver on the loop; the Lua side decides what is loopback);
 * SO_REUSEADDR so a restarted host gets its port back at once. And the
 * listener's token file, made 0600 from the start. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp.h"

int tvc_listen_tcp(const char *host, int port, int *bound, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (port < 0 || port > 65535) {
    snprintf(err, errlen, "port %d is not in 0..65535", port);
    return -EINVAL;
  }
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    len = sizeof *v6;
  } else {
    snprintf(err, errlen, "'%s' is not a numeric IPv4 or IPv6 address", host);
    return -EINVAL;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "socket: %s", strerror(e));
    return -e;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0) {
    int e = errno;
    snprintf(err, errlen, "cannot listen on %s port %d: %s", host, port, strerror(e));
    close(fd);
    return -e;
  }
  len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
    *bound = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  return fd;
}

int tvc_write_secret(const char *path, const char *data, size_t len, char *err, size_t errlen) {
  unlink(path); /* (a new file: not one someone else made and can read) */
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "%s: %s", path, strerror(e));
    return -e;
  }
  ssize_t n = write(fd, data, len);
  int e = n == (ssize_t)len ? 0 : (n < 0 ? errno : EIO);
  close(fd);
  if (e) {
    snprintf(err, errlen, "%s: %s", path, strerror(e));
    unlink(path);
    return -e;
  }
  return 0;
}
