/* signals.c - shutdown signal watchers on the loop. */
#include "core/loop/signals.h"

#include <signal.h>
#include <stdlib.h>

#include "core/base/error.h"

static const int watched[TV_SIGNALS_N] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM};

static void on_uv_signal(uv_signal_t *h, int signum) {
  tv_signals_t *sig = h->data;
  sig->received++;
  sig->on_signal(sig, signum);
}

static void close_free(uv_handle_t *h) { free(h); }

int tv_signals_start(tv_signals_t *sig, uv_loop_t *loop,
                     void (*on_signal)(tv_signals_t *, int), void *data) {
  sig->on_signal = on_signal;
  sig->data = data;
  sig->received = 0;
  for (int i = 0; i < TV_SIGNALS_N; i++) sig->handles[i] = NULL;
  for (int i = 0; i < TV_SIGNALS_N; i++) {
    uv_signal_t *h = malloc(sizeof *h);
    if (!h) {
      tv_signals_stop(sig);
      return TV_ENOMEM;
    }
    sigaction(watched[i], NULL, &sig->before[i]);
    int rc = uv_signal_init(loop, h); /* EMFILE: the loop's signal pipe */
    if (rc) { /* not a handle yet: nothing to close */
      free(h);
      tv_signals_stop(sig);
      return rc;
    }
    h->data = sig;
    rc = uv_signal_start(h, on_uv_signal, watched[i]);
    sig->handles[i] = h;
    if (rc) {
      tv_signals_stop(sig);
      return rc;
    }
  }
  return 0;
}

void tv_signals_stop(tv_signals_t *sig) {
  for (int i = 0; i < TV_SIGNALS_N; i++) {
    if (!sig->handles[i]) continue;
    uv_close((uv_handle_t *)sig->handles[i], close_free); /* (stops it: SIG_DFL) */
    sig->handles[i] = NULL;
    /* Unless another libuv watcher still holds the signal, put back what was
     * there before (the host's: see main.c). */
    struct sigaction now;
    if (sigaction(watched[i], NULL, &now) == 0 && now.sa_handler == SIG_DFL)
      sigaction(watched[i], &sig->before[i], NULL);
  }
}

const char *tv_signal_name(int signum) {
  switch (signum) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGSEGV: return "SIGSEGV";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGCHLD: return "SIGCHLD";
    case SIGCONT: return "SIGCONT";
    case SIGSTOP: return "SIGSTOP";
    case SIGTSTP: return "SIGTSTP";
    case SIGTTIN: return "SIGTTIN";
    case SIGTTOU: return "SIGTTOU";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGWINCH: return "SIGWINCH";
    case SIGSYS: return "SIGSYS";
    default: return "SIG?";
  }
}
