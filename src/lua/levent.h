/* levent.h - events as plain Lua tables, built on the hot path without
 * re-interning any string.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_EVENT_H
#define LTV_EVENT_H

#include <lua.h>

#include "core/events/event.h"

/* Pushes the strings ltv_push_event needs (returns how many); `base` of
 * ltv_push_event is the stack index of the first. */
int ltv_event_keys(lua_State *L);
void ltv_push_event(lua_State *L, int base, const tv_event_t *ev);
/* Pushes the list of kind names (tv.EVENT_KINDS). */
void ltv_event_init(lua_State *L);

#endif
