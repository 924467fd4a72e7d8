/* ltask.h - Lua coroutine tasks: a task object whose userdata is also the
 * ctx its function gets.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_TASK_H
#define LTV_TASK_H

#include <lua.h>

#define LTV_TASK "taskvisor.ctx" /* metatable; LTV_TASK ".methods" in the registry */

/* core.task(run [, max_instructions]): pushes a task object, not yet held. */
int ltv_task_new(lua_State *L);
void ltv_task_open(lua_State *L);

#endif
