/* spawn.h - starting a child process the way the supervisor needs: its own
 * process group, a parent-death signal, clean signal state, chosen stdio fds,
 * and exec failures (missing binary, bad cwd, a user it cannot become)
 * reported to the parent, with the limits, nice, umask and identity of
 * creds.h. Everything the child needs is prepared before the clone
 * (vclone.h: the child shares the parent's memory until exec); the child
 * only makes raw system calls. Owner: the caller owns every input and gets a pid
 * it must reap (tv_reaper does). */
#ifndef TV_SPAWN_H
#define TV_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

typedef struct tv_spawn {
  char *const *argv; /* argv[0] is looked up in PATH unless it contains '/' */
  char *const *envp; /* NULL: the host's environment */
  const char *cwd;   /* NULL: the host's */
  int fds[3];        /* the child's stdin/stdout/stderr (parent fds; left open) */
  int cgroup_fd;     /* > 2: the directory of a cgroup the child starts in (cgroup.h); 0: none */
  const struct tv_creds *creds; /* NULL: the host's limits and identity (creds.h) */
} tv_spawn_t;

/* Where a spawn failed, for the message. */
enum { TV_SPAWN_AT_EXEC = 0, TV_SPAWN_AT_CWD = 1, TV_SPAWN_AT_SETUP = 2, TV_SPAWN_AT_CGROUP = 3 };
/* TV_SPAWN_AT_CREDS + a TV_CREDS_AT_* step (+ TV_SPAWN_CREDS_WHICH * the
 * index of the limit that failed): applying creds failed. */
#define TV_SPAWN_AT_CREDS 8
#define TV_SPAWN_CREDS_WHICH 16

/* Clones and execs. Returns the pid (> 0), or a negative errno (libuv's error
 * codes on Linux) with *stage set to TV_SPAWN_AT_*; on failure no child is
 * left behind (it is reaped before returning). On success *stage is
 * TV_SPAWN_AT_CGROUP if the child could not join its cgroup (it runs anyway,
 * in its process group), else TV_SPAWN_AT_EXEC. */
pid_t tv_spawn(const tv_spawn_t *sp, int *stage);

/* Where tv_spawn finds program `name` (no '/') along `path` (NULL: the
 * default /usr/local/bin:/usr/bin:/bin): 0 with the file into out, or
 * UV_ENOENT / UV_EACCES. The same lookup, so a check before the first spawn
 * (sup:add's) agrees with what the spawn will do. */
int tv_spawn_resolve(const char *name, const char *path, char *out, size_t size);

/* "ENOENT: no such file: /no/such/prog" for a failed spawn, into buf. */
char *tv_spawn_strerror(int err, int stage, const tv_spawn_t *sp, char *buf, size_t size);

/* A NULL-terminated "K=V" array: the host's environment (when `inherit`)
 * overridden by `kv` (n "K=V" strings). One malloc block; free() it. NULL
 * when out of memory. */
char **tv_env_build(int inherit, const char *const *kv, size_t n);

/* Opens /dev/null on whichever of fds 0-2 is closed, so that no descriptor
 * opened later (libuv's pipes, a child's pipe) lands there and is mistaken
 * for standard input or output. Call before anything opens a descriptor. */
void tv_stdio_guard(void);

#endif
