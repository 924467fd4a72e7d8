/* lgroup.c - group task objects: core.group(...) builds a tv_group_t whose
 * children are made, per attempt, by a Lua factory (lua/taskvisor/group.lua)
 * returning a fresh task object, its name and its resolved policy.
 * Owner: the userdata; anchored in the registry while the core holds it
 * (lheld.c), until release(). User value 1 = the factory. Each child object
 * is held like any task the supervisor takes, and released its own way. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"
#include "core/supervision/group.h"
#include "lbase.h"
#include "lgroup.h"
#include "lheld.h"
#include "lpolicy.h"

#define LTV_GROUP "taskvisor.group"

typedef struct ltv_group {
  tv_group_t g; /* first: the object starts with its tv_task_t */
  ltv_ctx *ctx;
  int anchor;       /* while the core holds it */
  int pending;      /* the child just made, until the next make (for unmake) */
  uint8_t orphaned; /* __gc ran while still held (lua_close) */
} ltv_group;

static void drop_pending(ltv_group *lg) {
  luaL_unref(lg->ctx->L, LUA_REGISTRYINDEX, lg->pending);
  lg->pending = LUA_NOREF;
}

/* ---- the factory trampoline ---------------------------------------------------- */

typedef struct making {
  ltv_group *lg;
  uint32_t index;
  tv_group_child_t *c;
} making;

/* Protected on our thread: [making] -> the child, held, in m->c; raises the
 * factory's error. */
static int call_factory(lua_State *L) {
  making *m = lua_touserdata(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, m->lg->anchor);
  lua_getiuservalue(L, -1, 1);
  lua_pushinteger(L, (lua_Integer)m->index + 1);
  lua_call(L, 1, 4); /* task, name, policy, add options | nil, err */
  if (lua_isnil(L, -4)) return luaL_error(L, "%s", luaL_optstring(L, -3, "no task"));
  int task = lua_absindex(L, -4), pol = lua_absindex(L, -2);
  size_t len;
  const char *name = luaL_checklstring(L, -3, &len);
  if (ltv_add_opts_read(L, lua_absindex(L, -1), &m->c->opts) != 0)
    return luaL_error(L, "not enough memory");
  tv_task_t *t = ltv_task_check(L, task, "a group's child");
  ltv_policy_read(L, pol, &m->c->policy);
  m->c->name = tv_str_new(name, len);
  if (!m->c->name) return luaL_error(L, "not enough memory");
  ltv_task_hold(L, task);
  m->c->task = t;
  lua_pushvalue(L, task);
  m->lg->pending = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

static int group_make(tv_group_t *g, uint32_t index, tv_group_child_t *c, tv_str_t **err) {
  ltv_group *lg = (ltv_group *)g;
  lua_State *L = lg->ctx->L;
  int top = lua_gettop(L);
  drop_pending(lg);
  making m = {lg, index, c};
  lua_pushcfunction(L, call_factory);
  lua_pushlightuserdata(L, &m);
  int rc = lua_pcall(L, 1, 0, 0);
  if (rc != LUA_OK) {
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    *err = msg ? tv_str_new(msg, len) : tv_str_printf("the child factory failed");
    tv_str_unref(c->name);
    c->name = NULL;
  }
  lua_settop(L, top);
  return rc == LUA_OK ? 0 : -1;
}

static void group_unmake(tv_group_t *g, tv_task_t *child) {
  ltv_group *lg = (ltv_group *)g;
  lua_State *L = lg->ctx->L;
  (void)child;
  if (lg->pending == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lg->pending);
  ltv_task_unhold(L, -1);
  lua_pop(L, 1);
  drop_pending(lg);
}

static void group_release(tv_group_t *g) {
  ltv_group *lg = (ltv_group *)g;
  drop_pending(lg);
  luaL_unref(lg->ctx->L, LUA_REGISTRYINDEX, lg->anchor);
  lg->anchor = LUA_NOREF;
  if (lg->orphaned) tv_group_fini(g);
}

static const tv_group_ops_t group_ops = {group_make, group_unmake, group_release};

/* Reads waits = { { child, via, name }, ... } (child 1-based) into the group.
 * Nothing here can raise (strings only, no conversions; a few stack slots
 * within LUA_MINSTACK), so the array cannot leak. */
static int read_waits(lua_State *L, int idx, tv_group_t *g) {
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  size_t n = lua_rawlen(L, idx);
  if (!n) return 0;
  if (n > UINT32_MAX / sizeof(tv_group_wait_t)) return TV_ENOMEM;
  tv_group_wait_t *w = calloc(n, sizeof *w);
  if (!w) return TV_ENOMEM;
  int rc = 0;
  uint32_t k = 0;
  for (size_t i = 1; i <= n && !rc; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i);
    if (lua_type(L, -1) == LUA_TTABLE) {
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      lua_rawgeti(L, -3, 3);
      lua_Integer child = lua_isinteger(L, -3) ? lua_tointeger(L, -3) : 0;
      size_t vl = 0, nl = 0;
      const char *via = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &vl) : NULL;
      const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &nl) : NULL;
      if (child >= 1 && child <= (lua_Integer)g->n && via && name) {
        w[k].child = (uint32_t)(child - 1);
        w[k].via = tv_str_new(via, vl);
        w[k].name = tv_str_new(name, nl);
        if (!w[k].via || !w[k].name) rc = TV_ENOMEM;
        k++;
      }
      lua_pop(L, 3);
    }
    lua_pop(L, 1);
  }
  if (!rc) rc = tv_group_set_waits(g, w, k);
  for (uint32_t i = 0; i < k; i++) {
    tv_str_unref(w[i].via);
    tv_str_unref(w[i].name);
  }
  free(w);
  return rc;
}

