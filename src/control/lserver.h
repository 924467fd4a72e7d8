/* lserver.h - the Lua module taskvisor.control.server: the control socket,
 * the HTTP server and its streams, JSON encoding, for lua/taskvisor/control*.lua.
 * Layers up: json peer listener event_json | server | backlog | lbacklog lserver (src/control/). */
#ifndef TVC_LSERVER_H
#define TVC_LSERVER_H

#include <lua.h>

#include "server.h"

/* A stream handed to a route's on_open (userdata of this metatable). */
#define TVC_LSTREAM_MT "taskvisor.control.stream"
typedef struct tvc_lstream {
  tvc_stream_t *st; /* the writer's reference; NULL once ended or taken over */
} tvc_lstream;

int luaopen_taskvisor_control_server(lua_State *L);

#endif
