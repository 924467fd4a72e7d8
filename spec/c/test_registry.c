/* test_registry.c - the name -> actor map under growth and removal. */
#include <stdio.h>
#include <stdlib.h>

#include "core/supervision/registry.h"
#include "check.h"

static void insert_find_remove_many(void) {
  enum { N = 5000 };
  tv_registry_t r;
  tv_registry_init(&r);
  static tv_actor_t actors[N];
  char name[32];
  for (int i = 0; i < N; i++) {
    int n = snprintf(name, sizeof name, "task-%d", i);
    actors[i].name = tv_str_new(name, (size_t)n);
    CHECK(tv_registry_insert(&r, &actors[i]) == 0);
  }
  CHECK_EQ_U(r.count, N);
  int found = 0;
  for (int i = 0; i < N; i++) {
    int n = snprintf(name, sizeof name, "task-%d", i);
    found += tv_registry_find(&r, name, (size_t)n) == &actors[i];
  }
  CHECK_EQ_U(found, N);
  CHECK(tv_registry_find(&r, "task-", 5) == NULL);
  CHECK(tv_registry_find(&r, "task-1", 5) == NULL); /* prefix, not a match */
  for (int i = 0; i < N; i += 2) tv_registry_remove(&r, &actors[i]);
  CHECK_EQ_U(r.count, N / 2);
  CHECK(tv_registry_find(&r, "task-2", 6) == NULL);
  CHECK(tv_registry_find(&r, "task-3", 6) == &actors[3]);
  uint32_t n;
  tv_actor_t **all = tv_registry_snapshot(&r, &n);
  CHECK_EQ_U(n, N / 2);
  free(all);
  for (int i = 0; i < N; i++) tv_str_unref(actors[i].name);
  tv_registry_free(&r);
}

static void names_with_nul_bytes_are_distinct(void) {
  tv_registry_t r;
  tv_registry_init(&r);
  tv_actor_t a = {0}, b = {0};
  a.name = tv_str_new("a\0b", 3);
  b.name = tv_str_new("a\0c", 3);
  tv_registry_insert(&r, &a);
  tv_registry_insert(&r, &b);
  CHECK(tv_registry_find(&r, "a\0b", 3) == &a);
  CHECK(tv_registry_find(&r, "a\0c", 3) == &b);
  CHECK(tv_registry_find(&r, "a", 1) == NULL);
  tv_str_unref(a.name);
  tv_str_unref(b.name);
  tv_registry_free(&r);
}

int main(void) {
  RUN(insert_find_remove_many);
  RUN(names_with_nul_bytes_are_distinct);
  return check_report();
}
