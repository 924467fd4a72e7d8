/* error.c - names and messages of the core's error codes. */
#include "core/base/error.h"

const char *tv_err_name(int err) {
  switch (err) {
#define X(name, msg) case TV_##name: return #name;
    TV_ERRNO_MAP(X)
#undef X
    default: return "EUNKNOWN";
  }
}

const char *tv_strerror(int err) {
  switch (err) {
#define X(name, msg) case TV_##name: return msg;
    TV_ERRNO_MAP(X)
#undef X
    case TV_OK: return "ok";
    default: return "unknown error";
  }
}
