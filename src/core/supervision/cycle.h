/* cycle.h - the supervisor's `after` cycle check (cycle.c), used by
 * tv_sup_add_ex before a task is registered. */
#ifndef TV_CYCLE_H
#define TV_CYCLE_H

#include <stddef.h>

#include "core/supervision/supervisor.h"

/* 0, or TV_EINVAL: adding task t (its actor prepared, not registered) as `o`
 * says would close a cycle, described into buf ("a -> b -> a"; cap > 4). */
int tv_sup_after_cycle(tv_sup_t *s, tv_task_t *t, const tv_add_opts_t *o, char *buf, size_t cap);

#endif
