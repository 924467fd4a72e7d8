/* loperator.h - an operator's verbs on the supervisor (loperator.c): stop,
 * start, policy swap, and a callback once a task is gone. Layer: above lsup,
 * beside lctl and lsupview (each adds methods to the supervisor's table).
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_LOPERATOR_H
#define LTV_LOPERATOR_H

#include <lua.h>

/* Adds sup:_op_stop, _op_start, _op_state, _op_update, _when_gone. */
void ltv_operator_open(lua_State *L);

#endif
