/* lsub.c - Lua subscribers: each has its own bounded queue in the core and
 * its own worker coroutine that hands queued events to on_event one at a
 * time, in order. An error in on_event becomes SubscriberPanicked and the
 * worker goes on; on_event may yield (tv.sleep) without stalling anyone else.
 * Owner: the userdata, anchored while subscribed. User values: 1 = on_event,
 * 2 = the worker coroutine. */
#include <string.h>

#include "core/base/error.h"
#include "lerror.h"
#include "levent.h"
#include "lfiber.h"
#include "lsub.h"

#define LTV_SUB "taskvisor.subscriber"

/* A worker delivers at most DELIVERY_BUDGET events per resume. A backlog is
 * worked off at urgent priority, but only URGENT_BURSTS times per loop pass:
 * then it waits for the next pass, so a subscriber feeding itself events
 * cannot freeze the loop, and one behind a burst never falls behind for good. */
#define DELIVERY_BUDGET 1024
#define URGENT_BURSTS 8

typedef struct ltv_sub {
  ltv_fiber fiber; /* anchor: while subscribed (and while its worker runs) */
  tv_sub_t *sub;   /* NULL once closed */
  uint64_t burst_pass; /* loop pass of the last budget-limited yield */
  uint32_t bursts;     /* such yields in that pass */
  uint32_t batch;      /* events handed over since the worker last yielded */
  uint8_t no_event;    /* on_event is a Lua function that takes no parameter */
  uint8_t plain;       /* LTV_SUB_TABLES / LTV_SUB_SCRATCH: events as plain tables */
  ltv_sub_tap tap;     /* sees each event first (fn NULL: none) */
} ltv_sub;

/* Out of budget with events left: yield, to be resumed as urgent work if this
 * pass still allows it, else on the next pass. */
static int yield_budget(lua_State *L, ltv_sub *s, lua_KContext k, lua_KFunction kf) {
  tv_sched_t *sched = &s->fiber.ctx->sched;
  if (s->burst_pass != sched->pass) {
    s->burst_pass = sched->pass;
    s->bursts = 0;
  }
  if (++s->bursts <= URGENT_BURSTS) {
    s->fiber.wait = LTV_WAIT_YIELD;
    tv_work_defer(sched, &s->fiber.work, TV_LANE_URGENT);
  } /* else: a plain yield, which the fiber turns into a next-pass wake-up */
  return lua_yieldk(L, 0, k, kf);
}

/* Message handler: {message, traceback}. */
static int msgh(lua_State *L) {
  lua_createtable(L, 2, 0);
  int t = lua_gettop(L);
  /* (its coroutine's count hook bounds a __tostring here: no budget of its own) */
  ltv_error_text(NULL, L, 1, NULL, 0);
  if (lua_gettop(L) > t) lua_rawseti(L, t, 1); /* the text, or nil: report() words it */
  luaL_traceback(L, L, NULL, 1);
  lua_rawseti(L, -2, 2);
  return 1;
}

static void report(ltv_sub *s, lua_State *L) {
  if (!s->sub) return;
  const char *msg = "error in subscriber";
  size_t len = strlen(msg);
  tv_str_t *tb = NULL;
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    size_t tlen;
    const char *tbs = lua_tolstring(L, -1, &tlen);
    if (tbs) tb = tv_str_new(tbs, tlen);
    if (lua_type(L, -2) == LUA_TSTRING) msg = lua_tolstring(L, -2, &len);
    tv_sub_report_panic(s->sub, msg, len, tb);
    lua_pop(L, 2);
  } else {
    if (lua_type(L, -1) == LUA_TSTRING) msg = lua_tolstring(L, -1, &len);
    tv_sub_report_panic(s->sub, msg, len, NULL);
  }
  tv_str_unref(tb);
}

/* Stack: [1] message handler, [2] on_event, [3] the events' metatable
 * (levent.c), [4] the scratch tables by field set (LTV_SUB_SCRATCH), or nil. */
#define META 3
#define SCRATCH 4

/* Protected, one call per batch rather than a pcall per event: [1] on_event,
 * [2] the events' metatable, [3] levent.c's last task name, [4] the scratch
 * tables (LTV_SUB_SCRATCH only). Hands over queued events until the queue is
 * empty, the budget is spent or the subscriber closed; an error in on_event
 * ends the batch (the worker reports it and starts the next). k: the ltv_sub. */
