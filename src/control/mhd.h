/* mhd.h - libmicrohttpd, opened with dlopen when the control API first
 * starts: a run that serves no HTTP never maps it, nor gnutls and the dozen
 * libraries under it (~5 MiB of the host's RSS; BENCHMARKS.md, "Scale curves").
 * The calls go through tvc_mhd, whose fields have the types of the header's
 * functions. Owner: this file; the library stays loaded until exit. */
#ifndef TVC_MHD_H
#define TVC_MHD_H

#include <stddef.h>
#include <microhttpd.h>

/* Debian 12's libmicrohttpd12; the header the build compiled against (libmicrohttpd-dev) is its ABI. */
#define TVC_MHD_SONAME "libmicrohttpd.so.12"

#define TVC_MHD_FUNCS(X)                                                                  \
  X(start_daemon) X(stop_daemon) X(run) X(get_timeout) X(get_daemon_info)                 \
  X(get_connection_info) X(get_connection_values) X(lookup_connection_value)              \
  X(set_connection_option) X(suspend_connection) X(resume_connection) X(queue_response)   \
  X(create_response_from_buffer) X(create_response_from_callback) X(destroy_response)     \
  X(add_response_header)

#define TVC_MHD_FIELD(name) __typeof__(&MHD_##name) name;
typedef struct tvc_mhd {
  TVC_MHD_FUNCS(TVC_MHD_FIELD)
} tvc_mhd_t;
#undef TVC_MHD_FIELD

/* Filled by tvc_mhd_load; every field is NULL before. */
extern tvc_mhd_t tvc_mhd;

/* Loads the library once: 0, or -1 with a message naming the package in err. */
int tvc_mhd_load(char *err, size_t errlen);

#endif
