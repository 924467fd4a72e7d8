/* embedded.h - the lua/ modules compiled into the host (generated table in
 * the build directory, see cmake/embed.cmake). */
#ifndef TV_EMBEDDED_H
#define TV_EMBEDDED_H

#include <stddef.h>

typedef struct tv_embedded {
  const char *name;      /* module name, e.g. "taskvisor.validate" */
  const char *chunkname; /* "@lua/taskvisor/validate.lua" */
  const unsigned char *data;
  size_t len;
} tv_embedded_t;

extern const tv_embedded_t tv_embedded[]; /* ends with a NULL name */

#endif
