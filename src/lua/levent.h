/* levent.h - events as small read-only Lua objects (one allocation each),
 * fields read by name on demand.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_EVENT_H
#define LTV_EVENT_H

#include <lua.h>

#include "core/events/event.h"

/* Pushes the events' metatable (made on first use); returns 1. */
int ltv_event_meta(lua_State *L);
/* Pushes ev as a Lua event; `mt` is the stack index of ltv_event_meta's
 * metatable, mt + 1 a slot (nil at first) where it keeps the last task name
 * it made. Allocates (may run the collector). */
void ltv_push_event(lua_State *L, int mt, const tv_event_t *ev);
/* Pushes ev as a plain table of the same fields (a subscriber that keeps
 * or changes its events); `mt` as for ltv_push_event. Allocates. */
void ltv_push_event_table(lua_State *L, int mt, const tv_event_t *ev);
/* The same, in a table reused for every event with the same fields (`cache`:
 * the stack index of a table keeping them): no allocation per event, for a
 * subscriber that neither keeps nor changes the tables it is handed. */
void ltv_push_event_scratch(lua_State *L, int mt, int cache, const tv_event_t *ev);
/* Pushes the list of kind names (tv.EVENT_KINDS). */
void ltv_event_init(lua_State *L);

#endif
