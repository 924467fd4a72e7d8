/* lsupview.h - the supervisor's views (lsupview.c). Layer: above lsup,
 * beside lctl (both add methods to the supervisor's table). */
#ifndef LTV_LSUPVIEW_H
#define LTV_LSUPVIEW_H

#include <lua.h>

/* Adds sup:outcomes, outcome, await, waits, process, process_info, status. */
void ltv_supview_open(lua_State *L);

#endif
