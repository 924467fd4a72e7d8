/* lheld.c - task objects of every kind, as the supervisor and the controller
 * take them: recognise one, and anchor it while the core holds it; and the
 * options sup:add takes with one. Each kind registers its metatable here
 * (ltv_held_kind), so this file knows no kind by name. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "lheld.h"

#define LTV_KINDS "taskvisor.kinds" /* registry: metatable -> anchor offset */

void ltv_held_kind(lua_State *L, size_t anchor_off) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LTV_KINDS);
  lua_pushvalue(L, -2);
  lua_pushinteger(L, (lua_Integer)anchor_off);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

/* The task object at idx (a full userdata whose metatable a kind
 * registered) and where its anchor is, or NULL. */
static int *anchor_at(lua_State *L, int idx, void **ud) {
  *ud = NULL;
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return NULL;
  int isnum = 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LTV_KINDS) == LUA_TTABLE) {
    lua_pushvalue(L, -2);
    isnum = lua_rawget(L, -2) == LUA_TNUMBER;
  } else {
    lua_pushnil(L);
  }
  size_t off = (size_t)lua_tointeger(L, -1);
  lua_pop(L, 3);
  if (!isnum) return NULL;
  *ud = lua_touserdata(L, idx);
  return (int *)((char *)*ud + off);
}

tv_task_t *ltv_task_check(lua_State *L, int idx, const char *what) {
  void *ud;
  int *anchor = anchor_at(L, idx, &ud);
  if (!anchor) luaL_error(L, "%s: expected a task object (got %s)", what, luaL_typename(L, idx));
  if (*anchor != LUA_NOREF || ((tv_task_t *)ud)->actor.policy)
    luaL_error(L, "%s: this task object is already held by a supervisor", what);
  return ud;
}

void ltv_task_hold(lua_State *L, int idx) {
  void *ud;
  int *anchor = anchor_at(L, idx, &ud);
  lua_pushvalue(L, idx);
  *anchor = luaL_ref(L, LUA_REGISTRYINDEX);
}

void ltv_task_unhold(lua_State *L, int idx) {
  void *ud;
  int *anchor = anchor_at(L, idx, &ud);
  luaL_unref(L, LUA_REGISTRYINDEX, *anchor);
  *anchor = LUA_NOREF;
}

int ltv_add_opts_read(lua_State *L, int idx, tv_add_opts_t *o) {
  memset(o, 0, sizeof *o);
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  o->hooks = lua_getfield(L, idx, "hooks") != LUA_TNIL && lua_toboolean(L, -1);
  o->explicit_ready = lua_getfield(L, idx, "explicit_ready") != LUA_TNIL && lua_toboolean(L, -1);
  o->decide = lua_getfield(L, idx, "decide") != LUA_TNIL && lua_toboolean(L, -1);
  o->completed_ready =
      lua_getfield(L, idx, "completed_ready") != LUA_TNIL && lua_toboolean(L, -1);
  o->exempt = lua_getfield(L, idx, "exempt") != LUA_TNIL && lua_toboolean(L, -1);
  o->calendar = lua_getfield(L, idx, "calendar") != LUA_TNIL && lua_toboolean(L, -1);
  double wd = lua_getfield(L, idx, "watchdog") == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
  o->watchdog_ms = wd > 0 ? (uint32_t)(wd * 1000.0 + 0.999) : 0;
  lua_pop(L, 7);
  int rc = 0;
  if (lua_getfield(L, idx, "after") == LUA_TTABLE) {
    size_t n = lua_rawlen(L, -1);
    tv_str_t **names = n ? calloc(n, sizeof *names) : NULL;
    if (n && !names) rc = -1;
    for (size_t i = 0; names && i < n; i++) {
      size_t len;
      lua_rawgeti(L, -1, (lua_Integer)i + 1);
      const char *nm = lua_tolstring(L, -1, &len);
      if (nm && (names[o->nafter] = tv_str_new(nm, len))) o->nafter++;
      else if (nm) rc = -1;
      lua_pop(L, 1);
    }
    o->after = names;
  }
  lua_pop(L, 1);
  if (rc) ltv_add_opts_free(o);
  return rc;
}

void ltv_add_opts_free(tv_add_opts_t *o) {
  for (uint32_t i = 0; i < o->nafter; i++) tv_str_unref((tv_str_t *)o->after[i]);
  free((void *)o->after);
  o->after = NULL;
  o->nafter = 0;
}
