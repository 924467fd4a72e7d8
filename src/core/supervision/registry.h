/* registry.h - the supervisor's name -> actor map (the source of truth for
 * which tasks exist; never derived from the best-effort bus).
 * A typed face of tv_namemap over tv_actor.name / tv_actor.hnext. Owner: the
 * supervisor; it holds pointers only, the supervisor owns the actors. */
#ifndef TV_REGISTRY_H
#define TV_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/supervision/actor.h"
#include "core/base/namemap.h"

typedef tv_namemap_t tv_registry_t; /* .count: how many tasks */

static inline void tv_registry_init(tv_registry_t *r) {
  tv_namemap_init(r, offsetof(tv_actor_t, name), offsetof(tv_actor_t, hnext));
}
static inline void tv_registry_free(tv_registry_t *r) { tv_namemap_free(r); }
static inline tv_actor_t *tv_registry_find(const tv_registry_t *r, const char *name,
                                           size_t len) {
  return tv_namemap_find(r, name, len);
}
/* Returns 0 or TV_ENOMEM. The name must not be present. */
static inline int tv_registry_insert(tv_registry_t *r, tv_actor_t *a) {
  return tv_namemap_insert(r, a);
}
static inline void tv_registry_remove(tv_registry_t *r, tv_actor_t *a) {
  tv_namemap_remove(r, a);
}
/* A malloc'd array of the actors (caller frees), in no particular order. */
static inline tv_actor_t **tv_registry_snapshot(const tv_registry_t *r, uint32_t *n) {
  return (tv_actor_t **)tv_namemap_snapshot(r, n);
}

#endif
