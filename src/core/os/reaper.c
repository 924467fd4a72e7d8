/* reaper.c - per-loop child table, SIGCHLD-driven reaping, tree cleanup. */
#define _GNU_SOURCE
#include "core/os/reaper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base/error.h"

/* Every open reaper, for the atexit handler; the pid that registered it (a
 * forked child calling exit() must not kill its parent's tasks; one making
 * reapers of its own goes without the handler). */
static tv_link_t reapers = {&reapers, &reapers};
static pid_t reapers_pid;

static void close_free(uv_handle_t *h) { free(h); }

/* tv_cgroup_populated of c's cgroup. Once it was empty after the leader was
 * reaped it stays empty (nothing of the tree is left to fork into it), so
 * the restart path reads cgroup.events once, not three times. */
static int cg_populated(tv_child_t *c) {
  if (c->cg_empty) return 0;
  int rc = tv_cgroup_populated(c->cg);
  if (rc == 0 && !c->pid) c->cg_empty = 1;
  return rc;
}

static void drop(tv_child_t *c) {
  tv_reaper_t *r = c->r;
  if (c->disowned) r->disowned--;
  if (c->watch) uv_close((uv_handle_t *)c->watch, close_free);
  if (c->cg && (c->cg_killed || r->nspare == TV_REAPER_SPARE_CG || cg_populated(c) != 0)) {
    tv_cgroup_remove(c->cg); /* empty by now (zombies do not count) */
    free(c->cg);
  } else if (c->cg) { /* the next spawn starts in it: no rmdir + mkdir per restart */
    r->spare[r->nspare++] = c->cg;
  }
  tv_list_unlink(&c->link);
  free(c);
  /* Idle: do not keep the loop alive. */
  if (--r->count == 0) uv_unref((uv_handle_t *)r->sig);
}

/* Whether the reaper still has a child (alive or zombie) in the group, which
 * keeps the group id from being reused. */
