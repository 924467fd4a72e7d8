/* lctl.c - the controller's supervisor methods: submit a task object to a
 * slot, and read slots. Admission functions run in lua/taskvisor/init.lua,
 * which passes their answer here as a decision; arguments arrive validated.
 * Owner: the supervisor userdata owns the controller (lsup.c). */
#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"
#include "lctl.h"
#include "lheld.h"
#include "lpolicy.h"
#include "lsup.h"

static ltv_sup *check_ctl(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  if (!s->ctl) luaL_error(L, "this supervisor has no controller");
  return s;
}

/* c:_submit(slot, decision, label, why, name, task, policy): true, or nil and
 * "CODE: reason" (ControllerRejected was published with that reason). */
static int ctl_submit(lua_State *L) {
  ltv_sup *s = check_ctl(L);
  tv_ctl_submission_t sub;
  sub.slot = luaL_checklstring(L, 2, &sub.slot_len);
  int admit = tv_admit_parse(luaL_checkstring(L, 3));
  if (admit < 0) return luaL_argerror(L, 3, "unknown decision");
  sub.admit = (tv_admit_t)admit;
  sub.label = luaL_checkstring(L, 4);
  sub.why = luaL_optstring(L, 5, NULL);
  sub.name = luaL_checklstring(L, 6, &sub.name_len);
  sub.task = ltv_task_check(L, 7, "sup:submit");
  tv_policy_t p;
  ltv_policy_read(L, 8, &p);
  sub.policy = &p;
  ltv_task_hold(L, 7); /* a queued task is held by the controller */
  tv_str_t *reason = NULL;
  int rc = tv_ctl_submit(s->ctl, &sub, &reason);
  if (rc != 0) {
    ltv_task_unhold(L, 7);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", tv_err_name(rc), reason ? reason->s : tv_strerror(rc));
    tv_str_unref(reason);
    return 2;
  }
  ltv_sup_anchor(L, s);
  lua_pushboolean(L, 1);
  return 1;
}

static void set_str(lua_State *L, const char *k, const tv_str_t *v) {
  if (!v) return;
  lua_pushlstring(L, v->s, v->len);
  lua_setfield(L, -2, k);
}

/* A fresh table describing a slot (NULL: idle, nothing queued). */
static void push_slot(lua_State *L, ltv_sup *s, const tv_slot_t *sl, const char *name,
                      size_t len) {
  lua_createtable(L, 0, 6);
  lua_pushlstring(L, sl ? sl->name->s : name, sl ? sl->name->len : len);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, tv_slot_status_name(sl ? sl->status : TV_SLOT_IDLE));
  lua_setfield(L, -2, "status");
  lua_pushinteger(L, sl ? sl->depth : 0);
  lua_setfield(L, -2, "queue_depth");
  double running_for = 0;
  if (sl && sl->running) {
    set_str(L, "running", sl->running);
    running_for = (double)(tv_sched_now(s->sup->sched) - sl->started) / 1000.0;
  }
  lua_pushnumber(L, running_for);
  lua_setfield(L, -2, "running_for");
  lua_createtable(L, sl ? (int)sl->depth : 0, 0);
  int i = 0;
  for (const tv_ctl_req_t *r = sl ? sl->head : NULL; r; r = r->next) {
    lua_pushlstring(L, r->name->s, r->name->len);
    lua_rawseti(L, -2, ++i);
  }
  lua_setfield(L, -2, "queued");
}

/* c:slot(name): the slot's state, also for an idle one. */
static int ctl_slot(lua_State *L) {
  ltv_sup *s = check_ctl(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  push_slot(L, s, tv_ctl_slot(s->ctl, name, len), name, len);
  return 1;
}

/* c:slots(): every slot that is not idle, sorted by name. */
static int ctl_slots(lua_State *L) {
  ltv_sup *s = check_ctl(L);
  uint32_t n;
  tv_slot_t **all = tv_ctl_slots(s->ctl, &n);
  if (!all) return luaL_error(L, "not enough memory");
  lua_createtable(L, (int)n, 0);
  for (uint32_t i = 0; i < n; i++) {
    push_slot(L, s, all[i], NULL, 0);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free(all);
  return 1;
}

static int ctl_has(lua_State *L) {
  lua_pushboolean(L, ltv_sup_check(L)->ctl != NULL);
  return 1;
}

void ltv_ctl_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"_submit", ctl_submit},
                                     {"slot", ctl_slot},
                                     {"slots", ctl_slots},
                                     {"has_controller", ctl_has},
                                     {NULL, NULL}};
  luaL_getmetatable(L, LTV_SUP);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}
