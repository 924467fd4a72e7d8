/* lcreds.c - what sup:add needs to resolve a process's user, group,
 * groups and limits in the host (preflight.lua): names into ids with
 * getpwnam_r and friends (never in a child), the host's own ids,
 * capabilities, nice and limits, so a change the host may not make is an
 * error at add time, not a failed spawn at every attempt. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <lauxlib.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/os/creds.h"
#include "lcreds.h"

/* getpw*_r's buffer: grown on ERANGE up to a bound (an entry is small). */
#define ENTRY_MAX (1 << 20)

/* An id given as a number, or -1 when `v` is a name (a string of digits is
 * a name only if that name exists: the caller tries the name first). */
static long as_id(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER) return (long)lua_tointeger(L, idx);
  return -1;
}

/* core.user_info(name | uid): { uid, gid, name, home, shell }, or nil. */
static int user_info(lua_State *L) {
  long id = as_id(L, 1);
  const char *name = id < 0 ? luaL_checkstring(L, 1) : NULL;
  struct passwd pw, *res = NULL;
  size_t size = 1024;
  char *buf = NULL;
  int rc;
  do {
    char *nb = realloc(buf, size);
    if (!nb) break;
    buf = nb;
    rc = name ? getpwnam_r(name, &pw, buf, size, &res) : getpwuid_r((uid_t)id, &pw, buf, size, &res);
    size *= 2;
  } while (rc == ERANGE && size <= ENTRY_MAX);
  if (!res) {
    free(buf);
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, pw.pw_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, pw.pw_gid);
  lua_setfield(L, -2, "gid");
  lua_pushstring(L, pw.pw_name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, pw.pw_dir ? pw.pw_dir : "/");
  lua_setfield(L, -2, "home");
  lua_pushstring(L, pw.pw_shell ? pw.pw_shell : "/bin/sh");
  lua_setfield(L, -2, "shell");
  free(buf);
  return 1;
}

/* core.group_info(name | gid): gid, name; or nil. */
static int group_info(lua_State *L) {
  long id = as_id(L, 1);
  const char *name = id < 0 ? luaL_checkstring(L, 1) : NULL;
  struct group gr, *res = NULL;
  size_t size = 1024;
  char *buf = NULL;
  int rc;
  do {
    char *nb = realloc(buf, size);
    if (!nb) break;
    buf = nb;
    rc = name ? getgrnam_r(name, &gr, buf, size, &res) : getgrgid_r((gid_t)id, &gr, buf, size, &res);
    size *= 2;
  } while (rc == ERANGE && size <= ENTRY_MAX);
  if (!res) {
    free(buf);
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, gr.gr_gid);
  lua_pushstring(L, gr.gr_name);
  free(buf);
  return 2;
}

/* core.user_groups(name, gid): the user's groups as initgroups would set
 * them (gid first), a list of at most TV_CREDS_MAX_GROUPS gids. */
static int user_groups(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  gid_t gid = (gid_t)luaL_checkinteger(L, 2);
  gid_t groups[TV_CREDS_MAX_GROUPS];
  int n = TV_CREDS_MAX_GROUPS;
  if (getgrouplist(name, gid, groups, &n) < 0) n = TV_CREDS_MAX_GROUPS; /* (more: the first ones) */
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, groups[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int has_cap(const struct __user_cap_data_struct *d, int cap) {
  return (d[cap / 32].effective >> (cap % 32)) & 1;
}

/* core.host_creds(): { uid, gid (effective), groups = {...}, nice,
 * setuid, setgid, sys_resource, sys_nice (effective capabilities) }. */
static int host_creds(lua_State *L) {
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, geteuid());
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, getegid());
  lua_setfield(L, -2, "gid");
  gid_t groups[TV_CREDS_MAX_GROUPS];
  int n = getgroups(TV_CREDS_MAX_GROUPS, groups);
  lua_createtable(L, n > 0 ? n : 0, 0);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, groups[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "groups");
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, 0);
  lua_pushinteger(L, errno ? 0 : nice);
  lua_setfield(L, -2, "nice");
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  syscall(SYS_capget, &hdr, data); /* (fails: no capability) */
  static const struct {
    const char *name;
    int cap;
  } caps[] = {{"setuid", CAP_SETUID}, {"setgid", CAP_SETGID}, {"sys_resource", CAP_SYS_RESOURCE},
              {"sys_nice", CAP_SYS_NICE}};
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    lua_pushboolean(L, has_cap(data, caps[i].cap));
    lua_setfield(L, -2, caps[i].name);
  }
  return 1;
}

static void push_lim(lua_State *L, rlim_t v) {
  if (v == RLIM_INFINITY)
    lua_pushinteger(L, -1);
  else
    lua_pushinteger(L, (lua_Integer)v);
}

/* core.rlimit(name): resource number, the host's soft and hard limits (-1:
 * infinity); nil for an unknown name. core.rlimit() lists the names. */
static int rlimit(lua_State *L) {
  size_t n = tv_rlimit_count;
  const tv_rlimit_name_t *limits = tv_rlimit_names;
  if (lua_isnoneornil(L, 1)) {
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
      lua_pushstring(L, limits[i].name);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
  }
  const char *name = luaL_checkstring(L, 1);
  for (size_t i = 0; i < n; i++)
    if (strcmp(limits[i].name, name) == 0) {
      struct rlimit lim;
      if (getrlimit(limits[i].resource, &lim) != 0) lim.rlim_cur = lim.rlim_max = RLIM_INFINITY;
      lua_pushinteger(L, limits[i].resource);
      push_lim(L, lim.rlim_cur);
      push_lim(L, lim.rlim_max);
      return 3;
    }
  lua_pushnil(L);
  return 1;
}

void ltv_creds_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"user_info", user_info},   {"group_info", group_info},
                                 {"user_groups", user_groups}, {"host_creds", host_creds},
                                 {"rlimit", rlimit},         {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
