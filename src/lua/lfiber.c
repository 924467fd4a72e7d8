/* lfiber.c - supervised coroutines on the loop (the OpenResty light-thread
 * model): every blocking primitive arms one timer/watch, records what it waits
 * for and yields as its last statement; any wake-up is a deferred resume from a
 * loop callback, through our own thread (never a stored coroutine state). */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "ltv.h"

typedef struct fiber_watch {
  tv_sup_watch_t w;
  ltv_fiber *f;
} fiber_watch;

static void drop_watch(ltv_fiber *f) {
  if (!f->watch) return;
  tv_sup_unwatch(f->watch);
  free(ltv_container_of(f->watch, fiber_watch, w));
  f->watch = NULL;
}

/* Wake f on the next loop pass with `result`. */
static void wake_later(ltv_fiber *f, int result) {
  tv_timer_stop(&f->ctx->sched, &f->timer);
  drop_watch(f);
  f->result = (uint8_t)result;
  f->wait = LTV_WAIT_YIELD;
  tv_work_defer(&f->ctx->sched, &f->work, TV_LANE_NEXT);
}

static void on_timer(tv_timer_t *t) {
  ltv_fiber *f = ltv_container_of(t, ltv_fiber, timer);
  if (f->wait == LTV_WAIT_REMOVED) {
    drop_watch(f);
    f->result = LTV_WAKE_TIMEOUT;
  } else {
    f->result = LTV_WAKE_OK;
  }
  ltv_fiber_resume(f, 0);
}

static void on_work(tv_work_t *w) {
  ltv_fiber_resume(ltv_container_of(w, ltv_fiber, work), 0);
}

void ltv_fiber_init(ltv_fiber *f, ltv_ctx *ctx, const ltv_fiber_ops *ops, int cancellable) {
  f->co = NULL;
  f->ctx = ctx;
  f->ops = ops;
  tv_timer_init(&f->timer, on_timer);
  tv_work_init(&f->work, on_work);
  f->watch = NULL;
  f->wait = LTV_WAIT_NONE;
  f->result = LTV_WAKE_OK;
  f->cancellable = (uint8_t)cancellable;
  f->cancelled = f->resuming = f->kill_pending = 0;
}

/* ---- thread -> fiber map (linear probing, backward-shift deletion) ----- */

static uint32_t slot_of(const ltv_fibermap *m, const lua_State *co) {
  uint64_t h = (uint64_t)(uintptr_t)co * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(h >> 32) & (m->cap - 1);
}

static ltv_fiber *map_get(const ltv_fibermap *m, const lua_State *co) {
  if (!m->cap) return NULL;
  for (uint32_t i = slot_of(m, co);; i = (i + 1) & (m->cap - 1)) {
    if (m->slots[i].co == co) return m->slots[i].f;
    if (!m->slots[i].co) return NULL;
  }
}

static void map_insert(ltv_fibermap *m, lua_State *co, ltv_fiber *f) {
  uint32_t i = slot_of(m, co);
  while (m->slots[i].co && m->slots[i].co != co) i = (i + 1) & (m->cap - 1);
  if (!m->slots[i].co) m->count++;
  m->slots[i].co = co;
  m->slots[i].f = f;
}

static int map_put(ltv_fibermap *m, lua_State *co, ltv_fiber *f) {
  if ((m->count + 1) * 4 > m->cap * 3) { /* keep the load under 3/4 */
    uint32_t cap = m->cap ? m->cap * 2 : 64;
    struct ltv_fiberslot *old = m->slots, *slots = calloc(cap, sizeof *slots);
    if (!slots) return TV_ENOMEM;
    uint32_t oldcap = m->cap;
    m->slots = slots;
    m->cap = cap;
    m->count = 0;
    for (uint32_t i = 0; i < oldcap; i++)
      if (old[i].co) map_insert(m, old[i].co, old[i].f);
    free(old);
  }
  map_insert(m, co, f);
  return 0;
}

static void map_del(ltv_fibermap *m, const lua_State *co) {
  if (!m->cap) return;
  uint32_t i = slot_of(m, co);
  while (m->slots[i].co != co) {
    if (!m->slots[i].co) return;
    i = (i + 1) & (m->cap - 1);
  }
  m->count--;
  for (uint32_t j = (i + 1) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
    if (!m->slots[j].co) break;
    uint32_t home = slot_of(m, m->slots[j].co);
    /* move j back into the hole at i if its home is not in (i, j] */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i].co = NULL;
  m->slots[i].f = NULL;
}

void ltv_fibermap_free(ltv_fibermap *m) {
  free(m->slots);
  m->slots = NULL;
  m->cap = m->count = 0;
}

int ltv_fiber_bind(ltv_fiber *f, lua_State *co) {
  ltv_fibermap *m = &f->ctx->fibers;
  if (f->co && f->co != co) map_del(m, f->co);
  f->co = co;
  return co ? map_put(m, co, f) : 0;
}

ltv_fiber *ltv_fiber_current(ltv_ctx *ctx, lua_State *L) { return map_get(&ctx->fibers, L); }

