/* vclone.h - a child that shares the parent's memory until it execs
 * (clone with CLONE_VM | CLONE_VFORK, as posix_spawn does inside glibc):
 * no page tables copied, and the calling thread sleeps until the child has
 * exec'd or exited. The child runs fn(arg) on a stack of its own, which the
 * caller provides, and must only make async-signal-safe raw calls: it writes
 * the parent's memory (a malloc or a lock taken there is the parent's).
 * Owner: the caller owns the stack; the child is the caller's to reap. */
#ifndef TV_VCLONE_H
#define TV_VCLONE_H

#include <stddef.h>
#include <sys/types.h>

/* Runs fn(arg) in the new child (fn must exec or _exit, never return) on
 * stack[0..size) and returns its pid once it exec'd or exited, or -1 with
 * errno. With cgfd > 2 the child is born in that cgroup's directory (clone3
 * CLONE_INTO_CGROUP) and *joined is 1 (set before the child runs: it may read
 * it); else, or where the kernel (or an
 * emulator: valgrind) lacks clone3, *joined is 0 and the child is where the
 * parent is. Under valgrind the child is a copy (its vfork is a fork), so
 * the child must report to the parent through a pipe, not its memory. */
pid_t tv_vclone(int (*fn)(void *), void *arg, void *stack, size_t size, int cgfd, int *joined);

#endif
