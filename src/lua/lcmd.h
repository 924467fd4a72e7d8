/* lcmd.h - a command as Lua describes it (argument list, environment), in
 * the form the spawner takes. For lproc.c and lexec.c.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_CMD_H
#define LTV_CMD_H

#include <lua.h>

/* A NULL-terminated copy of the strings t[1..#t] (one block), or raises. */
char **ltv_strv(lua_State *L, int t);
/* The environment for options at idx (fields env, inherit_env): *out NULL
 * (the host's) or a block from tv_env_build; raises when out of memory. */
void ltv_envp(lua_State *L, int idx, char ***out);

#endif
