/* namemap.h - an intrusive chained hash map of items keyed by name.
 * An item is any struct with a `tv_str_t *` name and a chain pointer; the map
 * is told their offsets once, so one implementation serves the registry
 * (actors) and the controller (slots). Owner: the map owns only its bucket
 * array; items belong to whoever inserted them. */
#ifndef TV_NAMEMAP_H
#define TV_NAMEMAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/str.h"

typedef struct tv_namemap {
  void **buckets;
  uint32_t nbuckets; /* power of two, or 0 before the first insert */
  uint32_t count;
  size_t name_off, next_off; /* offsetof the item's name and chain pointer */
} tv_namemap_t;

void tv_namemap_init(tv_namemap_t *m, size_t name_off, size_t next_off);
void tv_namemap_free(tv_namemap_t *m);
void *tv_namemap_find(const tv_namemap_t *m, const char *name, size_t len);
/* Allocates the first buckets: from then on inserts cannot fail (a failed
 * growth only lengthens chains). 0 or TV_ENOMEM. */
int tv_namemap_reserve(tv_namemap_t *m);
/* Grows (best effort) to at least n buckets (a power of two, at most 2^20):
 * room made while memory is there, for a map that must work when it is not. */
void tv_namemap_reserve_for(tv_namemap_t *m, uint32_t n);
/* Returns 0 or TV_ENOMEM. The name must not be present. */
int tv_namemap_insert(tv_namemap_t *m, void *item);
void tv_namemap_remove(tv_namemap_t *m, void *item);
/* A malloc'd array of the items (caller frees), in no particular order;
 * NULL when out of memory. */
void **tv_namemap_snapshot(const tv_namemap_t *m, uint32_t *n);
/* Calls fn for each item; fn must not add or remove items. Allocates nothing. */
void tv_namemap_visit(const tv_namemap_t *m, void (*fn)(void *item, void *arg), void *arg);
/* Calls fn(item, arg) on every item that pending(item, arg) says still needs
 * it; fn may change the map. Goes over a snapshot, or, when there is no
 * memory for one, bucket by bucket, rescanning the current bucket after each
 * call (fn must make its item no longer pending, and must not make an item
 * it already passed pending again), so stopping everything never needs
 * memory, in O(n). */
void tv_namemap_each(tv_namemap_t *m, int (*pending)(void *item, void *arg),
                     void (*fn)(void *item, void *arg), void *arg);

#endif
