/* lsub.h - Lua subscribers: a bounded queue in the core and a worker fiber.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_SUB_H
#define LTV_SUB_H

#include "core/events/bus.h"
#include "core/supervision/supervisor.h"
#include "lbase.h"

/* How a subscriber gets its events: read-only objects (levent.c), plain
 * tables it may keep and change, or scratch tables, one reused for every
 * event with the same fields (no allocation per event; it must copy what it
 * keeps: taskvisor simulate's own subscriber). */
enum { LTV_SUB_OBJECTS, LTV_SUB_TABLES, LTV_SUB_SCRATCH };

/* A C function that sees each event the subscriber takes from its queue,
 * before on_event (whether or not an event is made for it): taskvisor
 * simulate's accounting (lsimacc.c). `ref`: a registry reference to the
 * owner of `data`, which the subscriber drops when it closes. */
typedef struct ltv_sub_tap {
  void (*fn)(void *data, const tv_event_t *ev);
  void *data;
  int ref;
} ltv_sub_tap;

/* Subscribes the function at fn_idx to sup as `name`; 0 or a TV_E* code.
 * plain: LTV_SUB_*; tap: NULL, or copied (its ref taken over, dropped on failure too). */
int ltv_sub_new(lua_State *L, ltv_ctx *ctx, tv_sup_t *sup, const char *name, size_t len,
                int fn_idx, uint32_t queue, uint32_t max_instructions, int plain,
                const ltv_sub_tap *tap);
/* Unsubscribes and closes its worker (the supervisor closes, or the worker died). */
void ltv_sub_close(tv_sub_t *sub);
void ltv_sub_open(lua_State *L);

#endif
