/* lcreds.h - core.user_info / group_info / user_groups / host_creds /
 * rlimit (lcreds.c). Layer: beside lcmd and lpath (calls only the core). */
#ifndef LTV_LCREDS_H
#define LTV_LCREDS_H

#include <lua.h>

/* Adds the functions to the table on top of the stack. */
void ltv_creds_open(lua_State *L);

#endif
