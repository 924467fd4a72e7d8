/* spawn.c - clone + exec with the child set up for supervision (see spawn.h).
 * Not posix_spawn / uv_spawn: neither can set a parent-death signal, a
 * cgroup at birth or a user. The child shares the parent's memory until its
 * exec (vclone.h: no page tables copied, which is what made fork + exec
 * slower than libuv's spawn), so everything it needs is built here first and
 * it makes raw system calls only. */
#define _GNU_SOURCE
#include "core/os/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "core/os/creds.h"
#include "core/os/vclone.h"

/* The child's stack: on the parent's, which sleeps while the child runs.
 * The child's frames are small (no libc beyond syscall()). */
#define CHILD_STACK 16384

void tv_stdio_guard(void) {
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      int nfd = open("/dev/null", O_RDWR); /* the lowest free number: fd */
      if (nfd >= 0 && nfd != fd) close(nfd);
    }
}

extern char **environ;

/* execvpe's lookup, done in the parent so a missing program is reported as
 * such (and the child has nothing left to search). */
int tv_spawn_resolve(const char *name, const char *path, char *out, size_t size) {
  if (!*name) return UV_ENOENT;
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  int err = UV_ENOENT;
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    int dirlen = (int)(end - p);
    int n = dirlen ? snprintf(out, size, "%.*s/%s", dirlen, p, name)
                   : snprintf(out, size, "./%s", name);
    if (n > 0 && (size_t)n < size) {
      struct stat st;
      if (access(out, X_OK) == 0) {
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 0;
      } else if (errno == EACCES) {
        err = UV_EACCES;
      }
    }
    if (!*end) return err;
    p = end;
  }
}

static const char *env_get(char *const *envp, const char *key) {
  size_t klen = strlen(key);
  for (; envp && *envp; envp++)
    if (strncmp(*envp, key, klen) == 0 && (*envp)[klen] == '=') return *envp + klen + 1;
  return NULL;
}

/* The kernel's sigaction (rt_sigaction takes it, not glibc's). */
struct ksigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

/* What the child reads: all of it built by the parent before the clone. */
typedef struct child_args {
  const tv_spawn_t *sp;
  const char *file;
  char *const *envp;
  int errfd;
  pid_t parent;
  int joined;
  struct ksigaction dfl; /* SIG_DFL, no flags */
  uint64_t nomask;       /* the empty signal mask */
} child_args_t;

/* (errno is shared with the parent thread in a CLONE_VM child: read back at once) */
#define SYS(...) syscall(__VA_ARGS__)

__attribute__((no_sanitize_address)) static void report(int errfd, int stage, int err) {
  int msg[2] = {stage, err};
  SYS(SYS_write, errfd, msg, sizeof msg);
}

/* The child, between clone and exec: raw system calls only (it runs in the
 * parent's memory, on its own stack, unknown to a sanitizer). */
