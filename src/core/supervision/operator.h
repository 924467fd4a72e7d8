/* operator.h - an operator's commands on one registered task, beside the
 * supervisor's own: stop it and keep it registered (supervisord's stop, OTP's
 * terminate_child), start it again (restart_child), swap its policy in place,
 * and be told once a task is gone (a reload's restart adds the new one then).
 *
 * An operator-stopped task is a HELD actor with ext->opstop set: nothing
 * restarts it, no budget is charged, a group's strategy restart of its
 * siblings leaves it stopped (OTP: a terminated child stays terminated), it
 * stays registered (the supervisor's natural completion does not end a run
 * while it is there: like supervisord, a stopped program keeps the host up).
 * Owner: the supervisor owns the actors; nothing here allocates but the
 * task's ext (on first use). */
#ifndef TV_OPERATOR_H
#define TV_OPERATOR_H

#include "core/supervision/supervisor.h"

/* Stops task `name` and holds it: its running attempt is cancelled (force-
 * stopped at now + grace), a pending restart dropped. TaskStopped with
 * reason "operator" is published once (the attempt's own end event when one
 * was running); its outcome is recorded (cancelled, "stopped by an
 * operator"). 0, TV_ENOENT, TV_EEXIST (already operator-stopped),
 * TV_EBUSY (being removed), TV_ESHUTDOWN, TV_ENOMEM. */
int tv_op_stop(tv_sup_t *s, const char *name, size_t len);
/* Starts an operator-stopped task again, with a fresh failure streak
 * (supervisord's start resets its retry count); the attempt count goes on.
 * 0, TV_ENOENT, TV_EINVAL (not operator-stopped), TV_EBUSY (still stopping,
 * or its group is restarting or stopping its children), TV_ESHUTDOWN. */
int tv_op_start(tv_sup_t *s, const char *name, size_t len);
/* Restarts task `name` (supervisorctl restart): stops it as tv_op_stop does
 * (TaskStopped reason "operator"; a pending restart's wait cut short) and
 * starts it again once it has stopped, with a fresh failure streak; no
 * budget charged; a group's child restarts alone. An operator-stopped task
 * just starts. 0, TV_ENOENT, TV_EBUSY (being removed), TV_ESHUTDOWN,
 * TV_ENOMEM. */
int tv_op_restart(tv_sup_t *s, const char *name, size_t len);
/* Whether `a` is operator-stopped (1 held, 2 still stopping), or 0. */
int tv_op_stopped(const tv_actor_t *a);
/* Swaps task `name`'s policy for `p` without touching what runs: the next
 * decision (restart, backoff, budget) follows `p`; a timeout or schedule
 * applies from the next attempt. A changed budget size starts afresh.
 * 0, TV_ENOENT, TV_ENOMEM. */
int tv_op_update(tv_sup_t *s, const char *name, size_t len, const tv_policy_t *p);

/* Told once a task is gone: `gone` runs from the loop (never inside the
 * supervisor's own bookkeeping), after its TaskRemoved. */
typedef struct tv_op_gone tv_op_gone_t;
struct tv_op_gone {
  tv_sup_watch_t w;
  tv_work_t work;
  tv_sched_t *sched;
  void (*gone)(tv_op_gone_t *g);
};
/* Watches task `name` (g initialised by tv_op_gone_init). 0 or TV_ENOENT. */
int tv_op_when_gone(tv_sup_t *s, const char *name, size_t len, tv_op_gone_t *g);
void tv_op_gone_init(tv_op_gone_t *g, void (*gone)(tv_op_gone_t *g));
/* Forgets the watch (before freeing g). */
void tv_op_gone_cancel(tv_op_gone_t *g);

#endif
