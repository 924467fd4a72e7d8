/* tasklist.c - the tasks of a control API view (tasklist.h). */
#include "tasklist.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "core/supervision/supervisor.h"
#include "lsup.h"

const tv_sup_t *tvc_sup_arg(lua_State *L) {
  if (lua_istable(L, 1)) { /* a taskvisor.supervisor object: its core */
    lua_getfield(L, 1, "core");
    lua_replace(L, 1);
  }
  ltv_sup *s = ltv_sup_check(L);
  if (!s->sup) luaL_error(L, "the supervisor is gone");
  return s->sup;
}

static int by_name(const void *x, const void *y) {
  return tv_str_cmp(((const tvc_task_t *)x)->name, ((const tvc_task_t *)y)->name);
}

typedef struct reg {
  tvc_task_t *v;
  uint32_t n;
} reg_t;

static int collect(void *arg, const tv_status_t *st) {
  reg_t *r = arg;
  tvc_task_t *t = &r->v[r->n++];
  t->name = (tv_str_t *)st->name; /* borrowed here; a reference once listed */
  t->st = *st;
  return 0;
}

static int by_task_name(const void *x, const void *y) {
  return tv_str_cmp((*(const tvc_task_t *const *)x)->name, (*(const tvc_task_t *const *)y)->name);
}

/* Whether `name` is among the sorted listed tasks `v` (n). */
static int listed(tvc_task_t *const *v, uint32_t n, const tv_str_t *name) {
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = tv_str_cmp(name, v[mid]->name);
    if (!c) return 1;
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return 0;
}

/* Appends the registered tasks not listed yet, by name. 0 or -1 (memory). */
static int add_others(const tv_sup_t *sup, tvc_tasks_t *out) {
  uint32_t nreg = sup->reg.count, nlisted = out->n;
  reg_t r = {malloc(nreg * sizeof *r.v), 0};
  tvc_task_t **seen = nlisted ? malloc(nlisted * sizeof *seen) : NULL;
  if (!r.v || (nlisted && !seen)) {
    free(r.v);
    free(seen);
    return -1;
  }
  tv_sup_each_status(sup, collect, &r);
  qsort(r.v, r.n, sizeof *r.v, by_name);
  for (uint32_t i = 0; i < nlisted; i++) seen[i] = &out->v[i];
  if (nlisted) qsort(seen, nlisted, sizeof *seen, by_task_name);
  for (uint32_t i = 0; i < r.n; i++) {
    if (nlisted && listed(seen, nlisted, r.v[i].name)) continue;
    out->v[out->n] = r.v[i];
    tv_str_ref(r.v[i].name);
    out->n++;
  }
  free(r.v);
  free(seen);
  return 0;
}

/* Whether `name` is a key of the table at stack index `config` (0: none). */
static int in_config(lua_State *L, int config, const char *name, size_t len) {
  if (!config) return 0;
  lua_pushlstring(L, name, len);
  int found = lua_rawget(L, config) != LUA_TNIL;
  lua_pop(L, 1);
  return found;
}

int tvc_tasks_list(lua_State *L, const tv_sup_t *sup, int order, int only, int config,
                   double started, tvc_tasks_t *out, lua_Integer *unknown) {
  const tv_clock_t *c = sup->sched->clock;
  *out = (tvc_tasks_t){NULL, 0, tv_clock_wall(c), tv_clock_now(c)};
  *unknown = 0;
  lua_Integer norder = order ? luaL_len(L, order) : 0;
  uint32_t nreg = sup->reg.count, hits = 0;
  out->v = malloc(((size_t)norder + nreg + 1) * sizeof *out->v);
  if (!out->v) return -1;
  for (lua_Integer k = 1; k <= norder; k++) {
    lua_rawgeti(L, order, k);
    size_t len;
    const char *name = lua_tolstring(L, -1, &len);
    lua_pop(L, 1); /* (the array still holds the string) */
    if (!name) continue;
    tvc_task_t *t = &out->v[out->n];
    int found = tv_sup_status(sup, name, len, &t->st);
    if (found) {
      hits += found == 1;
      t->name = tv_str_ref((tv_str_t *)t->st.name);
    } else if (only && !in_config(L, config, name, len)) {
      *unknown = k;
      tvc_tasks_free(out);
      return -1;
    } else {
      t->st = (tv_status_t){0}; /* a config task not started (yet) */
      t->st.state = TV_ST_STOPPED;
      t->st.since = out->now - (uint64_t)((out->wall - started) * 1000.0);
      t->name = tv_str_new(name, len);
      if (!t->name) {
        tvc_tasks_free(out);
        return -1;
      }
      t->st.name = t->name;
    }
    out->n++;
  }
  /* (the config's names are distinct: when each registered task was one of
   * them, there is nothing else to list) */
  if (!only && hits < nreg && add_others(sup, out)) {
    tvc_tasks_free(out);
    return -1;
  }
  return 0;
}

void tvc_tasks_free(tvc_tasks_t *t) {
  for (uint32_t i = 0; i < t->n; i++) tv_str_unref(t->v[i].name);
  free(t->v);
  t->v = NULL;
  t->n = 0;
}
