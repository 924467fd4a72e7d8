/* lhooks.h - the Lua a spec adds around a task's attempts: lifecycle hooks
 * (each in a hook fiber) and policy functions (core.set_extras).
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_HOOKS_H
#define LTV_HOOKS_H

#include "core/supervision/task.h"
#include "lbase.h"

void ltv_hooks_open(lua_State *L); /* adds core.set_extras to the module on top */
/* Sets the optional task ops (decide, hook, hook_kill) the extras provide. */
void ltv_extras_ops(tv_task_ops_t *ops);
/* Forgets t's extras (at release). */
void ltv_extras_drop(lua_State *L, ltv_ctx *ctx, tv_task_t *t);

#endif
