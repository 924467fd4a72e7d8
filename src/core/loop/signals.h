/* signals.h - the signals a supervisor run handles, watched for its duration:
 * SIGINT / SIGTERM / SIGQUIT (shutdown), SIGHUP / SIGUSR1 (reopen log files),
 * SIGUSR2 (status to stderr), SIGALRM (ignored): none of them kills the host
 * while it supervises. The embedding's on_signal decides what each does.
 * Owner: the embedding; the libuv handles are freed in their close callbacks.
 * When stopped, the dispositions from before the start are put back (libuv
 * alone would leave the defaults, which kill). */
#ifndef TV_SIGNALS_H
#define TV_SIGNALS_H

#include <uv.h>

#include <signal.h>

#define TV_SIGNALS_N 7

typedef struct tv_signals tv_signals_t;
struct tv_signals {
  uv_signal_t *handles[TV_SIGNALS_N];
  struct sigaction before[TV_SIGNALS_N];
  void (*on_signal)(tv_signals_t *sig, int signum);
  void *data;
  int received; /* how many so far */
};

/* Returns 0 or a negative libuv / TV_ENOMEM code (nothing left started). */
int tv_signals_start(tv_signals_t *sig, uv_loop_t *loop,
                     void (*on_signal)(tv_signals_t *, int), void *data);
void tv_signals_stop(tv_signals_t *sig);
/* "SIGINT" for SIGINT, ...; "SIG?" when unknown. */
const char *tv_signal_name(int signum);

#endif
