/* lerror.h - error values: the text of any Lua error value, and the
 * metatable of tv.fail / tv.fatal failures.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_ERROR_H
#define LTV_ERROR_H

#include "lbase.h"

#define LTV_FAILURE "taskvisor.failure" /* metatable of tv.fail / tv.fatal errors */

/* The text of the error value at idx (see lerror.c); *len (optional) gets its
 * length. Pushes one value: the text, or nil when the text is a fixed one
 * (the conversion failed; no room on the stack: nothing pushed). On ctx->L,
 * __tostring runs under `budget` instructions (0: none). */
const char *ltv_error_text(ltv_ctx *ctx, lua_State *L, int idx, size_t *len, uint32_t budget);
/* Pushes the failure metatable (made on first use). */
void ltv_failure_mt(lua_State *L);

#endif