__attribute__((no_sanitize_address)) static int child(void *arg) {
  const child_args_t *a = arg;
  const tv_spawn_t *sp = a->sp;
  int stage = TV_SPAWN_AT_SETUP;
  /* Every disposition back to the default: ignored ones too (the host
   * ignores SIGPIPE; a child inheriting that would not die writing to a
   * closed pipe), and caught ones would run the host's handlers until exec.
   * All signals are blocked until the exec. */
  for (int s = 1; s < 65; s++)
    if (s != SIGKILL && s != SIGSTOP) SYS(SYS_rt_sigaction, s, &a->dfl, NULL, sizeof a->nomask);
  /* Into the task's cgroup before anything can fork; failing that, the child
   * still runs, contained by its process group only: the parent is told. */
  if (sp->cgroup_fd > 2 && !a->joined) {
    long fd = SYS(SYS_openat, sp->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || SYS(SYS_write, fd, "0", 1) != 1) report(a->errfd, TV_SPAWN_AT_CGROUP, errno);
    if (fd >= 0) SYS(SYS_close, fd);
  }
  if (SYS(SYS_setpgid, 0, 0) != 0) goto fail;
  int tmp[3];
  for (int i = 0; i < 3; i++) { /* above 2 first, so no dup clobbers a source */
    tmp[i] = sp->fds[i] == i ? i : (int)SYS(SYS_fcntl, sp->fds[i], F_DUPFD_CLOEXEC, 3);
    if (tmp[i] < 0) goto fail;
  }
  for (int i = 0; i < 3; i++) {
    if (tmp[i] == i) {
      if (SYS(SYS_fcntl, i, F_SETFD, 0) != 0) goto fail;
    } else if (SYS(SYS_dup3, tmp[i], i, 0) < 0) {
      goto fail;
    }
  }
  /* Fds the embedding opened without O_CLOEXEC (Lua's io.open) stay here. */
  SYS(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (sp->creds) {
    int err, which = 0, step = tv_creds_apply(sp->creds, &err, &which);
    if (step) { /* (which limit: in the stage's upper bits, see spawn.h) */
      report(a->errfd, TV_SPAWN_AT_CREDS + step + TV_SPAWN_CREDS_WHICH * which, err);
      SYS(SYS_exit_group, 127);
    }
  }
  /* After the uid change, which clears it */
  if (SYS(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) goto fail;
  if (SYS(SYS_getppid) != a->parent) SYS(SYS_exit_group, 127); /* the host died before prctl */
  if (sp->cwd) { /* as the user: a directory it may not enter is an error */
    stage = TV_SPAWN_AT_CWD;
    if (SYS(SYS_chdir, sp->cwd) != 0) goto fail;
  }
  stage = TV_SPAWN_AT_EXEC;
  SYS(SYS_rt_sigprocmask, SIG_SETMASK, &a->nomask, NULL, sizeof a->nomask);
  SYS(SYS_execve, a->file, sp->argv, a->envp);
fail:
  report(a->errfd, stage, errno);
  SYS(SYS_exit_group, 127);
  return 127;
}

pid_t tv_spawn(const tv_spawn_t *sp, int *stage) {
  char resolved[PATH_MAX];
  child_args_t a;
  memset(&a, 0, sizeof a);
  a.sp = sp;
  a.file = sp->argv[0];
  a.envp = sp->envp ? sp->envp : environ;
  a.dfl.handler = SIG_DFL;
  *stage = TV_SPAWN_AT_EXEC;
  if (!strchr(a.file, '/')) {
    const char *path = sp->envp ? env_get(sp->envp, "PATH") : getenv("PATH");
    int rc = tv_spawn_resolve(a.file, path, resolved, sizeof resolved);
    if (rc) return rc;
    a.file = resolved;
  }
  /* The child reports through a pipe, not the memory it shares: under
   * valgrind its vfork is a fork. EOF at exec: the pipe is close-on-exec. */
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) != 0) return -errno;
  a.errfd = ep[1];
  /* Blocked around the clone: a signal arriving in the child before it
   * resets the handlers would run the host's (libuv's writes to the loop's
   * pipe) in the host's memory. */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  a.parent = getpid();
  _Alignas(16) char stack[CHILD_STACK];
  pid_t pid = tv_vclone(child, &a, stack, sizeof stack, sp->cgroup_fd, &a.joined);
  int saved = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(ep[1]);
  if (pid < 0) {
    close(ep[0]);
    return -saved;
  }
  int msg[2];
  ssize_t n;
  int joined = 1; /* unless the child says it could not join */
  for (;;) {
    do n = read(ep[0], msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof msg || msg[0] != TV_SPAWN_AT_CGROUP) break;
    joined = 0; /* (a note: the exec's outcome follows) */
  }
  close(ep[0]);
  if (n != (ssize_t)sizeof msg) {
    if (!joined) *stage = TV_SPAWN_AT_CGROUP;
    return pid;
  }
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  *stage = msg[0];
  return msg[1] > 0 ? -msg[1] : UV_EINVAL;
}

/* ENOENT from exec of a file that exists: its "#!" interpreter is missing.
 * The interpreter's path into interp, or 0. */
static int missing_interpreter(const char *path, const char *cwd, char *interp, size_t size) {
  if (!path || !strchr(path, '/')) return 0;
  char full[PATH_MAX];
  if (path[0] != '/' && cwd) { /* relative to the child's cwd, not ours */
    if ((size_t)snprintf(full, sizeof full, "%s/%s", cwd, path) >= sizeof full) return 0;
    path = full;
  }
  if (access(path, F_OK) != 0) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return 0;
  char line[256];
  ssize_t n = read(fd, line, sizeof line - 1);
  close(fd);
  if (n < 3 || line[0] != '#' || line[1] != '!') return 0;
  line[n] = '\0';
  char *p = line + 2;
  p += strspn(p, " \t");
  size_t len = strcspn(p, " \t\r\n");
  if (len == 0) return 0;
  snprintf(interp, size, "%.*s", (int)len, p);
  return 1;
}

