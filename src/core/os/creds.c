/* creds.c - a child's limits, nice, umask and identity (see creds.h). Raw
 * system calls: glibc's setuid/setgid/setgroups broadcast the change to
 * every thread of the process, and a CLONE_VM child still looks like the
 * parent to glibc (its thread list), so it would signal the parent's
 * threads. */
#define _GNU_SOURCE
#include "core/os/creds.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

/* errno is the parent's too in a CLONE_VM child (the same TLS), so syscall's
 * -1 is read back at once. */
static int raw(long rc, int *err) {
  if (rc >= 0) return 0;
  *err = errno;
  return -1;
}

/* Not instrumented: the child of a CLONE_VM spawn runs on a stack the
 * sanitizer does not know, and must not touch its shadow memory. */
__attribute__((no_sanitize_address)) int tv_creds_apply(const tv_creds_t *c, int *err, int *which) {
  /* limits and nice first: raising a hard limit or lowering nice needs the
   * privilege the uid change drops */
  for (uint32_t i = 0; i < c->nlimits; i++)
    if (raw(syscall(SYS_prlimit64, 0, c->limits[i].resource, &c->limits[i].lim, NULL), err)) {
      *which = (int)i;
      return TV_CREDS_AT_LIMIT;
    }
  if (c->set_nice && raw(syscall(SYS_setpriority, PRIO_PROCESS, 0, c->nice), err))
    return TV_CREDS_AT_NICE;
  if (c->set_umask) syscall(SYS_umask, c->umask);
  if (c->set_groups && raw(syscall(SYS_setgroups, (long)c->ngroups, c->groups), err))
    return TV_CREDS_AT_GROUPS;
  if (c->set_gid && raw(syscall(SYS_setresgid, c->gid, c->gid, c->gid), err)) return TV_CREDS_AT_GID;
  if (c->set_uid && raw(syscall(SYS_setresuid, c->uid, c->uid, c->uid), err)) return TV_CREDS_AT_UID;
  return 0;
}

const tv_rlimit_name_t tv_rlimit_names[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};
const unsigned tv_rlimit_count = sizeof tv_rlimit_names / sizeof tv_rlimit_names[0];

const char *tv_rlimit_name(int resource) {
  for (unsigned i = 0; i < tv_rlimit_count; i++)
    if (tv_rlimit_names[i].resource == resource) return tv_rlimit_names[i].name;
  return "?";
}
