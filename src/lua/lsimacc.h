/* lsimacc.h - a simulation's accounting per event, in C (the summary and
 * the timeline that simulate_report.lua words and draws).
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group simproc | sup | ctl sim simacc | module */
#ifndef LTV_SIMACC_H
#define LTV_SIMACC_H

#include <lua.h>

/* Adds core.sim_acc to the module table at the top of the stack, and
 * sup.core:_sim_subscribe to the supervisor's methods. */
void ltv_simacc_open(lua_State *L);

#endif
