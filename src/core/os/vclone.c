/* vclone.c - CLONE_VM | CLONE_VFORK children on their own stack (see
 * vclone.h). glibc's clone() takes a stack but not clone3's cgroup; clone3
 * has no glibc wrapper that takes a function, and a bare syscall() cannot be
 * used with a new stack (the child would return through the parent's), so
 * on x86-64 a few instructions make the call and start fn on the new stack. */
#define _GNU_SOURCE
#include "core/os/vclone.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* clone3's arguments (linux/sched.h, not included: its CLONE_* macros clash
 * with glibc's). */
struct clone_args3 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};
#define TV_CLONE_INTO_CGROUP 0x200000000ULL

#if defined(__x86_64__) && defined(SYS_clone3)
/* The child starts with the parent's registers (fn and arg in callee-saved
 * r12 and r13), rax 0 and rsp at the top of its stack (16-byte aligned, so
 * the call leaves the alignment the ABI expects at fn's entry). fn never
 * returns; if it did, the child exits with its value. */
static long clone3_run(struct clone_args3 *ca, int (*fn)(void *), void *arg) {
  register long rax __asm__("rax") = SYS_clone3;
  register struct clone_args3 *rdi __asm__("rdi") = ca;
  register long rsi __asm__("rsi") = (long)sizeof *ca;
  register int (*r12)(void *) __asm__("r12") = fn;
  register void *r13 __asm__("r13") = arg;
  __asm__ volatile("syscall\n\t"
                   "test %%rax, %%rax\n\t"
                   "jnz 1f\n\t"
                   "xor %%ebp, %%ebp\n\t"
                   "mov %%r13, %%rdi\n\t"
                   "call *%%r12\n\t"
                   "mov %%eax, %%edi\n\t"
                   "mov $231, %%eax\n\t" /* exit_group */
                   "syscall\n\t"
                   "hlt\n"
                   "1:"
                   : "+r"(rax)
                   : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
                   : "rcx", "r11", "memory", "cc");
  if (rax < 0 && rax > -4096) {
    errno = (int)-rax;
    return -1;
  }
  return rax;
}
#define HAVE_CLONE3_RUN 1
#endif

/* Whether clone3 works here; -1: not tried yet (one loop, one thread: a race
 * would only try twice). */
static int clone3_ok = -1;

pid_t tv_vclone(int (*fn)(void *), void *arg, void *stack, size_t size, int cgfd, int *joined) {
  *joined = 0;
  uintptr_t hi = ((uintptr_t)stack + size) & ~(uintptr_t)15;
#ifdef HAVE_CLONE3_RUN
  if (cgfd > 2 && clone3_ok != 0) {
    uintptr_t lo = ((uintptr_t)stack + 15) & ~(uintptr_t)15;
    struct clone_args3 ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_VM | CLONE_VFORK | TV_CLONE_INTO_CGROUP;
    ca.exit_signal = SIGCHLD;
    ca.stack = lo;
    ca.stack_size = hi - lo;
    ca.cgroup = (uint64_t)cgfd;
    *joined = 1; /* before: the child reads it (our memory) */
    long pid = clone3_run(&ca, fn, arg);
    if (pid > 0) {
      clone3_ok = 1;
      return (pid_t)pid;
    }
    *joined = 0;
    /* ENOSYS, E2BIG (before 5.7; valgrind): clone, and the child joins by
     * writing cgroup.procs. Other errors (EBUSY, EACCES of the cgroup) are
     * the cgroup's: the same fallback, this once. */
    if (errno == ENOSYS || errno == E2BIG) clone3_ok = 0;
  }
#else
  (void)cgfd;
#endif
  return clone(fn, (void *)hi, CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
}
