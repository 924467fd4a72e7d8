/* lheld.h - task objects of every kind as the supervisor and the controller
 * take them, and the options sup:add takes with one.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_HELD_H
#define LTV_HELD_H

#include <lua.h>
#include <stddef.h>

#include "core/supervision/supervisor.h"

/* Each kind's userdata begins with its tv_task_t and has a registry anchor
 * (an int) at anchor_off: LUA_NOREF while free, set while a supervisor or a
 * controller queue holds it, cleared by the kind's release(). Registers the
 * metatable on top of the stack as that of such a kind. */
void ltv_held_kind(lua_State *L, size_t anchor_off);
/* The task object at idx; raises naming `what` if it is not one, or if it
 * is already held (a task object is added once). */
tv_task_t *ltv_task_check(lua_State *L, int idx, const char *what);
/* Anchors the task object at idx: the core may hold it from now on. */
void ltv_task_hold(lua_State *L, int idx);
/* Undoes ltv_task_hold for a task the core did not take. */
void ltv_task_unhold(lua_State *L, int idx);
/* sup:add's options table at idx { after = {names}, hooks = bool,
 * explicit_ready = bool, decide = bool } into o (after: a malloc'd array of new
 * references, freed by ltv_add_opts_free). 0, or -1 when out of memory. */
int ltv_add_opts_read(lua_State *L, int idx, tv_add_opts_t *o);
void ltv_add_opts_free(tv_add_opts_t *o);

#endif
