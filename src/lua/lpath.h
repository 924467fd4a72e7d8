/* lpath.h - core.find_program (lpath.c). Layer: beside lcmd (calls only the core). */
#ifndef LTV_LPATH_H
#define LTV_LPATH_H

#include <lua.h>

/* core.find_program(name, path|nil): where a process task's spawn would find
 * `name`, or nil, "ENOENT" | "EACCES". */
int ltv_find_program(lua_State *L);

#endif
