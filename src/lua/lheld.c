/* lheld.c - task objects of every kind, as the supervisor and the controller
 * take them: recognise one, and anchor it while the core holds it; and the
 * option tables they are built from. */
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

void ltv_policy_read(lua_State *L, int idx, tv_policy_t *p) {
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
