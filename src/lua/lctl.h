/* lctl.h - the controller's supervisor methods.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_CTL_H
#define LTV_CTL_H

#include <lua.h>

/* Adds the controller's methods to the supervisor's method table (after
 * ltv_sup_open). */
void ltv_ctl_open(lua_State *L);

#endif