void ltv_fiber_abort(ltv_fiber *f) {
  tv_timer_stop(&f->ctx->sched, &f->timer);
  tv_work_cancel(&f->work);
  drop_watch(f);
  f->wait = LTV_WAIT_NONE;
}

int ltv_fiber_close(ltv_fiber *f) {
  ltv_fiber_abort(f);
  if (!f->co) return 0;
  if (f->resuming) {
    f->kill_pending = 1;
    return -1;
  }
  ltv_closethread(f->co, f->ctx->L);
  lua_settop(f->co, 0);
  return 0;
}

void ltv_fiber_resume(ltv_fiber *f, int nargs) {
  lua_State *co = f->co;
  int nres = 0;
  f->wait = LTV_WAIT_NONE;
  f->resuming = 1;
  int status = lua_resume(co, f->ctx->L, nargs, &nres);
  f->resuming = 0;
  if (f->kill_pending) { /* killed while it ran: finish the job now */
    f->kill_pending = 0;
    ltv_fiber_close(f);
    return;
  }
  if (status == LUA_YIELD) {
    if (nres > 0) lua_pop(co, nres);
    /* A bare coroutine.yield() from a supervised coroutine: treat it as a
     * yield to the loop rather than leaving the fiber stranded. */
    if (f->wait == LTV_WAIT_NONE) wake_later(f, LTV_WAKE_OK);
    return;
  }
  f->ops->finished(f, status);
}

void ltv_fiber_interrupt(ltv_fiber *f) {
  if (!f->cancellable) return;
  if (f->wait == LTV_WAIT_SLEEP || f->wait == LTV_WAIT_REMOVED)
    wake_later(f, LTV_WAKE_CANCELLED);
}

uint64_t ltv_check_seconds(lua_State *L, int arg, const char *what) {
  int isnum;
  lua_Number s = lua_tonumberx(L, arg, &isnum);
  if (!isnum || !isfinite(s) || s < 0 || s > 1e9)
    luaL_error(L, "%s: expected a number of seconds between 0 and 1e9, got %s", what,
               isnum ? lua_tostring(L, arg) : luaL_typename(L, arg));
  double ms = ceil(s * 1000.0);
  return (uint64_t)ms;
}

/* ---- primitives ------------------------------------------------------------ */

static ltv_fiber *fiber_of(lua_KContext k) { return (ltv_fiber *)k; }

static int sleep_k(lua_State *L, int status, lua_KContext k) {
  (void)status;
  lua_pushboolean(L, fiber_of(k)->result == LTV_WAKE_OK);
  return 1;
}

int ltv_fiber_sleep(lua_State *L, ltv_fiber *f, uint64_t ms) {
  if (f->cancellable && f->cancelled) {
    wake_later(f, LTV_WAKE_CANCELLED); /* still yields once: no hot loops */
  } else if (ms == 0) {
    wake_later(f, LTV_WAKE_OK);
  } else {
    f->result = LTV_WAKE_OK;
    f->wait = LTV_WAIT_SLEEP;
    tv_timer_start(&f->ctx->sched, &f->timer, ms);
  }
  return lua_yieldk(L, 0, (lua_KContext)f, sleep_k);
}

static void on_removed(tv_sup_watch_t *w) {
  fiber_watch *fw = ltv_container_of(w, fiber_watch, w);
  ltv_fiber *f = fw->f;
  f->watch = NULL;
  free(fw);
  wake_later(f, LTV_WAKE_OK);
}

/* Stack when resumed: the C function's arguments, index 2 = the task name. */
static int removed_k(lua_State *L, int status, lua_KContext k) {
  (void)status;
  ltv_fiber *f = fiber_of(k);
  const char *name = lua_tostring(L, 2);
  switch (f->result) {
    case LTV_WAKE_OK:
      lua_pushboolean(L, 1);
      return 1;
    case LTV_WAKE_TIMEOUT:
      return ltv_push_error(L, TV_ETIMEDOUT,
                            "task '%s' is still stopping; it will be force-stopped "
                            "when its grace period ends", name ? name : "?");
    default:
      return ltv_push_error(L, TV_ECANCELED,
                            "the waiting task was cancelled before '%s' stopped",
                            name ? name : "?");
  }
}

int ltv_fiber_wait_removed(lua_State *L, ltv_fiber *f, tv_sup_t *sup, const char *name,
                           size_t len, uint64_t timeout_ms) {
  if (f->cancellable && f->cancelled) {
    wake_later(f, LTV_WAKE_CANCELLED);
    return lua_yieldk(L, 0, (lua_KContext)f, removed_k);
  }
  fiber_watch *fw = malloc(sizeof *fw);
  if (!fw) return luaL_error(L, "not enough memory");
  tv_sup_watch_init(&fw->w, on_removed);
  fw->f = f;
  if (tv_sup_watch(sup, name, len, &fw->w) != 0) { /* already gone */
    free(fw);
    wake_later(f, LTV_WAKE_OK);
  } else {
    f->watch = &fw->w;
    f->wait = LTV_WAIT_REMOVED;
    tv_timer_start(&f->ctx->sched, &f->timer, timeout_ms);
  }
  return lua_yieldk(L, 0, (lua_KContext)f, removed_k);
}