static int deliver(lua_State *L, int status, lua_KContext k) {
  ltv_sub *s = (ltv_sub *)k;
  (void)status; /* LUA_YIELD: on_event yielded and returned */
  int top = s->plain == LTV_SUB_SCRATCH ? 4 : 3; /* (slot 4 only for scratch tables) */
  lua_settop(L, top);
  while (s->sub && s->batch < DELIVERY_BUDGET) {
    tv_event_t *ev = tv_sub_pop(s->sub);
    if (!ev) {
      /* Parked here, inside this batch's pcall, so a wake-up goes on with this
       * loop instead of setting up another batch: with one wake-up per task
       * step (two events), that set-up was ~10% of a restart. */
      if (!tv_sub_park(s->sub)) continue; /* more came: same budget */
      s->batch = 0;
      s->fiber.wait = LTV_WAIT_EVENTS;
      return lua_yieldk(L, 0, k, deliver);
    }
    if (s->tap.fn) s->tap.fn(s->tap.data, ev);
    if (s->no_event) { /* it could not see the event: none is made */
      tv_bus_event_unref(s->sub->bus, ev);
      lua_pushvalue(L, 1);
      s->batch++;
      s->fiber.ctx->ran = 0; /* a budget per call (the hook stays armed: per_call) */
      lua_callk(L, 0, 0, k, deliver); /* (returns with the stack at `top`) */
      continue;
    }
    /* Making the event may run the collector, and a finalizer may destroy
     * this subscriber's supervisor and bus (s->sub is NULL then): it is made
     * from a copy, and nothing of the core is touched after it. */
    tv_event_t copy;
    tv_bus_event_take(s->sub->bus, ev, &copy);
    lua_pushvalue(L, 1);
    if (s->plain == LTV_SUB_SCRATCH)
      ltv_push_event_scratch(L, 2, 4, &copy);
    else if (s->plain == LTV_SUB_TABLES)
      ltv_push_event_table(L, 2, &copy);
    else
      ltv_push_event(L, 2, &copy);
    tv_event_drop_copy(&copy);
    s->batch++;
    s->fiber.ctx->ran = 0; /* a budget per event, without lua_sethook: per_call */
    lua_callk(L, 1, 0, k, deliver); /* (returns with the stack at `top`: no settop) */
  }
  return 0;
}

/* [1] the ltv_sub (light), then deliver's arguments. */
static int deliver_start(lua_State *L) {
  lua_KContext k = (lua_KContext)lua_touserdata(L, 1);
  lua_remove(L, 1);
  return deliver(L, LUA_OK, k);
}

static int worker_loop(lua_State *L, int status, lua_KContext k) {
  ltv_sub *s = (ltv_sub *)k;
  if (status != LUA_OK && status != LUA_YIELD) report(s, L);
  lua_settop(L, SCRATCH);
  while (s->sub) {
    if (s->batch >= DELIVERY_BUDGET) {
      s->batch = 0;
      return yield_budget(L, s, k, worker_loop);
    }
    if (!s->sub->count) {
      if (!tv_sub_park(s->sub)) continue; /* more came: same budget */
      s->batch = 0;
      s->fiber.wait = LTV_WAIT_EVENTS;
      return lua_yieldk(L, 0, k, worker_loop);
    }
    lua_pushcfunction(L, deliver_start); /* a light function: no allocation per batch */
    lua_pushlightuserdata(L, s);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, META);
    lua_pushnil(L);
    int nargs = 4;
    if (s->plain == LTV_SUB_SCRATCH) {
      lua_pushvalue(L, SCRATCH);
      nargs = 5;
    }
    if (lua_pcallk(L, nargs, 0, 1, k, worker_loop) != LUA_OK) report(s, L);
    lua_settop(L, SCRATCH);
  }
  return 0;
}

static int worker_body(lua_State *L) {
  ltv_sub *s = lua_touserdata(L, lua_upvalueindex(1));
  lua_settop(L, 0);
  lua_pushcfunction(L, msgh);
  lua_pushvalue(L, lua_upvalueindex(2));
  ltv_event_meta(L);
  if (s->plain == LTV_SUB_SCRATCH)
    lua_newtable(L);
  else
    lua_pushnil(L);
  return worker_loop(L, LUA_OK, (lua_KContext)s);
}

/* Pushes a worker for s: a function to start a coroutine with. */
static void push_worker(lua_State *L, ltv_sub *s, int fn_idx) {
  fn_idx = lua_absindex(L, fn_idx);
  lua_pushlightuserdata(L, s);
  lua_pushvalue(L, fn_idx);
  lua_pushcclosure(L, worker_body, 2);
}

/* Protected on our thread: [sub userdata] -> reports the runaway on_event (the
 * reason on top of the stopped worker) and starts a fresh worker on the same
 * coroutine, which goes on with the next event. */
