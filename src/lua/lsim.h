/* lsim.h - virtual time from Lua: switching the context's clock, and the
 * horizon that ends a simulated run.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl sim | module */
#ifndef LTV_SIM_H
#define LTV_SIM_H

#include <lua.h>

/* Adds core.clock_virtual / clock_real / clock_kind to the module table at
 * the top of the stack, and sup:_shutdown_at to the supervisor's methods. */
void ltv_sim_open(lua_State *L);

#endif
