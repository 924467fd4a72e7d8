/* lserver.h - the Lua module taskvisor.control.server: the control socket,
 * the HTTP server and its streams, JSON encoding, for lua/taskvisor/control*.lua.
 * Layers up: json peer listener | server | lserver (src/control/). */
#ifndef TVC_LSERVER_H
#define TVC_LSERVER_H

#include <lua.h>

int luaopen_taskvisor_control_server(lua_State *L);

#endif
