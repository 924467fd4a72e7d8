/* namemap.c - chained hashing (FNV-1a) over intrusive items. */
#include "core/base/namemap.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"

static uint32_t hash(const char *s, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static tv_str_t *name_of(const tv_namemap_t *m, void *item) {
  return *(tv_str_t **)((char *)item + m->name_off);
}

static void **next_of(const tv_namemap_t *m, void *item) {
  return (void **)((char *)item + m->next_off);
}

static uint32_t bucket_of(const tv_namemap_t *m, void *item, uint32_t nbuckets) {
  tv_str_t *n = name_of(m, item);
  return hash(n->s, n->len) & (nbuckets - 1);
}

void tv_namemap_init(tv_namemap_t *m, size_t name_off, size_t next_off) {
  m->buckets = NULL;
  m->nbuckets = m->count = 0;
  m->name_off = name_off;
  m->next_off = next_off;
}

void tv_namemap_free(tv_namemap_t *m) {
  free(m->buckets);
  m->buckets = NULL;
  m->nbuckets = m->count = 0;
}

void *tv_namemap_find(const tv_namemap_t *m, const char *name, size_t len) {
  if (!m->nbuckets) return NULL;
  for (void *it = m->buckets[hash(name, len) & (m->nbuckets - 1)]; it; it = *next_of(m, it)) {
    tv_str_t *n = name_of(m, it);
    if (n->len == len && memcmp(n->s, name, len) == 0) return it;
  }
  return NULL;
}

static int grow(tv_namemap_t *m) {
  uint32_t n = m->nbuckets ? m->nbuckets * 2 : 16;
  void **b = calloc(n, sizeof *b);
  if (!b) return TV_ENOMEM;
  for (uint32_t i = 0; i < m->nbuckets; i++) {
    void *it = m->buckets[i];
    while (it) {
      void *next = *next_of(m, it);
      uint32_t k = bucket_of(m, it, n);
      *next_of(m, it) = b[k];
      b[k] = it;
      it = next;
    }
  }
  free(m->buckets);
  m->buckets = b;
  m->nbuckets = n;
  return 0;
}

int tv_namemap_reserve(tv_namemap_t *m) { return m->nbuckets ? 0 : grow(m); }

void tv_namemap_reserve_for(tv_namemap_t *m, uint32_t n) {
  if (n > 1u << 20) n = 1u << 20;
  while (m->nbuckets < n && grow(m) == 0) {}
}

int tv_namemap_insert(tv_namemap_t *m, void *item) {
  /* growing is optional once there are buckets: chains just get longer */
  if (m->count >= m->nbuckets && grow(m) != 0 && !m->nbuckets) return TV_ENOMEM;
  uint32_t k = bucket_of(m, item, m->nbuckets);
  *next_of(m, item) = m->buckets[k];
  m->buckets[k] = item;
  m->count++;
  return 0;
}

void tv_namemap_remove(tv_namemap_t *m, void *item) {
  if (!m->nbuckets) return;
  void **p = &m->buckets[bucket_of(m, item, m->nbuckets)];
  for (; *p; p = next_of(m, *p)) {
    if (*p == item) {
      *p = *next_of(m, item);
      *next_of(m, item) = NULL;
      m->count--;
      return;
    }
  }
}

void **tv_namemap_snapshot(const tv_namemap_t *m, uint32_t *n) {
  void **out = malloc((m->count ? m->count : 1) * sizeof *out);
  *n = 0;
  if (!out) return NULL;
  for (uint32_t i = 0; i < m->nbuckets; i++)
    for (void *it = m->buckets[i]; it; it = *next_of(m, it)) out[(*n)++] = it;
  return out;
}

void tv_namemap_visit(const tv_namemap_t *m, void (*fn)(void *item, void *arg), void *arg) {
  for (uint32_t i = 0; i < m->nbuckets; i++)
    for (void *it = m->buckets[i]; it; it = *next_of(m, it)) fn(it, arg);
}

void tv_namemap_each(tv_namemap_t *m, int (*pending)(void *item, void *arg),
                     void (*fn)(void *item, void *arg), void *arg) {
  uint32_t n;
  void **all = tv_namemap_snapshot(m, &n);
  if (all) {
    for (uint32_t i = 0; i < n; i++)
      if (pending(all[i], arg)) fn(all[i], arg);
    free(all);
    return;
  }
  /* No memory for a snapshot: bucket by bucket, rescanning only the current
   * bucket's chain after each call (fn may unlink items, and makes its own no
   * longer pending), so O(n) in all. It used to rescan the whole map after
   * each call: a shutdown of 366,000 tasks short of memory spent minutes
   * here, the SIGTERM that started it waiting. A map that fn grew is
   * rescanned from its start. */
  void **buckets = m->buckets;
  uint32_t nbuckets = m->nbuckets;
  for (uint32_t i = 0; i < m->nbuckets;) {
    void *next = NULL;
    for (void *it = m->buckets[i]; it && !next; it = *next_of(m, it))
      if (pending(it, arg)) next = it;
    if (!next) {
      i++;
      continue;
    }
    fn(next, arg);
    if (m->buckets != buckets || m->nbuckets != nbuckets) {
      buckets = m->buckets;
      nbuckets = m->nbuckets;
      i = 0;
    }
  }
}
