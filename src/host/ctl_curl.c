/* ctl_curl.c - libcurl by dlopen (see ctl_curl.h). */
#include "ctl_curl.h"

#include <dlfcn.h>

#include "ctl.h"

tv_curl_t tv_curl;

int tv_curl_load(void) {
  void *lib = dlopen(TV_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    tv_client_error("needs %s (Debian package libcurl4): %s", TV_CURL_SONAME, dlerror());
    return -1;
  }
  tv_curl_t api;
  const char *missing = NULL;
#define TV_CURL_LOAD(name) \
  if (!(api.name = (__typeof__(api.name))dlsym(lib, "curl_" #name)) && !missing) missing = "curl_" #name;
  TV_CURL_FUNCS(TV_CURL_LOAD)
#undef TV_CURL_LOAD
  if (missing) {
    tv_client_error("%s has no %s: not the libcurl this host was built for", TV_CURL_SONAME, missing);
    dlclose(lib);
    return -1;
  }
  tv_curl = api;
  return 0;
}
