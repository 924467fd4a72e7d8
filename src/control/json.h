/* json.h - JSON values (jansson) to Lua values and back, for the control API.
 * Layers up: json peer listener | server | lserver (src/control/). */
#ifndef TVC_JSON_H
#define TVC_JSON_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>

/* JSON null in Lua: this light userdata (NULL). */
#define TVC_JSON_NULL NULL
/* A table whose metatable has this field set to "array" encodes as an array
 * even when empty. */
#define TVC_JSON_KIND "__json"
#define TVC_JSON_DEPTH 64

/* Pushes v as a Lua value (objects and arrays as tables, null as the light
 * userdata NULL). Returns 0, or -1 when nested deeper than TVC_JSON_DEPTH
 * (nothing pushed). */
int tvc_json_push(lua_State *L, const json_t *v);
/* The value at idx as JSON (a new reference), or NULL with a message in err:
 * what could not be encoded and where ("tasks[2].fn: a function"). */
json_t *tvc_json_from_lua(lua_State *L, int idx, char *err, size_t errlen);

#endif
