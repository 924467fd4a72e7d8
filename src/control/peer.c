/* peer.c - SO_PEERCRED / SO_PEERGROUPS: the kernel's word on who connected,
 * so the control API's check cannot be fooled by anything the client sends. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>

#include "peer.h"

int tvc_peer_get(int fd, tvc_peer_t *p) {
  struct ucred c;
  socklen_t len = sizeof c;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) return -errno;
  p->pid = c.pid;
  p->uid = c.uid;
  p->gid = c.gid;
  return 0;
}

static int in_groups(int fd, gid_t group) {
  gid_t groups[256];
  socklen_t len = sizeof groups;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) return 0; /* ERANGE: too many */
  for (size_t i = 0; i < len / sizeof *groups; i++)
    if (groups[i] == group) return 1;
  return 0;
}

int tvc_peer_admitted(int fd, const tvc_peer_t *p, uid_t own, gid_t group) {
  if (p->uid == 0 || p->uid == own) return 1;
  if (group == TVC_NO_GROUP) return 0;
  return p->gid == group || in_groups(fd, group);
}
