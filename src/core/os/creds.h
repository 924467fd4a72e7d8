/* creds.h - what a child takes on before exec besides its stdio: resource
 * limits, a nice value, a umask, and its user, group and supplementary
 * groups (systemd's LimitNOFILE= / Nice= / UMask= / User= / Group= /
 * SupplementaryGroups=). Everything is resolved in the parent, at add time
 * (names into ids: getpwnam_r and friends are no calls for a child);
 * tv_creds_apply is what the child runs, raw system calls only.
 * Owner: the task that holds it (the struct is plain data, no pointers). */
#ifndef TV_CREDS_H
#define TV_CREDS_H

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define TV_CREDS_MAX_LIMITS 16
#define TV_CREDS_MAX_GROUPS 256

/* Which step of tv_creds_apply failed (for the message). */
enum { TV_CREDS_AT_LIMIT = 1, TV_CREDS_AT_NICE, TV_CREDS_AT_GROUPS, TV_CREDS_AT_GID, TV_CREDS_AT_UID };

typedef struct tv_creds {
  uint8_t set_uid, set_gid, set_groups, set_nice, set_umask;
  uid_t uid;
  gid_t gid;
  int nice;
  mode_t umask;
  uint32_t ngroups;
  gid_t groups[TV_CREDS_MAX_GROUPS];
  uint32_t nlimits;
  struct {
    int resource; /* RLIMIT_* */
    struct rlimit lim;
  } limits[TV_CREDS_MAX_LIMITS];
} tv_creds_t;

/* In the child, before exec (async-signal-safe, no libc wrapper that
 * would act on the parent's threads, as glibc's setuid does): limits, nice
 * and umask while still privileged, then groups, gid and uid last. 0, or
 * the failing TV_CREDS_AT_* step with *err its errno (and for a limit,
 * *which its index in c->limits). */
int tv_creds_apply(const tv_creds_t *c, int *err, int *which);

/* The limits by their short names ("nofile" for RLIMIT_NOFILE), sorted. */
typedef struct tv_rlimit_name {
  const char *name;
  int resource;
} tv_rlimit_name_t;
extern const tv_rlimit_name_t tv_rlimit_names[];
extern const unsigned tv_rlimit_count;
/* "nofile", or "?" for a resource without a name. */
const char *tv_rlimit_name(int resource);

#endif
