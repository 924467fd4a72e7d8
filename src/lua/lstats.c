/* lstats.c - what the metrics surface reads from a supervisor that no other
 * view shows: each subscriber's queue counters (the bus's own, so drops are
 * the ones SubscriberOverflow reported) and the supervisor's restart budget.
 * Read-only: nothing here changes the core's state. */
#include <dirent.h>
#include <lauxlib.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/kinds/process.h"
#include "lsup.h"
#include "lstats.h"

/* sup:subscriber_stats(): { {name=, delivered=, dropped=, queued=, capacity=}, ... }
 * in subscription order. */
static int sup_subscriber_stats(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  lua_createtable(L, (int)s->sup->bus.nsubs, 0);
  lua_Integer i = 0;
  tv_list_each(l, &s->sup->bus.subs) {
    const tv_sub_t *sub = tv_bus_sub(l);
    lua_createtable(L, 0, 5);
    if (sub->name) lua_pushlstring(L, sub->name->s, sub->name->len);
    else lua_pushliteral(L, "");
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)sub->delivered);
    lua_setfield(L, -2, "delivered");
    lua_pushinteger(L, (lua_Integer)sub->dropped);
    lua_setfield(L, -2, "dropped");
    lua_pushinteger(L, sub->count);
    lua_setfield(L, -2, "queued");
    lua_pushinteger(L, sub->cap);
    lua_setfield(L, -2, "capacity");
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

/* sup:budget_state(): { max=, within= (seconds), used= (restarts inside the
 * window now) }; max 0: the supervisor has no budget. */
static int sup_budget_state(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  const tv_parent_t *p = &s->sup->parent;
  uint64_t now = tv_sched_now(s->sup->sched), within_ms = p->cfg.within_ns / TV_NS_PER_MS;
  lua_Integer used = 0;
  if (p->cfg.max && p->budget.ring)
    for (uint32_t i = 0; i < p->budget.count; i++) {
      /* (the ring holds the last count restart times; order does not matter here) */
      uint64_t t = p->budget.ring[i];
      if (now < t + within_ms) used++;
    }
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, p->cfg.max);
  lua_setfield(L, -2, "max");
  lua_pushnumber(L, (lua_Number)p->cfg.within_ns / 1e9);
  lua_setfield(L, -2, "within");
  lua_pushinteger(L, used);
  lua_setfield(L, -2, "used");
  return 1;
}

/* core.reopen_generation(): how many times the output files were reopened
 * (SIGHUP / SIGUSR1 / the API's reopen): a writer of its own file reopens it
 * when this changed. */
static int l_reopen_generation(lua_State *L) {
  lua_pushinteger(L, tv_process_reopen_generation());
  return 1;
}

/* core.host_stats(): this process's { cpu_seconds (user + system),
 * resident_bytes, open_fds, max_fds }; a figure that cannot be read is
 * absent. */
static int l_host_stats(lua_State *L) {
  lua_createtable(L, 0, 4);
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    lua_pushnumber(L, (lua_Number)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                          (lua_Number)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    lua_setfield(L, -2, "cpu_seconds");
  }
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size, rss;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &rss) == 2) {
      lua_pushinteger(L, (lua_Integer)rss * sysconf(_SC_PAGESIZE));
      lua_setfield(L, -2, "resident_bytes");
    }
    fclose(f);
  }
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    lua_Integer n = -1; /* (the directory's own fd is not ours to count) */
    for (struct dirent *e; (e = readdir(d));)
      if (e->d_name[0] != '.') n++;
    closedir(d);
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "open_fds");
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    lua_pushinteger(L, (lua_Integer)rl.rlim_cur);
    lua_setfield(L, -2, "max_fds");
  }
  return 1;
}

void ltv_stats_module(lua_State *L) {
  lua_pushcfunction(L, l_host_stats);
  lua_setfield(L, -2, "host_stats");
  lua_pushcfunction(L, l_reopen_generation);
  lua_setfield(L, -2, "reopen_generation");
}

void ltv_stats_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"subscriber_stats", sup_subscriber_stats}, {"budget_state", sup_budget_state}, {NULL, NULL}};
  luaL_getmetatable(L, LTV_SUP);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}
