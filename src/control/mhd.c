/* mhd.c - libmicrohttpd by dlopen (see mhd.h). */
#include "mhd.h"

#include <dlfcn.h>
#include <stdio.h>

tvc_mhd_t tvc_mhd;

int tvc_mhd_load(char *err, size_t errlen) {
  static int loaded;
  if (loaded) return 0;
  void *lib = dlopen(TVC_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(err, errlen, "the control API needs %s (Debian package libmicrohttpd12): %s",
             TVC_MHD_SONAME, dlerror());
    return -1;
  }
  tvc_mhd_t api;
  const char *missing = NULL;
#define TVC_MHD_LOAD(name) \
  if (!(api.name = (__typeof__(api.name))dlsym(lib, "MHD_" #name)) && !missing) missing = "MHD_" #name;
  TVC_MHD_FUNCS(TVC_MHD_LOAD)
#undef TVC_MHD_LOAD
  if (missing) {
    snprintf(err, errlen, "%s has no %s: not the libmicrohttpd this host was built for", TVC_MHD_SONAME,
             missing);
    dlclose(lib);
    return -1;
  }
  tvc_mhd = api;
  loaded = 1;
  return 0;
}
