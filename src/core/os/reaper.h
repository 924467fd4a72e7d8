/* reaper.h - the children the core spawned, reaped without a polling loop and
 * without ever signalling a pid that was already reaped.
 *
 * One reaper per loop. A SIGCHLD watcher (libuv allows several per signal)
 * waits for each of *our* children by pid, never waitpid(-1): that would
 * steal the children of uv_spawn, io.popen or os.execute. Each child leads
 * its own process group and, where the host can create one, its own cgroup
 * (cgroup.h): its "tree". When the leader exits outside a stop, the rest of
 * the tree is SIGKILLed (a task's processes live and die together); during a
 * stop it is left to the stop's deadline (every member got stop_signal and
 * gets stop_timeout, as under systemd's KillMode=control-group). Either way
 * the child is reported gone only once the whole tree is: the host is a
 * child subreaper (prctl), so orphaned members are re-parented to it and,
 * even as zombies, keep the group id reserved until the reaper collects
 * them. A group is only signalled while the reaper knows it still has a child
 * in it; a cgroup's members only through a pidfd checked for membership.
 * Without a cgroup, members that escaped into another group or session
 * (setsid) are out of reach; with one, nothing is.
 *
 * Orphans adopted as a subreaper (members of a task's tree re-parented to
 * the host) are reaped as they exit, each on its own: every child of the host
 * is looked at, and those of the host's own group (io.popen, os.execute:
 * their callers wait) or, with cgroups, outside the host's cgroups (uv_spawn's,
 * detached included) are left alone, whatever state they are in.
 *
 * Whatever way the process ends (exit, os.exit, a Lua error unwinding to
 * lua_close), an atexit handler SIGKILLs and reaps every tree left and removes
 * the cgroups; only a SIGKILL of the host skips it (then the children's
 * parent-death signal holds, and the next host removes a dead host's cgroups).
 *
 * Owner: the embedding (tv_reaper_new / tv_reaper_close). Each tv_child_t is
 * the reaper's; its owner (a process run) holds it until on_exit is called
 * or it calls tv_child_disown. */
#ifndef TV_REAPER_H
#define TV_REAPER_H

#include <sys/types.h>
#include <uv.h>

#include "core/base/list.h"
#include "core/os/cgroup.h"
#include "core/os/spawn.h"

/* Empty cgroups kept for reuse (a restart reuses its attempt's: no rmdir
 * and mkdir, each a kernel cgroup teardown / setup); removed at close. */
#define TV_REAPER_SPARE_CG 16

typedef struct tv_reaper tv_reaper_t;
typedef struct tv_child tv_child_t;

struct tv_child {
  tv_link_t link; /* in the reaper's list */
  tv_reaper_t *r;
  pid_t pid;  /* the leader; 0 once reaped */
  pid_t pgid; /* the leader's pid: its group */
  int status; /* the leader's wait status, once reaped */
  /* The leader was reaped (its wait status) and so was every process left
   * in its group (SIGKILLed when the leader exited): the whole task is gone.
   * The tv_child_t is freed when this returns. NULL once disowned. */
  void (*on_exit)(tv_child_t *c, int status);
  void *data;
  int disowned; /* its owner is gone; counted in the reaper's `disowned` */
  int stopping; /* a stop began: the leader's exit leaves the rest to its deadline */
  char *cg;     /* its cgroup's directory (malloc'd), or NULL: its process group only */
  int cg_killed; /* cgroup.kill was written: never reused (see kill_tree) */
  int cg_empty;  /* seen empty after the leader was reaped (cg_populated) */
  uv_fs_event_t *watch; /* cgroup.events, once the leader is gone (freed in its close callback) */
};

struct tv_reaper {
  uv_loop_t *loop;
  uv_signal_t *sig; /* freed in its close callback */
  tv_link_t children;
  unsigned count;
  unsigned disowned; /* of count: killed, their owners gone; reaped as they die */
  int subreaper; /* prctl done */
  int cg_tried;  /* cgroup containment looked for (at the first spawn) */
  int cg_err;    /* why there is none (negative errno), or 0 */
  tv_cgroot_t cg; /* the host's cgroup directory; cg.dir NULL: process groups only */
  char *spare[TV_REAPER_SPARE_CG]; /* empty cgroups of children gone, for the next spawns */
  unsigned nspare;
  tv_link_t all;  /* in the list the atexit handler walks */
};

/* 0, or a negative libuv / TV_ENOMEM code. */
int tv_reaper_new(tv_reaper_t **out, uv_loop_t *loop);
/* SIGKILLs every group left, reaps them (blocking: they are being killed)
 * and frees the reaper. Owners must have disowned their children. */
void tv_reaper_close(tv_reaper_t *r);

/* Spawns (tv_spawn) and tracks the child. 0 with *out set, or a negative
 * errno with *stage set (nothing to reap). */
int tv_reaper_spawn(tv_reaper_t *r, const tv_spawn_t *sp, tv_child_t **out, int *stage,
                    void (*on_exit)(tv_child_t *, int), void *data);
/* Sends sig to the child's tree (every member of its cgroup, else its
 * group) if it still exists: 0, or TV_ESRCH. */
int tv_child_signal(tv_child_t *c, int sig);
/* A stop began (stop_signal was sent): when the leader exits, the rest of the
 * tree is not SIGKILLed at once; the owner SIGKILLs it at its deadline. */
void tv_child_stopping(tv_child_t *c);
/* "cgroup" or "pgroup": what contains the child's tree. */
const char *tv_child_containment(const tv_child_t *c);
/* From a handler of a signal about to kill the process (async-signal-safe,
 * best effort): SIGKILLs every tree of every reaper, without reaping. */
void tv_reaper_kill_all_now(void);
/* The owner leaves: the group is SIGKILLed and reaped without it. */
void tv_child_disown(tv_child_t *c);

#endif
