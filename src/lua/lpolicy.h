/* lpolicy.h - restart policies and budgets from Lua option tables.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_POLICY_H
#define LTV_POLICY_H

#include <lua.h>

#include "core/supervision/budget.h"
#include "core/supervision/policy.h"

/* A policy table {restart=, interval=, first=, max=, factor=, jitter=,
 * timeout=, max_retries=} (seconds; validated by init.lua), or a core.policy
 * object, into p. */
void ltv_policy_read(lua_State *L, int idx, tv_policy_t *p);
int ltv_policy_new(lua_State *L); /* core.policy(table) */
/* A budget from fields max_restarts, within, cooldown (seconds) and
 * on_exhausted ("give_up" | "escalate" | "cooldown"). */
void ltv_budget_read(lua_State *L, int idx, tv_budget_cfg_t *b, int def_action);

#endif