static int group_held(const tv_child_t *c) {
  if (c->pid) return 1;
  siginfo_t si;
  return waitid(P_PGID, (id_t)c->pgid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* SIGKILL to the whole tree. */
static void kill_tree(tv_child_t *c) {
  /* An empty cgroup is not killed: it can then be reused (a child cloned
   * into a cgroup that was ever killed is killed at birth by Linux 6.18) */
  if (c->cg && cg_populated(c) != 0) {
    tv_cgroup_kill(&c->r->cg, c->cg);
    c->cg_killed = 1;
  }
  if (group_held(c)) kill(-c->pgid, SIGKILL);
}

int tv_child_signal(tv_child_t *c, int sig) {
  if (c->cg) {
    if (sig == SIGKILL) {
      int alive = group_held(c) || cg_populated(c) == 1;
      kill_tree(c);
      return alive ? 0 : TV_ESRCH;
    }
    if (tv_cgroup_signal(&c->r->cg, c->cg, sig) > 0) return 0;
    /* empty, or unreadable: the group is still what we know */
  }
  if (!group_held(c)) return TV_ESRCH;
  return kill(-c->pgid, sig) == 0 ? 0 : TV_ESRCH;
}

void tv_child_stopping(tv_child_t *c) { c->stopping = 1; }

const char *tv_child_containment(const tv_child_t *c) { return c->cg ? "cgroup" : "pgroup"; }

/* Reaps what is left of a group whose leader is gone; 1 when it is empty. */
static int reap_group(tv_child_t *c) {
  for (;;) {
    pid_t p = waitpid(-c->pgid, NULL, WNOHANG);
    if (p > 0) continue;
    if (p < 0 && errno == EINTR) continue;
    return p < 0; /* ECHILD: none of ours left in it */
  }
}

static void check_child(tv_child_t *c);

static void on_cg_event(uv_fs_event_t *h, const char *file, int events, int status) {
  (void)file, (void)events, (void)status;
  check_child(h->data);
}

/* The members left after the leader may exit without a SIGCHLD reaching us
 * (a member reaping another): cgroup.events says when the last one is gone. */
static void watch_cgroup(tv_child_t *c) {
  if (c->watch || !(c->watch = malloc(sizeof *c->watch))) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/cgroup.events", c->cg);
  uv_fs_event_init(c->r->loop, c->watch);
  c->watch->data = c;
  if (uv_fs_event_start(c->watch, on_cg_event, path, 0) != 0) {
    uv_close((uv_handle_t *)c->watch, close_free);
    c->watch = NULL;
  }
}

static void check_child(tv_child_t *c) {
  if (c->pid) {
    int status;
    pid_t p;
    do p = waitpid(c->pid, &status, WNOHANG);
    while (p < 0 && errno == EINTR);
    if (p == 0) return;
    c->pid = 0; /* the group id stays reserved while members remain (see .h) */
    c->status = p > 0 ? status : 0;
    if (!c->stopping) kill_tree(c); /* a crash: the rest goes now */
  }
  if (!reap_group(c)) return; /* members still dying: their SIGCHLD comes */
  if (c->cg && cg_populated(c) == 1) {
    watch_cgroup(c);
    if (cg_populated(c) == 1) return; /* (emptied before the watch began?) */
  }
  void (*cb)(tv_child_t *, int) = c->on_exit;
  c->on_exit = NULL;
  if (cb) cb(c, c->status);
  drop(c);
}

static int is_leader(const tv_reaper_t *r, pid_t pid) {
  tv_list_each(l, &r->children) {
    if (tv_container_of(l, tv_child_t, link)->pid == pid) return 1;
  }
  return 0;
}

static int push_pid(pid_t **v, size_t *n, size_t *size, long pid) {
  if (*n == *size) {
    size_t ns = *size ? *size * 2 : 64;
    pid_t *nv = realloc(*v, ns * sizeof *nv);
    if (!nv) return -1;
    *v = nv, *size = ns;
  }
  (*v)[(*n)++] = (pid_t)pid;
  return 0;
}

/* The host's children: every thread's (an orphan is re-parented to any
 * thread of its subreaper). From /proc/self/task/<tid>/children, else (a
 * kernel without CONFIG_PROC_CHILDREN) by the parent field of every process. */
static size_t list_children(pid_t **out) {
  size_t n = 0, size = 0;
  *out = NULL;
  int listed = 0;
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  char path[64], buf[4096];
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/self/task/%.20s/children", e->d_name);
    FILE *f = fopen(path, "re");
    if (!f) continue;
    listed = 1;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) push_pid(out, &n, &size, pid);
    fclose(f);
  }
  if (d) closedir(d);
  if (listed) return n;
  pid_t self = getpid();
  if (!(d = opendir("/proc"))) return 0;
  while ((e = readdir(d))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) continue;
    buf[len] = 0;
    char *rp = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
    long ppid;
    if (rp && sscanf(rp + 1, " %*c %ld", &ppid) == 1 && ppid == self) push_pid(out, &n, &size, pid);
  }
  closedir(d);
  return n;
}

/* Whether an exited child of the host is an orphan it adopted from a task's
 * tree (nobody else will wait for it). With cgroups: it was in one of ours.
 * Without: it is outside the host's own process group (the group of
 * os.execute's and io.popen's children). */
static int adopted(const tv_reaper_t *r, pid_t pid, pid_t own) {
  if (r->cg.dir) return tv_cgroot_holds(&r->cg, pid);
  pid_t pg = getpgid(pid);
  return pg >= 0 && pg != own;
}

/* Reaps every adopted orphan that has exited, each looked at on its own: a
 * zombie that is not ours (an unclosed io.popen) blocks nothing. Exited
 * children are peeked at (WNOWAIT) before deciding. */
