/* ctl_curl.h - libcurl, opened with dlopen by `taskvisor ctl` only: a host
 * that runs a config never maps it, nor the TLS, Kerberos and LDAP libraries
 * under it (BENCHMARKS.md, "Scale curves"). The calls go through tv_curl,
 * whose fields have the types of the header's functions.
 * Owner: this file; the library stays loaded until exit. */
#ifndef TV_HOST_CTL_CURL_H
#define TV_HOST_CTL_CURL_H

#include <curl/curl.h>

/* Debian 12's libcurl4 (libcurl4-openssl-dev's library: the build's headers are its ABI). */
#define TV_CURL_SONAME "libcurl.so.4"

#define TV_CURL_FUNCS(X)                                                                    \
  X(global_init) X(global_cleanup) X(easy_init) X(easy_cleanup) X(easy_setopt) X(easy_perform) \
  X(easy_getinfo) X(easy_strerror) X(easy_escape) X(free) X(slist_append) X(slist_free_all)

#define TV_CURL_FIELD(name) __typeof__(&curl_##name) name;
typedef struct tv_curl {
  TV_CURL_FUNCS(TV_CURL_FIELD)
} tv_curl_t;
#undef TV_CURL_FIELD

/* Filled by tv_curl_load; every field is NULL before. */
extern tv_curl_t tv_curl;

/* Loads the library: 0, or -1 after a message naming the package on stderr. */
int tv_curl_load(void);

#endif
