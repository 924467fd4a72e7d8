/* reaper.c - per-loop child table, SIGCHLD-driven reaping, group cleanup. */
#define _GNU_SOURCE
#include "core/os/reaper.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/error.h"

static void drop(tv_child_t *c) {
  tv_reaper_t *r = c->r;
  if (c->disowned) r->disowned--;
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

int tv_child_signal(tv_child_t *c, int sig) {
  if (!group_held(c)) return TV_ESRCH;
  return kill(-c->pgid, sig) == 0 ? 0 : TV_ESRCH;
}

/* Reaps what is left of a group whose leader is gone; 1 when it is empty. */
static int reap_group(tv_child_t *c) {
  for (;;) {
    pid_t p = waitpid(-c->pgid, NULL, WNOHANG);
    if (p > 0) continue;
    if (p < 0 && errno == EINTR) continue;
    return p < 0; /* ECHILD: none of ours left in it */
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
    if (group_held(c)) kill(-c->pgid, SIGKILL);
  }
  if (!reap_group(c)) return; /* members still dying: their SIGCHLD comes */
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

/* Orphans the host adopted as a subreaper after they left their task's group
 * (a program that daemonizes with setsid): nobody else would ever wait for
 * them. Exited children are peeked at without reaping; a leader we track, or
 * a child in the host's own group (os.execute, io.popen: their callers wait
 * for them), ends the sweep until the next SIGCHLD. */
static void reap_adopted(const tv_reaper_t *r) {
  pid_t own = getpgrp();
  for (;;) {
    siginfo_t si;
    si.si_pid = 0;
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) return;
    pid_t pid = si.si_pid, pg = getpgid(pid);
    if (is_leader(r, pid) || pg < 0 || pg == own) return;
    if (waitpid(pid, NULL, WNOHANG) <= 0) return;
  }
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

static void close_free(uv_handle_t *h) { free(h); }

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
  *out = r;
  return 0;
}

void tv_reaper_close(tv_reaper_t *r) {
  while (!tv_list_empty(&r->children)) {
    tv_child_t *c = tv_container_of(r->children.next, tv_child_t, link);
    if (group_held(c)) kill(-c->pgid, SIGKILL);
    if (c->pid) while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {}
    c->pid = 0;
    /* Members SIGKILLed above die; orphans of theirs come to us and die too. */
    while (waitpid(-c->pgid, NULL, 0) > 0 || errno == EINTR) {}
    drop(c);
  }
  uv_close((uv_handle_t *)r->sig, close_free);
  free(r);
}

int tv_reaper_spawn(tv_reaper_t *r, const tv_spawn_t *sp, tv_child_t **out, int *stage,
                    void (*on_exit)(tv_child_t *, int), void *data) {
  tv_child_t *c = malloc(sizeof *c);
  if (!c) return TV_ENOMEM;
  if (!r->subreaper) { /* before any leader can exit: orphans come to us */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    r->subreaper = 1;
  }
  pid_t pid = tv_spawn(sp, stage);
  if (pid < 0) {
    free(c);
    return (int)pid;
  }
  c->r = r;
  c->pid = c->pgid = pid;
  c->on_exit = on_exit;
  c->data = data;
  c->disowned = 0;
  tv_list_push(&r->children, &c->link);
  if (r->count++ == 0) uv_ref((uv_handle_t *)r->sig); /* a child to wait for */
  *out = c; /* its SIGCHLD, even if already raised, is handled on a later loop pass */
  return 0;
}

void tv_child_disown(tv_child_t *c) {
  c->on_exit = NULL;
  if (!c->disowned) c->disowned = 1, c->r->disowned++;
  if (group_held(c)) kill(-c->pgid, SIGKILL);
}