static void reap_adopted(const tv_reaper_t *r) {
  siginfo_t any;
  any.si_pid = 0;
  /* No exited child at all (the common case: the leaders were reaped just
   * before): nothing to look for, one call instead of a /proc scan. */
  if (waitid(P_ALL, 0, &any, WEXITED | WNOHANG | WNOWAIT) != 0 || any.si_pid == 0) return;
  pid_t *kids, own = getpgrp();
  size_t n = list_children(&kids);
  for (size_t i = 0; i < n; i++) {
    siginfo_t si;
    si.si_pid = 0;
    if (waitid(P_PID, (id_t)kids[i], &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
      continue; /* alive, or already reaped by its owner */
    if (is_leader(r, kids[i]) || !adopted(r, kids[i], own)) continue;
    waitpid(kids[i], NULL, WNOHANG);
  }
  free(kids);
}

static void on_sigchld(uv_signal_t *h, int signum) {
  tv_reaper_t *r = h->data;
  (void)signum;
  tv_link_t *l = r->children.next;
  while (l != &r->children) { /* callbacks may spawn (append) or disown */
    tv_link_t *next = l->next;
    check_child(tv_container_of(l, tv_child_t, link));
    l = next;
  }
  reap_adopted(r);
}

static void pause_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* SIGKILLs the child's tree and reaps it, blocking (it is being killed; a
 * process in uninterruptible sleep is waited for at most 5 s), then removes
 * its cgroup. */
static void finish(tv_reaper_t *r, tv_child_t *c) {
  kill_tree(c);
  if (c->pid) while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {}
  c->pid = 0;
  /* Members SIGKILLed above die; orphans of theirs come to us and die too. */
  while (waitpid(-c->pgid, NULL, 0) > 0 || errno == EINTR) {}
  if (!c->cg) return;
  for (int i = 0; i < 1000 && tv_cgroup_populated(c->cg) == 1; i++) {
    reap_adopted(r);
    pause_ms(5);
  }
  reap_adopted(r);
  tv_cgroup_remove(c->cg);
}

/* The atexit handler: nothing of a task may outlive the host. The Lua state
 * may still point at these children: nothing is freed. */
static void remove_spares(tv_reaper_t *r) {
  while (r->nspare) {
    char *cg = r->spare[--r->nspare];
    tv_cgroup_remove(cg);
    free(cg);
  }
}

static void at_exit(void) {
  if (getpid() != reapers_pid) return;
  tv_list_each(l, &reapers) {
    tv_reaper_t *r = tv_container_of(l, tv_reaper_t, all);
    tv_list_each(k, &r->children) finish(r, tv_container_of(k, tv_child_t, link));
    remove_spares(r);
    tv_cgroot_close(&r->cg);
  }
}

void tv_reaper_kill_all_now(void) {
  if (getpid() != reapers_pid) return;
  char path[4096];
  tv_list_each(l, &reapers) {
    tv_reaper_t *r = tv_container_of(l, tv_reaper_t, all);
    tv_list_each(k, &r->children) {
      tv_child_t *c = tv_container_of(k, tv_child_t, link);
      if (c->cg) { /* (no snprintf here: not async-signal-safe) */
        size_t len = strlen(c->cg);
        if (len + sizeof "/cgroup.kill" <= sizeof path) {
          memcpy(path, c->cg, len);
          memcpy(path + len, "/cgroup.kill", sizeof "/cgroup.kill");
          int fd = open(path, O_WRONLY | O_CLOEXEC);
          if (fd >= 0) {
            ssize_t w = write(fd, "1", 1);
            (void)w;
            close(fd);
          }
        }
      }
      if (group_held(c)) kill(-c->pgid, SIGKILL);
    }
  }
  /* The cgroups go once their members are dead (zombies do not count): at
   * most about a second, so the host ends with its trees gone. */
  tv_list_each(l, &reapers) {
    tv_reaper_t *r = tv_container_of(l, tv_reaper_t, all);
    tv_list_each(k, &r->children) {
      tv_child_t *c = tv_container_of(k, tv_child_t, link);
      for (int i = 0; c->cg && i < 200 && rmdir(c->cg) != 0 && errno == EBUSY; i++) {
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
      }
    }
    for (unsigned i = 0; i < r->nspare; i++) rmdir(r->spare[i]); /* (empty ones) */
    if (r->cg.dir) rmdir(r->cg.dir);
  }
}

int tv_reaper_new(tv_reaper_t **out, uv_loop_t *loop) {
  tv_reaper_t *r = calloc(1, sizeof *r);
  uv_signal_t *sig = malloc(sizeof *sig);
  if (!r || !sig) {
    free(r);
    free(sig);
    return TV_ENOMEM;
  }
  r->loop = loop;
  tv_list_init(&r->children);
  int rc = uv_signal_init(loop, sig); /* EMFILE: the loop's signal pipe */
  if (rc) { /* not a handle yet: nothing to close */
    free(sig);
    free(r);
    return rc;
  }
  sig->data = r;
  r->sig = sig;
  rc = uv_signal_start(sig, on_sigchld, SIGCHLD);
  if (rc) {
    uv_close((uv_handle_t *)sig, close_free);
    free(r);
    return rc;
  }
  uv_unref((uv_handle_t *)sig);
  if (reapers_pid == 0) { /* once per process */
    atexit(at_exit);
    reapers_pid = getpid();
  }
  tv_list_push(&reapers, &r->all);
  *out = r;
  return 0;
}

void tv_reaper_close(tv_reaper_t *r) {
  while (!tv_list_empty(&r->children)) {
    tv_child_t *c = tv_container_of(r->children.next, tv_child_t, link);
    finish(r, c);
    drop(c);
  }
  remove_spares(r);
  tv_cgroot_close(&r->cg);
  tv_list_unlink(&r->all);
  uv_close((uv_handle_t *)r->sig, close_free);
  free(r);
}

/* The cgroup for a new child and its directory's fd, or NULL and -1. */
static char *new_cgroup(tv_reaper_t *r, int *fd) {
  *fd = -1;
  if (!r->cg_tried) {
    r->cg_tried = 1;
    r->cg_err = tv_cgroot_open(&r->cg);
  }
  char *cg = r->nspare ? r->spare[--r->nspare] : r->cg.dir ? tv_cgroup_new(&r->cg) : NULL;
  if (cg && (*fd = tv_cgroup_dir_fd(cg)) <= 2) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
    tv_cgroup_remove(cg);
    free(cg);
    cg = NULL;
  }
  return cg;
}

