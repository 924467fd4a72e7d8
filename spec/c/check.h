/* check.h - a minimal assertion harness for the C unit tests.
 * CHECK keeps going and counts failures; each test binary exits non-zero if
 * any check failed, which is what CTest looks at. */
#ifndef TV_CHECK_H
#define TV_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures = 0, check_count = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    check_count++;                                                         \
    if (!(cond)) {                                                         \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

#define CHECK_EQ_U(a, b)                                                   \
  do {                                                                     \
    unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b); \
    check_count++;                                                         \
    if (va_ != vb_) {                                                      \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: %s == %s failed: %llu != %llu\n", __FILE__, \
              __LINE__, #a, #b, va_, vb_);                                 \
    }                                                                      \
  } while (0)

#define CHECK_STR(a, b)                                                    \
  do {                                                                     \
    const char *sa_ = (a), *sb_ = (b);                                     \
    check_count++;                                                         \
    if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                           \
      check_failures++;                                                    \
      fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n",       \
              __FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)",            \
              sb_ ? sb_ : "(null)");                                       \
    }                                                                      \
  } while (0)

#define RUN(test)                          \
  do {                                     \
    int before_ = check_failures;          \
    test();                                \
    printf("%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #test); \
  } while (0)

static inline int check_report(void) {
  printf("%d checks, %d failed\n", check_count, check_failures);
  return check_failures ? 1 : 0;
}

#endif
