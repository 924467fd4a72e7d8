/* lheld.c - task objects of every kind, as the supervisor and the controller
 * take them: recognise one, and anchor it while the core holds it; and the
 * option tables they are built from. */
#include <stdlib.h>
#include <string.h>

#include "ltv.h"

static const ltv_task_kind *const kinds[] = {&ltv_kind_lua, &ltv_kind_process,
                                             &ltv_kind_group};

static int *anchor_of(void *ud, const ltv_task_kind *k) {
  return (int *)((char *)ud + k->anchor_off);
}

static const ltv_task_kind *kind_at(lua_State *L, int idx, void **ud) {
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
    if ((*ud = luaL_testudata(L, idx, kinds[i]->tname))) return kinds[i];
  return NULL;
}

tv_task_t *ltv_task_check(lua_State *L, int idx, const char *what) {
  void *ud;
  const ltv_task_kind *k = kind_at(L, idx, &ud);
  if (!k) luaL_error(L, "%s: expected a task object (got %s)", what, luaL_typename(L, idx));
  if (*anchor_of(ud, k) != LUA_NOREF || ((tv_task_t *)ud)->actor.policy)
    luaL_error(L, "%s: this task object is already held by a supervisor", what);
  return ud;
}

void ltv_task_hold(lua_State *L, int idx) {
  void *ud;
  const ltv_task_kind *k = kind_at(L, idx, &ud);
  lua_pushvalue(L, idx);
  *anchor_of(ud, k) = luaL_ref(L, LUA_REGISTRYINDEX);
}

void ltv_task_unhold(lua_State *L, int idx) {
  void *ud;
  const ltv_task_kind *k = kind_at(L, idx, &ud);
  int *anchor = anchor_of(ud, k);
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
  lua_pop(L, 4);
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

double ltv_opt_number(lua_State *L, int t, const char *k, double def) {
  double v = lua_getfield(L, t, k) == LUA_TNUMBER ? lua_tonumber(L, -1) : def;
  lua_pop(L, 1);
  return v;
}

uint64_t ltv_opt_ms(lua_State *L, int t, const char *k, double def_secs) {
  return tv_ms_ceil(tv_secs_to_ns(ltv_opt_number(L, t, k, def_secs)));
}

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
}
