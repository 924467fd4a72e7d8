/* lgroup.h - group task objects (children made per attempt by a Lua factory).
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_GROUP_H
#define LTV_GROUP_H

#include <lua.h>

#include "core/supervision/task.h"

/* core.group(...) pushes a group task object (see lgroup.c). */
int ltv_group_new(lua_State *L);
void ltv_group_open(lua_State *L);
/* Pushes the group object whose task `t` is (while the core holds it): 1;
 * or pushes nothing: 0 (not a group). */
int ltv_group_push(lua_State *L, tv_task_t *t);

#endif
