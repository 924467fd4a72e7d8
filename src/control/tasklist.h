/* tasklist.h - the tasks a control API view covers, in its order: the
 * config's tasks in the config's order (a Lua array of names), then every
 * other registered task by name, each with its status read from the core
 * (core/supervision/status.h) once, when asked. What lstatus (JSON, counts)
 * and lmetrics (Prometheus text) render.
 * Layers up: json peer listener tasklist | server lstatus lmetrics | lserver. */
#ifndef TVC_TASKLIST_H
#define TVC_TASKLIST_H

#include <lua.h>
#include <stdint.h>

#include "core/base/clock.h"
#include "core/supervision/status.h"

typedef struct tvc_task {
  tv_str_t *name; /* a reference of its own */
  tv_status_t st; /* its strings borrowed from the core: valid until the loop runs */
} tvc_task_t;

typedef struct tvc_tasks {
  tvc_task_t *v;
  uint32_t n;
  double wall;  /* the wall clock when listed (s) */
  uint64_t now; /* the core's clock then (ms) */
} tvc_tasks_t;

/* The supervisor at stack index 1 (a taskvisor.supervisor object or its
 * core), checked; raises a Lua error when it is not one or is gone. */
const tv_sup_t *tvc_sup_arg(lua_State *L);
/* Lists the tasks: those named by the array at stack index `order` (0:
 * none), then the other registered ones. A name of `order` that is neither
 * registered nor recorded as ended is a config task not started: STOPPED
 * since `started` (wall s). With `only` set, the array at `order` is the
 * whole listing, and a name that is none of these nor a key of the table at
 * `config` (0: none; the config's tasks) fails: *unknown is its index
 * (1-based). 0, or -1 when out of memory or for an unknown name. */
int tvc_tasks_list(lua_State *L, const tv_sup_t *sup, int order, int only, int config,
                   double started, tvc_tasks_t *out, lua_Integer *unknown);
void tvc_tasks_free(tvc_tasks_t *t);
/* Clock ms as wall seconds, like an event's `at`. */
static inline double tvc_wall_of(const tvc_tasks_t *t, uint64_t ms) {
  return tv_clock_wall_at(t->wall, t->now, ms);
}

#endif
