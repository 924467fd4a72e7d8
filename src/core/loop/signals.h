/* signals.h - SIGINT / SIGTERM / SIGQUIT watchers for the duration of a run.
 * Owner: the embedding; the libuv handles are freed in their close callbacks.
 * When stopped, libuv restores the default dispositions. */
#ifndef TV_SIGNALS_H
#define TV_SIGNALS_H

#include <uv.h>

typedef struct tv_signals tv_signals_t;
struct tv_signals {
  uv_signal_t *handles[3];
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
