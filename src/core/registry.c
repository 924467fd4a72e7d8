/* registry.c - chained hash map of actors keyed by name (FNV-1a). */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

static uint32_t hash(const char *s, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

void tv_registry_init(tv_registry_t *r) {
  r->buckets = NULL;
  r->nbuckets = r->count = 0;
}

void tv_registry_free(tv_registry_t *r) {
  free(r->buckets);
  tv_registry_init(r);
}

tv_actor_t *tv_registry_find(const tv_registry_t *r, const char *name, size_t len) {
  if (!r->nbuckets) return NULL;
  for (tv_actor_t *a = r->buckets[hash(name, len) & (r->nbuckets - 1)]; a; a = a->hnext)
    if (a->name->len == len && memcmp(a->name->s, name, len) == 0) return a;
  return NULL;
}

static int grow(tv_registry_t *r) {
  uint32_t n = r->nbuckets ? r->nbuckets * 2 : 16;
  tv_actor_t **b = calloc(n, sizeof *b);
  if (!b) return TV_ENOMEM;
  for (uint32_t i = 0; i < r->nbuckets; i++) {
    tv_actor_t *a = r->buckets[i];
    while (a) {
      tv_actor_t *next = a->hnext;
      uint32_t k = hash(a->name->s, a->name->len) & (n - 1);
      a->hnext = b[k];
      b[k] = a;
      a = next;
    }
  }
  free(r->buckets);
  r->buckets = b;
  r->nbuckets = n;
  return 0;
}

int tv_registry_insert(tv_registry_t *r, tv_actor_t *a) {
  if (r->count >= r->nbuckets && grow(r) != 0 && !r->nbuckets) return TV_ENOMEM;
  uint32_t k = hash(a->name->s, a->name->len) & (r->nbuckets - 1);
  a->hnext = r->buckets[k];
  r->buckets[k] = a;
  r->count++;
  return 0;
}

void tv_registry_remove(tv_registry_t *r, tv_actor_t *a) {
  if (!r->nbuckets) return;
  tv_actor_t **p = &r->buckets[hash(a->name->s, a->name->len) & (r->nbuckets - 1)];
  for (; *p; p = &(*p)->hnext) {
    if (*p == a) {
      *p = a->hnext;
      a->hnext = NULL;
      r->count--;
      return;
    }
  }
}

void tv_registry_each(const tv_registry_t *r, void (*fn)(tv_actor_t *, void *), void *data) {
  for (uint32_t i = 0; i < r->nbuckets; i++)
    for (tv_actor_t *a = r->buckets[i]; a; a = a->hnext) fn(a, data);
}

tv_actor_t **tv_registry_snapshot(const tv_registry_t *r, uint32_t *n) {
  tv_actor_t **out = malloc((r->count ? r->count : 1) * sizeof *out);
  *n = 0;
  if (!out) return NULL;
  for (uint32_t i = 0; i < r->nbuckets; i++)
    for (tv_actor_t *a = r->buckets[i]; a; a = a->hnext) out[(*n)++] = a;
  return out;
}
