/* group_config.c - what the binding sets on a group before it runs: which
 * `after` dependencies each child waits for (the group's own start order),
 * template mode (simple_one_for_one) and auto_shutdown. */
#include <stdlib.h>

#include "core/base/error.h"
#include "core/supervision/group.h"

void tv_group_drop_waits(tv_group_t *g) {
  for (uint32_t i = 0; i < g->nwaits; i++) {
    tv_str_unref(g->waits[i].via);
    tv_str_unref(g->waits[i].name);
  }
  free(g->waits);
  g->waits = NULL;
  g->nwaits = 0;
}

static int by_child(const void *x, const void *y) {
  const tv_group_wait_t *a = x, *b = y;
  return a->child < b->child ? -1 : a->child > b->child;
}

int tv_group_set_waits(tv_group_t *g, const tv_group_wait_t *w, uint32_t n) {
  tv_group_drop_waits(g);
  if (!n) return 0;
  tv_group_wait_t *copy = malloc(n * sizeof *copy);
  if (!copy) return TV_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    copy[i].child = w[i].child;
    copy[i].via = tv_str_ref(w[i].via);
    copy[i].name = tv_str_ref(w[i].name);
  }
  qsort(copy, n, sizeof *copy, by_child); /* not stable: the order within a child is any */
  g->waits = copy;
  g->nwaits = n;
  return 0;
}

void tv_group_set_template(tv_group_t *g) { g->keep_open = 1; }

void tv_group_set_auto_shutdown(tv_group_t *g, int mode, const uint8_t *sig) {
  g->parent.auto_shutdown = (uint8_t)mode;
  for (uint32_t i = 0; i < g->n; i++) g->slots[i].sig = sig ? sig[i] : 0;
}
