/* lsup.h - the supervisor object.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_SUP_H
#define LTV_SUP_H

#include "core/loop/signals.h"
#include "core/supervision/controller.h"
#include "core/supervision/supervisor.h"
#include "lbase.h"

#define LTV_SUP "taskvisor.supervisor"
/* Registry value for the host: the exit status the last sup:run() calls for
 * (0; 2 GraceExceeded; 3 a budget escalated to the supervisor). */
#define LTV_GRACE_EXCEEDED "taskvisor.grace_exceeded"

/* Owner: the userdata owns the core supervisor and its controller (destroyed
 * in __gc, controller first). */
typedef struct ltv_sup {
  tv_sup_t *sup; /* NULL once destroyed */
  tv_ctl_t *ctl; /* NULL without a controller */
  ltv_ctx *ctx;
  int anchor;
  tv_signals_t sig;
  int sig_on;
  /* lembed.c: a sup:start()ed supervisor's end (NULL otherwise), called
   * once as it closes; its deferred on_done and that callback's ref. */
  void (*on_stop)(struct ltv_sup *s);
  tv_work_t done_work;
  int done_ref;
} ltv_sup;

void ltv_sup_open(lua_State *L);
int ltv_sup_new(lua_State *L);
/* The supervisor at index 1; raises if it is not one or was destroyed. */
ltv_sup *ltv_sup_check(lua_State *L);
/* Keeps the supervisor (at index 1) alive while it holds tasks. */
void ltv_sup_anchor(lua_State *L, ltv_sup *s);
/* A run's signal handling (shutdown, log reopening, status), for tv_signals_start. */
void ltv_sup_on_signal(tv_signals_t *sig, int signum);
/* Pushes what sup:run() returns for a closed supervisor: true, or nil, the
 * verdict ("GraceExceeded: ..." / "ESCALATED: ..."), the stuck names; and
 * records the host's exit status. Returns the count pushed. */
int ltv_sup_push_result(lua_State *L, ltv_sup *s);

#endif
