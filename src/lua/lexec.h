/* lexec.h - ctx:exec: a task runs a command to completion without blocking
 * the loop (its fiber waits as LTV_WAIT_OWNER).
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_EXEC_H
#define LTV_EXEC_H

#include "lfiber.h"

/* ctx:exec for the task fiber f (running as L). */
int ltv_exec(lua_State *L, ltv_fiber *f);
/* For the task fiber's ltv_fiber_ops: its cancellation (stops the command)
 * and abort (forgets the wait, SIGKILLs a command still running). */
void ltv_exec_interrupt(ltv_fiber *f);
void ltv_exec_abort(ltv_fiber *f);

#endif
