/* lembed.h - taskvisor inside another program's loop: sup:start's core and
 * tv.step / tv.backend.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl embed | module */
#ifndef LTV_EMBED_H
#define LTV_EMBED_H

#include "lbase.h"

/* Adds sup:_start / sup:_result to the supervisor's methods (after
 * ltv_sup_open) and step / backend to the module table at the top. */
void ltv_embed_open(lua_State *L, ltv_ctx *ctx);

#endif