char *tv_spawn_strerror(int err, int stage, const tv_spawn_t *sp, char *buf, size_t size) {
  const char *what;
  const char *arg = sp->argv[0];
  char interp[256];
  if (stage == TV_SPAWN_AT_EXEC && err == UV_ENOENT &&
      missing_interpreter(arg, sp->cwd, interp, sizeof interp)) {
    snprintf(buf, size, "ENOENT: interpreter not found: %s (the #! line of %s)", interp, arg);
    return buf;
  }
  if (stage > TV_SPAWN_AT_CREDS && sp->creds) {
    const tv_creds_t *c = sp->creds;
    int step = (stage - TV_SPAWN_AT_CREDS) % TV_SPAWN_CREDS_WHICH;
    unsigned which = (unsigned)(stage - TV_SPAWN_AT_CREDS) / TV_SPAWN_CREDS_WHICH;
    char what2[96];
    if (step == TV_CREDS_AT_UID)
      snprintf(what2, sizeof what2, "cannot switch to uid %u (user)", (unsigned)c->uid);
    else if (step == TV_CREDS_AT_GID)
      snprintf(what2, sizeof what2, "cannot switch to gid %u (group)", (unsigned)c->gid);
    else if (step == TV_CREDS_AT_GROUPS)
      snprintf(what2, sizeof what2, "cannot set %u supplementary groups (groups)", (unsigned)c->ngroups);
    else if (step == TV_CREDS_AT_NICE)
      snprintf(what2, sizeof what2, "cannot set nice %d (nice)", c->nice);
    else if (which < c->nlimits)
      snprintf(what2, sizeof what2, "cannot set limits.%s", tv_rlimit_name(c->limits[which].resource));
    else
      snprintf(what2, sizeof what2, "cannot set a resource limit (limits)");
    snprintf(buf, size, "%s: %s: %s", uv_err_name(err), what2, uv_strerror(err));
    return buf;
  }
  if (stage == TV_SPAWN_AT_CWD) {
    arg = sp->cwd;
    what = err == UV_ENOENT    ? "no such directory (cwd)"
           : err == UV_EACCES  ? "permission denied (cwd)"
           : err == UV_ENOTDIR ? "not a directory (cwd)"
                               : uv_strerror(err);
  } else if (stage == TV_SPAWN_AT_SETUP) {
    what = uv_strerror(err);
  } else {
    what = err == UV_ENOENT    ? (strchr(arg, '/') ? "no such file" : "no such file (not found in PATH)")
           : err == UV_EACCES  ? "permission denied"
           : err == UV_ENOTDIR ? "not a directory"
           : err == -ENOEXEC   ? "not an executable format"
                               : uv_strerror(err);
  }
  snprintf(buf, size, "%s: %s: %s", err == -ENOEXEC ? "ENOEXEC" : uv_err_name(err), what,
           arg ? arg : "");
  return buf;
}

static int overridden(const char *entry, const char *const *kv, size_t n) {
  size_t klen = strcspn(entry, "=");
  for (size_t i = 0; i < n; i++)
    if (strncmp(kv[i], entry, klen) == 0 && kv[i][klen] == '=') return 1;
  return 0;
}

char **tv_env_build(int inherit, const char *const *kv, size_t n) {
  size_t count = n, bytes = 0;
  char **env = inherit ? environ : NULL;
  for (size_t i = 0; env && env[i]; i++)
    if (!overridden(env[i], kv, n)) count++, bytes += strlen(env[i]) + 1;
  for (size_t i = 0; i < n; i++) bytes += strlen(kv[i]) + 1;
  char **out = malloc((count + 1) * sizeof *out + bytes);
  if (!out) return NULL;
  char *s = (char *)(out + count + 1);
  size_t k = 0;
  for (size_t i = 0; env && env[i]; i++) {
    if (overridden(env[i], kv, n)) continue;
    out[k++] = strcpy(s, env[i]);
    s += strlen(s) + 1;
  }
  for (size_t i = 0; i < n; i++) {
    out[k++] = strcpy(s, kv[i]);
    s += strlen(s) + 1;
  }
  out[k] = NULL;
  return out;
}
