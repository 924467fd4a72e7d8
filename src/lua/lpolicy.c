/* lpolicy.c - restart policies and restart budgets from Lua option tables
 * (validated by lua/taskvisor/init.lua), and core.policy: a policy converted
 * once and shared by every spec that uses an equal one. */
#include <lauxlib.h>
#include <string.h>

#include "core/supervision/policy.h"
#include "lbase.h"
#include "lpolicy.h"

static int field_enum(lua_State *L, int t, const char *k, int (*parse)(const char *), int def) {
  int v = def;
  if (lua_getfield(L, t, k) == LUA_TSTRING) v = parse(lua_tostring(L, -1));
  lua_pop(L, 1);
  if (v < 0) luaL_error(L, "unknown %s", k);
  return v;
}

static int exhaust_parse(const char *name) {
  if (strcmp(name, "give_up") == 0) return TV_EXHAUST_GIVE_UP;
  if (strcmp(name, "escalate") == 0) return TV_EXHAUST_ESCALATE;
  if (strcmp(name, "cooldown") == 0) return TV_EXHAUST_COOLDOWN;
  return -1;
}

void ltv_budget_read(lua_State *L, int idx, tv_budget_cfg_t *b, int def_action) {
  /* a max_restarts of 0 is OTP's "no restart allowed"; none at all is no budget */
  lua_getfield(L, idx, "max_restarts");
  b->limited = lua_type(L, -1) == LUA_TNUMBER;
  lua_pop(L, 1);
  b->max = (uint32_t)ltv_opt_number(L, idx, "max_restarts", 0);
  b->within_ns = tv_secs_to_ns(ltv_opt_number(L, idx, "within", 0));
  b->cooldown_ns = tv_secs_to_ns(ltv_opt_number(L, idx, "cooldown", 0));
  b->action = (uint8_t)field_enum(L, idx, "on_exhausted", exhaust_parse, def_action);
}

#define LTV_POLICY "taskvisor.policy"
#define LTV_POLICIES "taskvisor.policies"

/* core.policy(table): the policy converted once (a userdata sup:add takes in
 * place of the table). Equal policies share one userdata, kept in a table
 * with weak values keyed by the policy's bytes: specs made by the hundred
 * thousand hold a handful of policies, not one object each (a userdata per
 * spec doubled the garbage collector's work in bench/controller.lua). */
int ltv_policy_new(lua_State *L) {
  tv_policy_t p, key;
  ltv_policy_read(L, 1, &p);
  tv_policy_canonical(&key, &p);
  if (luaL_getsubtable(L, LUA_REGISTRYINDEX, LTV_POLICIES) == 0) { /* made now */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
  /* [1] is the last one made: specs made in a loop share it, and finding
   * it makes no garbage (the key string below is some) */
  const tv_policy_t *last = lua_rawgeti(L, -1, 1) == LUA_TUSERDATA ? lua_touserdata(L, -1) : NULL;
  if (last && tv_policy_equal(last, &p)) return 1;
  lua_pop(L, 1);
  lua_pushlstring(L, (const char *)&key, sizeof key);
  if (lua_rawget(L, -2) == LUA_TUSERDATA) {
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, 1);
    return 1;
  }
  lua_pop(L, 1);
  tv_policy_t *u = lua_newuserdatauv(L, sizeof *u, 0);
  *u = p;
  if (luaL_newmetatable(L, LTV_POLICY)) { /* sets __name */
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);
  lua_pushlstring(L, (const char *)&key, sizeof key);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, 1);
  return 1;
}

void ltv_policy_read(lua_State *L, int idx, tv_policy_t *p) {
  const tv_policy_t *u = luaL_testudata(L, idx, LTV_POLICY);
  if (u) {
    *p = *u;
    return;
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  tv_policy_default(p);
  p->restart = field_enum(L, idx, "restart", tv_restart_parse, p->restart);
  p->backoff.jitter = field_enum(L, idx, "jitter", tv_jitter_parse, p->backoff.jitter);
  p->backoff.first = ltv_opt_number(L, idx, "first", p->backoff.first);
  p->backoff.max = ltv_opt_number(L, idx, "max", p->backoff.max);
  p->backoff.factor = ltv_opt_number(L, idx, "factor", p->backoff.factor);
  p->interval_ns = tv_secs_to_ns(ltv_opt_number(L, idx, "interval", 0));
  p->timeout_ns = tv_secs_to_ns(ltv_opt_number(L, idx, "timeout", 0));
  p->max_retries = (uint32_t)ltv_opt_number(L, idx, "max_retries", 0);
  p->reset_after_ns = tv_secs_to_ns(ltv_opt_number(L, idx, "reset_after", 0));
  p->every_ns = tv_secs_to_ns(ltv_opt_number(L, idx, "every", 0));
  ltv_budget_read(L, idx, &p->budget, TV_EXHAUST_GIVE_UP);
  /* shutdown: seconds (0 = brutal_kill, as group.lua/lifecycle.lua resolve it); absent = infinity */
  if (lua_getfield(L, idx, "shutdown") == LUA_TNUMBER)
    p->shutdown_ns = tv_secs_to_ns(lua_tonumber(L, -1));
  lua_pop(L, 1);
  lua_getfield(L, idx, "significant");
  p->significant = (uint8_t)lua_toboolean(L, -1);
  lua_pop(L, 1);
}
