/* peer.h - who is on the other end of a Unix socket (SO_PEERCRED) and
 * whether the control API admits them.
 * Layers up: json peer listener | server | lserver (src/control/). */
#ifndef TVC_PEER_H
#define TVC_PEER_H

#include <sys/types.h>

typedef struct tvc_peer {
  pid_t pid;
  uid_t uid;
  gid_t gid;
} tvc_peer_t;

#define TVC_NO_GROUP ((gid_t)-1)

/* The peer's credentials; 0 or -errno. */
int tvc_peer_get(int fd, tvc_peer_t *p);
/* Admitted: root, the host's own uid, or (group != TVC_NO_GROUP) a peer whose
 * primary or supplementary groups (SO_PEERGROUPS) include group. */
int tvc_peer_admitted(int fd, const tvc_peer_t *p, uid_t own, gid_t group);

#endif
