/* spawn.c - fork + exec with the child set up for supervision (see spawn.h).
 * Not posix_spawn / uv_spawn: neither can set a parent-death signal. */
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

/* clone3's arguments (linux/sched.h, not included: its CLONE_* macros clash
 * with glibc's). */
struct clone_args3 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};
#define TV_CLONE_INTO_CGROUP 0x200000000ULL

/* fork() runs the atfork handlers (libuv's re-creates its signal pipes in
 * the child: not async-signal-safe, and it aborts when fds 0-2 are closed);
 * the child only sets itself up and execs, so it needs none of them. */
static pid_t raw_fork(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  return _Fork();
#else
  return fork();
#endif
}

void tv_stdio_guard(void) {
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      int nfd = open("/dev/null", O_RDWR); /* the lowest free number: fd */
      if (nfd >= 0 && nfd != fd) close(nfd);
    }
}

/* A child born in the cgroup of directory fd cgfd (Linux 5.7: no migration
 * of a running process, which costs the kernel an RCU grace period, and
 * nothing of the child ever runs outside it); *joined says whether it was.
 * Like _Fork, clone3 runs no atfork handler. */
static pid_t fork_into(int cgfd, int *joined) {
  *joined = 0;
  if (cgfd > 2) {
    struct clone_args3 ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = TV_CLONE_INTO_CGROUP;
    ca.exit_signal = SIGCHLD;
    ca.cgroup = (uint64_t)cgfd;
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid >= 0) {
      *joined = 1;
      return (pid_t)pid;
    }
    /* ENOSYS, E2BIG (older kernels): the child joins by writing cgroup.procs */
  }
  return raw_fork();
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

/* The child, between fork and exec: async-signal-safe calls only. */
static void child(const tv_spawn_t *sp, const char *file, int errfd, pid_t parent, int joined) {
  int stage = TV_SPAWN_AT_SETUP;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  /* Ignored signals stay ignored across exec (the host may ignore SIGPIPE);
   * caught ones would run the host's handlers until exec. */
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL);
  /* Into the task's cgroup before anything can fork; failing that, the child
   * still runs, contained by its process group only: the parent is told. */
  if (sp->cgroup_fd > 2 && !joined) {
    int fd = openat(sp->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) {
      int note[2] = {TV_SPAWN_AT_CGROUP, errno};
      ssize_t w = write(errfd, note, sizeof note);
      (void)w;
    }
    if (fd >= 0) close(fd);
  }
  if (setpgid(0, 0) != 0) goto fail;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) goto fail;
  if (getppid() != parent) _exit(127); /* the host died before prctl */
  int tmp[3];
  for (int i = 0; i < 3; i++) { /* above 2 first, so no dup2 clobbers a source */
    tmp[i] = sp->fds[i] == i ? i : fcntl(sp->fds[i], F_DUPFD_CLOEXEC, 3);
    if (tmp[i] < 0) goto fail;
  }
  for (int i = 0; i < 3; i++) {
    if (tmp[i] == i) {
      if (fcntl(i, F_SETFD, 0) != 0) goto fail;
    } else if (dup2(tmp[i], i) < 0) {
      goto fail;
    }
  }
  /* Fds the embedding opened without O_CLOEXEC (Lua's io.open) stay here. */
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (sp->cwd) {
    stage = TV_SPAWN_AT_CWD;
    if (chdir(sp->cwd) != 0) goto fail;
  }
  stage = TV_SPAWN_AT_EXEC;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(file, sp->argv, sp->envp ? sp->envp : environ);
fail:;
  int msg[2] = {stage, errno};
  ssize_t w = write(errfd, msg, sizeof msg);
  (void)w;
  _exit(127);
}

pid_t tv_spawn(const tv_spawn_t *sp, int *stage) {
  char resolved[PATH_MAX];
  const char *file = sp->argv[0];
  *stage = TV_SPAWN_AT_EXEC;
  if (!strchr(file, '/')) {
    const char *path = sp->envp ? env_get(sp->envp, "PATH") : getenv("PATH");
    int rc = tv_spawn_resolve(file, path, resolved, sizeof resolved);
    if (rc) return rc;
    file = resolved;
  }
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) != 0) return -errno;
  /* Blocked around fork: a signal arriving in the child before it resets
   * the handlers would run the host's (libuv's writes to the loop's pipe). */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  pid_t parent = getpid();
  int joined;
  pid_t pid = fork_into(sp->cgroup_fd, &joined);
  if (pid == 0) child(sp, file, ep[1], parent, joined);
  int saved = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(ep[1]);
  if (pid < 0) {
    close(ep[0]);
    return -saved;
  }
  int msg[2];
  ssize_t n;
  joined = 1; /* unless the child says it could not join */
  for (;;) {
    do n = read(ep[0], msg, sizeof msg); /* EOF at exec: the close-on-exec pipe */
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
  if (stage != TV_SPAWN_AT_CWD && stage != TV_SPAWN_AT_SETUP && err == UV_ENOENT &&
      missing_interpreter(arg, sp->cwd, interp, sizeof interp)) {
    snprintf(buf, size, "ENOENT: interpreter not found: %s (the #! line of %s)", interp, arg);
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
