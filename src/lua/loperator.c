/* loperator.c - the binding of core/supervision/operator.h: the verbs
 * lua/taskvisor/operator.lua wraps (sup:stop_task, start_task, delete,
 * update) and the "gone" callback lua/taskvisor/reload.lua restarts a task
 * with. Arguments arrive validated; errors are "CODE: message". */
#include <lauxlib.h>
#include <stdio.h>

#include "core/base/error.h"
#include "core/supervision/group.h"
#include "core/supervision/operator.h"
#include "lbase.h"
#include "lfiber.h"
#include "loperator.h"
#include "lpolicy.h"
#include "lsup.h"

#define LTV_GONE "taskvisor.gone"

static int op_error(lua_State *L, int rc, const char *name) {
  switch (rc) {
    case TV_ENOENT: return ltv_push_error(L, rc, "no task named '%s'", name);
    case TV_ESHUTDOWN: return ltv_push_error(L, rc, "supervisor is shutting down or has stopped");
    case TV_ENOMEM: return ltv_push_error(L, rc, "not enough memory");
    default: return ltv_push_error(L, rc, "task '%s'", name);
  }
}

/* sup:_op_stop(name) / sup:_op_start(name): true, or nil, "CODE: ...". */
static int op_stop(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  int rc = tv_op_stop(s->sup, name, len);
  if (rc == TV_EEXIST) return ltv_push_error(L, rc, "task '%s' is already stopped", name);
  if (rc == TV_EBUSY) return ltv_push_error(L, rc, "task '%s' is being removed", name);
  if (rc) return op_error(L, rc, name);
  lua_pushboolean(L, 1);
  return 1;
}

static int op_start(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  int rc = tv_op_start(s->sup, name, len);
  if (rc == TV_EINVAL)
    return ltv_push_error(L, rc, "task '%s' is not stopped by an operator (it is %s)", name,
                          tv_actor_state_name(tv_sup_find(s->sup, name, len)->state));
  if (rc == TV_EBUSY)
    return ltv_push_error(L, rc, "task '%s' is still stopping (or its group is restarting its "
                          "children); start it once it has stopped", name);
  if (rc) return op_error(L, rc, name);
  lua_pushboolean(L, 1);
  return 1;
}

/* sup:_op_restart(name): true, or nil, "CODE: ...". */
static int op_restart(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  int rc = tv_op_restart(s->sup, name, len);
  if (rc == TV_EBUSY)
    return ltv_push_error(L, rc, "task '%s' is being removed (or its group is restarting or "
                          "stopping its children)", name);
  if (rc) return op_error(L, rc, name);
  lua_pushboolean(L, 1);
  return 1;
}

/* sup:_op_state(name): nil (no such task), or 0 (not operator-stopped), 1
 * (stopped), 2 (stopping), and whether it is a group's child, and its actor
 * state's name. */
static int op_state(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  tv_actor_t *a = tv_sup_find(s->sup, name, len);
  if (!a) return 0;
  lua_pushinteger(L, tv_op_stopped(a));
  lua_pushboolean(L, a->ext && a->ext->parent && a->ext->parent->owner);
  lua_pushstring(L, tv_actor_state_name(a->state));
  return 3;
}

/* sup:_op_update(name, policy): swaps the policy in place. */
static int op_update(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  tv_policy_t p;
  ltv_policy_read(L, 3, &p);
  int rc = tv_op_update(s->sup, name, len, &p);
  if (rc) return op_error(L, rc, name);
  lua_pushboolean(L, 1);
  return 1;
}

/* sup:_remake_child(group, index, keep): a reload changed child `index`
 * (1-based) of the running group: it is made afresh (group.h). */
static int remake_child(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  lua_Integer i = luaL_checkinteger(L, 3);
  tv_actor_t *a = tv_sup_find(s->sup, name, len);
  if (!a) return op_error(L, TV_ENOENT, name);
  tv_group_t *g = tv_group_of(tv_container_of(a, tv_task_t, actor));
  if (!g) return ltv_push_error(L, TV_ENOTSUP, "task '%s' is not a group", name);
  if (i < 1 || (uint64_t)i > g->n) return luaL_argerror(L, 3, "no such child");
  if (tv_group_remake_child(g, (uint32_t)(i - 1), lua_toboolean(L, 4)) != 0)
    return ltv_push_error(L, TV_EBUSY, "group '%s' is starting, restarting or stopping its "
                          "children", name);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- gone: a function called once a task has been removed --------------------- */

/* Owner: the userdata; anchored (registry) while its watch is on, which the
 * function (its user value) outlives. */
typedef struct gone {
  tv_op_gone_t g;
  ltv_ctx *ctx;
  int anchor;
} gone;

static void unanchor(gone *x, lua_State *L) {
  if (x->anchor == LUA_NOREF) return;
  luaL_unref(L, LUA_REGISTRYINDEX, x->anchor);
  x->anchor = LUA_NOREF;
}

static void on_gone(tv_op_gone_t *g) {
  gone *x = tv_container_of(g, gone, g);
  lua_State *L = x->ctx->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, x->anchor);
  lua_getiuservalue(L, -1, 1);
  lua_remove(L, -2);
  unanchor(x, L); /* (the function is on the stack) */
  if (ltv_pcall_bounded(x->ctx, 0, 0, 0) != LUA_OK) { /* the caller's own bug: say it */
    fprintf(stderr, "taskvisor: after a task was gone: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

/* sup:_when_gone(name, fn): fn() runs from the loop once task `name` is gone
 * (after its TaskRemoved). true, or nil, "ENOENT: ...". */
static int when_gone(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  gone *x = lua_newuserdatauv(L, sizeof *x, 1);
  tv_op_gone_init(&x->g, on_gone);
  x->ctx = s->ctx;
  x->anchor = LUA_NOREF;
  luaL_setmetatable(L, LTV_GONE);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, 1);
  if (tv_op_when_gone(s->sup, name, len, &x->g) != 0)
    return op_error(L, TV_ENOENT, name);
  x->anchor = luaL_ref(L, LUA_REGISTRYINDEX); /* pops it */
  lua_pushboolean(L, 1);
  return 1;
}

static int gone_gc(lua_State *L) {
  gone *x = luaL_checkudata(L, 1, LTV_GONE);
  tv_op_gone_cancel(&x->g);
  return 0;
}

void ltv_operator_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"_op_stop", op_stop},     {"_op_start", op_start},
                                     {"_op_restart", op_restart},
                                     {"_op_state", op_state},   {"_op_update", op_update},
                                     {"_when_gone", when_gone}, {"_remake_child", remake_child},
                                     {NULL, NULL}};
  luaL_newmetatable(L, LTV_GONE);
  lua_pushcfunction(L, gone_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_getmetatable(L, LTV_SUP);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}
