/* lproc.h - process task objects, and signal names.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_PROC_H
#define LTV_PROC_H

#include <lua.h>

#include "core/supervision/task.h"

/* core.process(opts) pushes a process task object (or nil, err). */
int ltv_process_new(lua_State *L);
/* core.signum(name | number): the signal number or nil. */
int ltv_signum(lua_State *L);
void ltv_process_open(lua_State *L);
/* Whether task t is a process that reports its readiness itself (its
 * `ready` is not "started"): added with explicit_ready. */
int ltv_process_explicit_ready(tv_task_t *t);
/* Pushes the live state of process task t (sup:process): pid, attempt, output losses. */
void ltv_process_push_state(lua_State *L, tv_task_t *t);
/* Pushes sup:process_info's table for a process task: 1, or 0 (none runs). */
int ltv_process_info(lua_State *L, tv_task_t *t);

#endif
