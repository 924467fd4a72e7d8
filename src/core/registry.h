/* registry.h - the supervisor's name -> actor map (the source of truth for
 * which tasks exist; never derived from the best-effort bus).
 * Chained hashing through tv_actor.hnext. Owner: the supervisor; it holds
 * pointers only, the supervisor owns the actors. */
#ifndef TV_REGISTRY_H
#define TV_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "actor.h"

typedef struct tv_registry {
  tv_actor_t **buckets;
  uint32_t nbuckets; /* power of two, or 0 before the first insert */
  uint32_t count;
} tv_registry_t;

void tv_registry_init(tv_registry_t *r);
void tv_registry_free(tv_registry_t *r);
tv_actor_t *tv_registry_find(const tv_registry_t *r, const char *name, size_t len);
/* Returns 0 or TV_ENOMEM. The name must not be present. */
int tv_registry_insert(tv_registry_t *r, tv_actor_t *a);
void tv_registry_remove(tv_registry_t *r, tv_actor_t *a);
/* Calls fn for every actor (fn must not insert or remove). */
void tv_registry_each(const tv_registry_t *r, void (*fn)(tv_actor_t *, void *), void *data);
/* A malloc'd array of the actors (caller frees), in no particular order. */
tv_actor_t **tv_registry_snapshot(const tv_registry_t *r, uint32_t *n);

#endif