int tv_reaper_spawn(tv_reaper_t *r, const tv_spawn_t *sp, tv_child_t **out, int *stage,
                    void (*on_exit)(tv_child_t *, int), void *data) {
  tv_child_t *c = calloc(1, sizeof *c);
  if (!c) return TV_ENOMEM;
  if (!r->subreaper) { /* before any leader can exit: orphans come to us */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    r->subreaper = 1;
  }
  int fd;
  tv_spawn_t with = *sp;
  c->cg = new_cgroup(r, &fd);
  with.cgroup_fd = fd > 2 ? fd : 0;
  pid_t pid = tv_spawn(&with, stage);
  if (fd >= 0) close(fd);
  if (c->cg && (pid < 0 || *stage == TV_SPAWN_AT_CGROUP)) { /* nobody in it */
    tv_cgroup_remove(c->cg);
    free(c->cg);
    c->cg = NULL;
  }
  if (pid < 0) {
    free(c);
    return (int)pid;
  }
  *stage = TV_SPAWN_AT_EXEC;
  c->r = r;
  c->pid = c->pgid = pid;
  c->on_exit = on_exit;
  c->data = data;
  tv_list_push(&r->children, &c->link);
  if (r->count++ == 0) uv_ref((uv_handle_t *)r->sig); /* a child to wait for */
  *out = c; /* its SIGCHLD, even if already raised, is handled on a later loop pass */
  return 0;
}

void tv_child_disown(tv_child_t *c) {
  c->on_exit = NULL;
  if (!c->disowned) c->disowned = 1, c->r->disowned++;
  kill_tree(c);
}
