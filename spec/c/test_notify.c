/* test_notify.c - the sd_notify socket: which lines say READY=1, the child's
 * environment, and one socket on a real loop: garbage and oversized
 * datagrams are ignored, READY=1 from our own process group is heard once,
 * the fd is closed with it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "core/os/notify.h"

#define S(lit) lit, sizeof lit - 1

static void test_parse(void) {
  CHECK_EQ_U(tv_notify_parse(S("READY=1")), TV_NOTIFY_READY);
  CHECK_EQ_U(tv_notify_parse(S("STATUS=up\nREADY=1\n")), TV_NOTIFY_READY);
  CHECK_EQ_U(tv_notify_parse(S("READY=1\nSTOPPING=1")), TV_NOTIFY_READY | TV_NOTIFY_STOPPING);
  CHECK_EQ_U(tv_notify_parse(S("")), 0);
  CHECK_EQ_U(tv_notify_parse(S("\n\n")), 0);
  CHECK_EQ_U(tv_notify_parse(S("READY=0")), 0);
  CHECK_EQ_U(tv_notify_parse(S("READY=1 ")), 0);
  CHECK_EQ_U(tv_notify_parse(S(" READY=1")), 0);
  CHECK_EQ_U(tv_notify_parse(S("READY=1\0")), 0);
  CHECK_EQ_U(tv_notify_parse(S("READY")), 0);
  CHECK_EQ_U(tv_notify_parse(S("XREADY=1")), 0);
  CHECK_EQ_U(tv_notify_parse(S("STATUS=READY=1")), 0);
  CHECK_EQ_U(tv_notify_parse(S("READY=")), 0);
  CHECK_EQ_U(tv_notify_parse(S("WATCHDOG=1")), TV_NOTIFY_WATCHDOG);
  CHECK_EQ_U(tv_notify_parse(S("STATUS=x\nWATCHDOG=1\nREADY=1")), TV_NOTIFY_WATCHDOG | TV_NOTIFY_READY);
  CHECK_EQ_U(tv_notify_parse(S("WATCHDOG=trigger")), 0);
}

static void test_env(void) {
  char *base[] = {"A=1", "NOTIFY_SOCKET=/run/systemd/notify", "B=2", "NOTIFY_SOCKETX=keep", NULL};
  char **env = tv_notify_env(base, "@taskvisor/1/2", 0);
  CHECK(env != NULL);
  CHECK_STR(env[0], "A=1");
  CHECK_STR(env[1], "B=2");
  CHECK_STR(env[2], "NOTIFY_SOCKETX=keep");
  CHECK_STR(env[3], "NOTIFY_SOCKET=@taskvisor/1/2");
  CHECK(env[4] == NULL);
  free(env);
  char *empty[] = {NULL};
  env = tv_notify_env(empty, "@x", 0);
  CHECK_STR(env[0], "NOTIFY_SOCKET=@x");
  CHECK(env[1] == NULL);
  free(env);
  /* a watchdog: WATCHDOG_USEC for sd_watchdog_enabled; the host's own dropped */
  char *wd[] = {"WATCHDOG_USEC=1", "WATCHDOG_PID=7", "C=3", NULL};
  env = tv_notify_env(wd, "@y", 2500000);
  CHECK_STR(env[0], "C=3");
  CHECK_STR(env[1], "NOTIFY_SOCKET=@y");
  CHECK_STR(env[2], "WATCHDOG_USEC=2500000");
  CHECK(env[3] == NULL);
  free(env);
}

static int readies;
static void on_ready(void *data) { readies += data == &readies; }

static void send_to(const char *addr, const char *msg, size_t len) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t n = strlen(addr);
  memcpy(sa.sun_path, addr, n);
  sa.sun_path[0] = '\0'; /* '@' names the abstract namespace */
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  CHECK(sendto(fd, msg, len, 0, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) == (ssize_t)len);
  close(fd);
}

static void test_socket(void) {
  uv_loop_t *loop = uv_default_loop();
  tv_clock_t clk;
  tv_sched_t sched;
  tv_clock_init_uv(&clk, loop);
  CHECK(tv_sched_init(&sched, &clk, loop) == 0);
  tv_notify_t *n = NULL;
  CHECK(tv_notify_open(&n, loop, &sched, on_ready, &readies) == 0);
  CHECK(n->addr[0] == '@');
  CHECK(strncmp(n->addr, "@taskvisor/", 11) == 0);
  CHECK(fcntl(n->fd, F_GETFD) & FD_CLOEXEC);
  int fd = n->fd;
  CHECK(tv_notify_start(n, getpgrp()) == 0);

  char big[TV_NOTIFY_MAX + 8];
  for (size_t i = 0; i + 8 <= sizeof big; i += 8) memcpy(big + i, "READY=1\n", 8);
  send_to(n->addr, big, sizeof big); /* oversized: dropped whole */
  send_to(n->addr, S("READY=0\nSTATUS=x"));
  uv_run(loop, UV_RUN_NOWAIT);
  CHECK_EQ_U(readies, 0);
  CHECK_EQ_U(n->ignored, 1);

  send_to(n->addr, S("STATUS=up\nREADY=1\n"));
  send_to(n->addr, S("READY=1"));
  uv_run(loop, UV_RUN_NOWAIT);
  CHECK_EQ_U(readies, 1); /* once */

  /* a datagram from a process of another group, still alive when read, is not heard */
  tv_notify_t *m = NULL;
  CHECK(tv_notify_open(&m, loop, &sched, on_ready, &readies) == 0);
  CHECK(tv_notify_start(m, getpgrp() + 1) == 0);
  send_to(m->addr, S("READY=1"));
  uv_run(loop, UV_RUN_NOWAIT);
  CHECK_EQ_U(readies, 1);
  CHECK_EQ_U(m->ignored, 1);

  tv_notify_close(n);
  tv_notify_close(m);
  uv_run(loop, UV_RUN_NOWAIT);
  CHECK(fcntl(fd, F_GETFD) == -1); /* closed with its handle */
  tv_sched_close(&sched);
  uv_run(loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(loop) == 0);
}

int main(void) {
  RUN(test_parse);
  RUN(test_env);
  RUN(test_socket);
  return check_report();
}
