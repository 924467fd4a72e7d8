/* ljson.h - Lua values as JSON text (jansson), for core.json_encode: what
 * tv.json_writer and the metrics/status surfaces write, reachable from a
 * plain lua5.4 (no control module there).
 * Layers up (LAYERS.md): base | cmd event held policy json | fiber | ... | module */
#ifndef LTV_JSON_H
#define LTV_JSON_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>

/* JSON null in Lua: the light userdata NULL (core.json_null). A table whose
 * metatable has __json = "array" encodes as an array even when empty. */
#define LTV_JSON_DEPTH 64

typedef struct ltv_json_opts {
  int lossy;                /* bytes that are not UTF-8 become U+FFFD, not an error */
  const char *const *first; /* object keys written first, in this order (NULL-ended) */
} ltv_json_opts_t;

/* The value at idx as JSON (a new reference), or NULL with a message in err
 * naming where ("tasks[2].fn: a function"). */
json_t *ltv_json_from_lua(lua_State *L, int idx, const ltv_json_opts_t *o, char *err, size_t errlen);
/* s as a JSON string with every byte that starts no valid UTF-8 sequence
 * replaced by U+FFFD (a new reference, or NULL: no memory). */
json_t *ltv_json_lossy_string(const char *s, size_t len);
/* Adds json_encode and json_null to the table on top of the stack. */
void ltv_json_open(lua_State *L);

#endif