/* auto_shutdown (a name, default "never") and which children are significant
 * (a list of booleans by child): validated by group.lua. */
static void read_auto_shutdown(lua_State *L, int mode_idx, int sig_idx, tv_group_t *g) {
  static const char *const modes[] = {"never", "any_significant", "all_significant", NULL};
  int mode = luaL_checkoption(L, mode_idx, "never", modes);
  uint8_t sig[64];
  uint8_t *flags = g->n <= sizeof sig ? sig : lua_newuserdatauv(L, g->n, 0); /* collected */
  for (uint32_t i = 0; i < g->n; i++) {
    flags[i] = 0;
    if (lua_type(L, sig_idx) == LUA_TTABLE) {
      lua_rawgeti(L, sig_idx, (lua_Integer)i + 1);
      flags[i] = (uint8_t)lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
  }
  tv_group_set_auto_shutdown(g, mode, flags);
  if (flags != sig) lua_pop(L, 1);
}

/* core.group(strategy, n, factory, max_restarts, within, on_exhausted, cooldown
 * [, waits [, auto_shutdown, significant [, template]]]): arguments validated by group.lua (max_restarts nil: no limit);
 * factory(i) -> task, name, policy; waits: what the children's trees start after outside the group. */
int ltv_group_new(lua_State *L) {
  ltv_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
  int strategy = tv_strategy_parse(luaL_checkstring(L, 1));
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  int limited = !lua_isnil(L, 4); /* nil: no limit; 0: no restart allowed (OTP) */
  lua_Integer max = limited ? luaL_checkinteger(L, 4) : 0;
  static const char *const actions[] = {"give_up", "escalate", "cooldown", NULL};
  tv_budget_cfg_t b = {(uint32_t)max, (uint8_t)luaL_checkoption(L, 6, "escalate", actions),
                       tv_secs_to_ns(luaL_optnumber(L, 5, 0)),
                       tv_secs_to_ns(luaL_optnumber(L, 7, 0)), (uint8_t)limited};
  if (strategy < 0) return luaL_argerror(L, 1, "unknown strategy");
  if (n < 0 || n > 100000) return luaL_argerror(L, 2, "bad number of children");
  if (max < 0 || max > TV_BUDGET_MAX) return luaL_argerror(L, 4, "bad max_restarts");
  ltv_group *lg = lua_newuserdatauv(L, sizeof *lg, 1);
  memset(lg, 0, sizeof *lg);
  lg->ctx = ctx;
  lg->anchor = lg->pending = LUA_NOREF;
  if (tv_group_init(&lg->g, &group_ops, (tv_strategy_t)strategy, (uint32_t)n, &b) != 0)
    return luaL_error(L, "not enough memory");
  luaL_setmetatable(L, LTV_GROUP); /* from here __gc frees what init allocated */
  if (read_waits(L, 8, &lg->g) != 0) return luaL_error(L, "not enough memory");
  read_auto_shutdown(L, 9, 10, &lg->g);
  if (lua_toboolean(L, 11)) tv_group_set_template(&lg->g);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

/* g:add_child(significant): a new child slot on the running group (its make
 * asks the factory for that index): the 1-based index, or nil, "CODE: ...". */
static int group_add_child(lua_State *L) {
  ltv_group *lg = luaL_checkudata(L, 1, LTV_GROUP);
  uint32_t index = 0;
  tv_str_t *err = NULL;
  int rc = tv_group_add_child(&lg->g, (uint8_t)lua_toboolean(L, 2), &index, &err);
  if (rc == 0) {
    lua_pushinteger(L, (lua_Integer)index + 1);
    return 1;
  }
  lua_pushnil(L);
  if (err) lua_pushlstring(L, err->s, err->len);
  else if (rc == TV_ESHUTDOWN) lua_pushliteral(L, "ESHUTDOWN: the group is stopping");
  else if (rc == TV_EFULL) lua_pushliteral(L, "EFULL: a group holds at most 1000000 children");
  else lua_pushfstring(L, "%s: cannot add the child", tv_err_name(rc));
  tv_str_unref(err);
  return 2;
}

/* g:remove_child(index): true, or nil, "ENOENT: ...". */
static int group_remove_child(lua_State *L) {
  ltv_group *lg = luaL_checkudata(L, 1, LTV_GROUP);
  lua_Integer i = luaL_checkinteger(L, 2);
  if (i < 1 || i > (lua_Integer)lg->g.n || tv_group_remove_child(&lg->g, (uint32_t)(i - 1)) != 0)
    return ltv_push_error(L, TV_ENOENT, "no such child");
  lua_pushboolean(L, 1);
  return 1;
}

int ltv_group_push(lua_State *L, tv_task_t *t) {
  ltv_group *lg = (ltv_group *)tv_group_of(t);
  if (!lg || lg->anchor == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lg->anchor);
  return 1;
}

static int group_gc(lua_State *L) {
  ltv_group *lg = luaL_checkudata(L, 1, LTV_GROUP);
  if (lg->g.base.actor.policy) /* still held: only possible while lua_close runs */
    lg->orphaned = 1;
  else
    tv_group_fini(&lg->g);
  return 0;
}

static int group_tostring(lua_State *L) {
  ltv_group *lg = luaL_checkudata(L, 1, LTV_GROUP);
  const tv_actor_t *a = &lg->g.base.actor;
  lua_pushfstring(L, "taskvisor.group(%s, %s, %d children)", a->name ? a->name->s : "?",
                  tv_strategy_name(lg->g.strategy), (int)lg->g.n);
  return 1;
}

void ltv_group_open(lua_State *L) {
  static const luaL_Reg meta[] = {{"__gc", group_gc}, {"__tostring", group_tostring}, {NULL, NULL}};
  static const luaL_Reg methods[] = {{"add_child", group_add_child},
                                     {"remove_child", group_remove_child}, {NULL, NULL}};
  luaL_newmetatable(L, LTV_GROUP); /* sets __name */
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  ltv_held_kind(L, offsetof(ltv_group, anchor));
  lua_pop(L, 1);
}
