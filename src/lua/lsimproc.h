/* lsimproc.h - a simulated process: the task kind taskvisor simulate plays
 * process attempts from a trace with.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group simproc | sup | ctl | module */
#ifndef LTV_SIMPROC_H
#define LTV_SIMPROC_H

#include <lua.h>

#include "lbase.h"

/* Adds core.sim_process to the module table at the top of the stack. */
void ltv_simproc_open(lua_State *L, ltv_ctx *ctx);

#endif
