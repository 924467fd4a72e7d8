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

static int name_cmp(const char *s, size_t len, const tv_str_t *b) {
  size_t n = len < b->len ? len : b->len;
  int c = memcmp(s, b->s, n);
  return c ? c : (len > b->len) - (len < b->len);
}

static int by_name(const void *x, const void *y) {
  const tv_str_t *a = ((const tvc_task_t *)x)->name;
  return name_cmp(a->s, a->len, ((const tvc_task_t *)y)->name);
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

/* The registered task `name` (its index), or -1. */
static long find(const reg_t *r, const char *s, size_t len) {
  long lo = 0, hi = (long)r->n - 1;
  while (lo <= hi) {
    long mid = lo + (hi - lo) / 2;
    int c = name_cmp(s, len, r->v[mid].name);
    if (!c) return mid;
    if (c < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return -1;
}

int tvc_tasks_list(lua_State *L, const tv_sup_t *sup, int order, int only, double started,
                   tvc_tasks_t *out, lua_Integer *unknown) {
  const tv_clock_t *c = sup->sched->clock;
  *out = (tvc_tasks_t){NULL, 0, tv_clock_wall(c), tv_clock_now(c)};
  *unknown = 0;
  lua_Integer norder = order ? luaL_len(L, order) : 0;
  uint32_t nreg = sup->reg.count;
  reg_t r = {nreg ? malloc(nreg * sizeof *r.v) : NULL, 0};
  uint8_t *used = nreg ? calloc(nreg, 1) : NULL;
  out->v = malloc(((size_t)norder + nreg + 1) * sizeof *out->v);
  if ((nreg && (!r.v || !used)) || !out->v) goto nomem;
  tv_sup_each_status(sup, collect, &r);
  qsort(r.v, r.n, sizeof *r.v, by_name);
  for (lua_Integer k = 1; k <= norder; k++) {
    lua_rawgeti(L, order, k);
    size_t len;
    const char *name = lua_tolstring(L, -1, &len);
    lua_pop(L, 1); /* (the array still holds the string) */
    if (!name) continue;
    tvc_task_t *t = &out->v[out->n];
    long i = find(&r, name, len);
    if (i >= 0) {
      used[i] = 1;
      t->st = r.v[i].st;
    } else if (!tv_sup_status(sup, name, len, &t->st)) {
      if (only) {
        *unknown = k;
        goto fail;
      }
      t->st = (tv_status_t){0}; /* a config task not started (yet) */
      t->st.state = TV_ST_STOPPED;
      t->st.since = out->now - (uint64_t)((out->wall - started) * 1000.0);
    }
    t->name = tv_str_new(name, len);
    if (!t->name) goto nomem;
    t->st.name = t->name;
    out->n++;
  }
  for (uint32_t i = 0; i < r.n && !only; i++) {
    if (used[i]) continue;
    out->v[out->n] = r.v[i];
    tv_str_ref(r.v[i].name);
    out->n++;
  }
  free(r.v);
  free(used);
  return 0;
nomem:
  *unknown = 0;
fail:
  free(r.v);
  free(used);
  tvc_tasks_free(out);
  return -1;
}

void tvc_tasks_free(tvc_tasks_t *t) {
  for (uint32_t i = 0; i < t->n; i++) tv_str_unref(t->v[i].name);
  free(t->v);
  t->v = NULL;
  t->n = 0;
}
