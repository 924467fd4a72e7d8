/* lstats.h - a supervisor's counters for the observe surfaces (metrics):
 * sup:subscriber_stats(), sup:budget_state(). Read-only.
 * Layers up (LAYERS.md): base | cmd event held policy json | fiber | error exec | hooks | task sub proc group | sup | ctl supview stats | module */
#ifndef LTV_STATS_H
#define LTV_STATS_H

#include <lua.h>

/* Adds the methods to the supervisor's method table (as lctl.c does). */
void ltv_stats_open(lua_State *L);
/* Adds reopen_generation to the module table on top of the stack. */
void ltv_stats_module(lua_State *L);

#endif
