/* strategy.c - the restart strategies' names (OTP's words). */
#include <string.h>

#include "core/supervision/group.h"

int tv_strategy_parse(const char *name) {
  for (int i = 0; i < 3; i++)
    if (strcmp(name, tv_strategy_name(i)) == 0) return i;
  return -1;
}

const char *tv_strategy_name(int s) {
  static const char *const names[] = {"one_for_one", "one_for_all", "rest_for_one"};
  return (unsigned)s < 3 ? names[s] : "?";
}
