/* cgroup.h - cgroup v2 containment: one cgroup per spawned child, under a
 * directory of the host's own (<host cgroup>/taskvisor-<host pid>/<n>), so a
 * stop reaches every descendant, including those that left the process group
 * (setsid, double fork). Only the core files are used (cgroup.procs,
 * cgroup.kill, cgroup.events): no controller is enabled anywhere, so the v2
 * "no internal processes" rule never applies and the host stays in its cgroup.
 * TASKVISOR_CGROUP=off disables it; TASKVISOR_CGROUP=/sys/fs/.../dir puts the
 * host's directory under dir instead of the host's own cgroup.
 * Owner: the reaper (one root per reaper; each child's path is its child's). */
#ifndef TV_CGROUP_H
#define TV_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tv_cgroot {
  char *dir;     /* "<mount><parent>/taskvisor-<pid>" (malloc'd), NULL: none */
  size_t mntlen; /* dir + mntlen: the path as /proc/<pid>/cgroup shows it */
  uint64_t seq;  /* names the children's cgroups */
} tv_cgroot_t;

/* Finds the cgroup2 mount and creates the host's directory: 0, or a negative
 * errno (no cgroup2, not writable, disabled) with root->dir NULL. Leftover
 * directories of dead hosts beside it (taskvisor-<pid> whose pid is gone) are
 * emptied (SIGKILL) and removed. */
int tv_cgroot_open(tv_cgroot_t *root);
/* Removes the host's directory (its children must be removed) and frees. */
void tv_cgroot_close(tv_cgroot_t *root);
/* Whether pid (alive or a zombie) is, or was at its exit, in a cgroup below root. */
int tv_cgroot_holds(const tv_cgroot_t *root, pid_t pid);

/* A fresh, empty cgroup below root: its malloc'd path, or NULL (errno set). */
char *tv_cgroup_new(tv_cgroot_t *root);
/* cg's directory, opened for a child to start in (O_CLOEXEC); or -errno. */
int tv_cgroup_dir_fd(const char *cg);
/* Sends sig to every process in cg (each checked to still be a member
 * through a pidfd, so no reused pid is signalled): how many, or -errno. */
int tv_cgroup_signal(const tv_cgroot_t *root, const char *cg, int sig);
/* SIGKILLs every process in cg: cgroup.kill (Linux 5.14), else a signal loop. */
void tv_cgroup_kill(const tv_cgroot_t *root, const char *cg);
/* 1 while cg holds a live process, 0 when empty, -errno if unreadable. */
int tv_cgroup_populated(const char *cg);
/* rmdir: 0 or -errno (EBUSY while populated). */
int tv_cgroup_remove(const char *cg);

#endif
