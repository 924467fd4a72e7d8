/* lstatus.h - the control API's task views in C: GET /v1/tasks as JSON text
 * and the host's task counts (lstatus.c), the per-task families of
 * GET /metrics (lmetrics.c), over tasklist.h.
 * Layers up: json peer listener tasklist | server lstatus lmetrics | lserver. */
#ifndef TVC_LSTATUS_H
#define TVC_LSTATUS_H

#include <lua.h>

/* Adds tasks_json and task_counts to the table on top of the stack. */
void tvc_status_open(lua_State *L);
/* Adds task_metrics to the table on top of the stack. */
void tvc_metrics_open(lua_State *L);

#endif
