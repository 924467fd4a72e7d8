/* lbacklog.h - the event backlog (backlog.c) for Lua: S.backlog(sup, cap),
 * for lua/taskvisor/control_events.lua.
 * Layers up: json peer listener event_json | server | backlog | lbacklog lserver. */
#ifndef TVC_LBACKLOG_H
#define TVC_LBACKLOG_H

#include <lua.h>

/* Adds `backlog` to the module table on top of the stack. */
void tvc_lbacklog_open(lua_State *L);

#endif