static int restart_worker(lua_State *L) {
  ltv_sub *s = lua_touserdata(L, 1);
  lua_State *co = s->fiber.co;
  lua_createtable(L, 2, 0); /* as msgh makes it: {message, traceback} */
  lua_xmove(co, L, 1);
  lua_rawseti(L, -2, 1);
  luaL_traceback(L, co, NULL, 0);
  lua_rawseti(L, -2, 2);
  report(s, L);
  ltv_closethread(co, L); /* its <close> variables run */
  lua_settop(co, 0);
  lua_getiuservalue(L, 1, 1); /* on_event */
  push_worker(L, s, -1);
  lua_xmove(L, co, 1);
  return 0;
}

static void sub_runaway(ltv_fiber *f) {
  ltv_sub *s = ltv_container_of(f, ltv_sub, fiber);
  lua_State *L = f->ctx->L;
  lua_pushcfunction(L, restart_worker);
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->anchor);
  if (lua_pcall(L, 1, 0, 0) == LUA_OK) {
    ltv_fiber_wake(f, LTV_WAKE_OK);
    return;
  }
  lua_pop(L, 1); /* out of memory: the subscriber ends, as if its worker died */
  if (s->sub) ltv_sub_close(s->sub);
}

static void sub_finished(ltv_fiber *f, int status) {
  ltv_sub *s = ltv_container_of(f, ltv_sub, fiber);
  if (status != LUA_OK && s->sub) { /* the worker itself died (out of memory) */
    lua_State *co = f->co;
    const char *msg = lua_tostring(co, -1);
    tv_sub_report_panic(s->sub, msg ? msg : "subscriber worker died",
                        msg ? strlen(msg) : 22, NULL);
    ltv_sub_close(s->sub);
  }
}

/* A subscriber's worker is never cancelled: it only ends with its subscriber. */
static const ltv_fiber_ops fiber_ops = {sub_finished, sub_runaway, NULL, NULL, NULL};

static void sub_wake(tv_sub_t *sub) {
  ltv_sub *s = sub->data;
  tv_work_defer(&s->fiber.ctx->sched, &s->fiber.work, TV_LANE_URGENT);
}

static const tv_sub_ops_t sub_ops = {sub_wake, ltv_sub_close};

int ltv_sub_new(lua_State *L, ltv_ctx *ctx, tv_sup_t *sup, const char *name, size_t len,
                int fn_idx, uint32_t queue, uint32_t max_instructions, int plain,
                const ltv_sub_tap *tap) {
  fn_idx = lua_absindex(L, fn_idx);
  ltv_sub *s = lua_newuserdatauv(L, sizeof *s, 2);
  memset(s, 0, sizeof *s);
  s->plain = (uint8_t)plain;
  s->tap.ref = LUA_NOREF;
  if (tap) s->tap = *tap;
  ltv_fiber_init(&s->fiber, ctx, &fiber_ops);
  s->fiber.max_instructions = max_instructions;
  s->fiber.per_call = 1;
  luaL_setmetatable(L, LTV_SUB);
  if (lua_type(L, fn_idx) == LUA_TFUNCTION) { /* function() ... end: counts, never reads */
    lua_Debug ar;
    lua_pushvalue(L, fn_idx);
    if (lua_getinfo(L, ">u", &ar) && ar.nparams == 0 && !ar.isvararg && !lua_iscfunction(L, fn_idx))
      s->no_event = 1;
  }
  lua_pushvalue(L, fn_idx);
  lua_setiuservalue(L, -2, 1);
  lua_State *co = lua_newthread(L);
  lua_sethook(co, NULL, 0, 0); /* not a bounded caller's: it is armed only with a budget */
  push_worker(L, s, fn_idx);
  lua_xmove(L, co, 1);
  lua_setiuservalue(L, -2, 2);
  int rc = tv_sup_subscribe(sup, name, len, queue, &sub_ops, s, &s->sub);
  if (rc == 0) s->fiber.co = co;
  if (rc != 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, s->tap.ref);
    s->tap.ref = LUA_NOREF;
    lua_pop(L, 1);
    return rc;
  }
  s->fiber.anchor = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

void ltv_sub_close(tv_sub_t *sub) {
  ltv_sub *s = sub->data;
  ltv_fiber *f = &s->fiber;
  s->sub = NULL;
  s->tap.fn = NULL;
  luaL_unref(f->ctx->L, LUA_REGISTRYINDEX, s->tap.ref);
  s->tap.ref = LUA_NOREF;
  tv_bus_unsubscribe(sub);
  ltv_fiber_close(f);
  ltv_fiber_unanchor(f); /* a running worker is held by its resume until it yields */
}

void ltv_sub_open(lua_State *L) {
  luaL_newmetatable(L, LTV_SUB); /* sets __name */
  lua_pop(L, 1);
}
