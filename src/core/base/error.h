/* error.h - the core's error codes.
 * Core functions return 0 or a negative TV_E* code; tv_err_name gives the
 * code's short name (the "CODE" of the Lua API's "CODE: message"). */
#ifndef TV_ERROR_H
#define TV_ERROR_H

#define TV_ERRNO_MAP(X)                                                      \
  X(EEXIST, "name already exists")                                           \
  X(ENOENT, "no such name")                                                  \
  X(ESHUTDOWN, "supervisor is shutting down")                                \
  X(ENOMEM, "out of memory")                                                 \
  X(EINVAL, "invalid argument")                                              \
  X(ETIMEDOUT, "timed out")                                                  \
  X(ECANCELED, "cancelled")                                                  \
  X(EBUSY, "busy")                                                           \
  X(ENOTSUP, "not supported")                                               \
  X(EFULL, "queue is full")                                                 \
  X(EREJECTED, "rejected")                                                  \
  X(ESRCH, "no such process")

enum {
  TV_OK = 0,
#define X(name, msg) TV_##name,
  TV__ERR_FIRST = -100,
  TV_ERRNO_MAP(X)
#undef X
  TV__ERR_END
};

/* "EEXIST", ...; "EUNKNOWN" for anything else. Never NULL. */
const char *tv_err_name(int err);
/* A short human message for the code. Never NULL. */
const char *tv_strerror(int err);

#endif
