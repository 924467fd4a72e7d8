/* fuzz/env.c - a process's environment and program lookup (src/core/os/spawn.c,
 * compiled in here for its static helpers): tv_env_build merges the host's
 * environment with a task's `env` (one block: every inherited variable a
 * task does not set, then the task's, in order), and the PATH search that
 * finds a `cmd` without a '/' in the task's PATH. */
#include "../src/core/os/spawn.c"

#include "fuzz.h"

/* A C string from a length byte and that many bytes (cut at a NUL). */
static char *next_string(fz_in *in) {
  size_t len = fz_u8(in) % 48;
  const uint8_t *p = fz_bytes(in, &len);
  return strndup((const char *)p, len);
}

/* The variable an entry sets: the bytes before its first '=' (all of it
 * without one). */
static int same_name(const char *a, const char *b) {
  size_t la = strcspn(a, "="), lb = strcspn(b, "=");
  return la == lb && memcmp(a, b, la) == 0;
}

static void check_env_build(fz_in *in) {
  int inherit = fz_u8(in) & 1;
  size_t nenv = fz_u8(in) % 12, nkv = fz_u8(in) % 12;
  char **host = calloc(nenv + 1, sizeof *host);
  char **kv = calloc(nkv + 1, sizeof *kv);
  for (size_t i = 0; i < nenv; i++) host[i] = next_string(in);
  for (size_t i = 0; i < nkv; i++) {
    char *s = next_string(in);
    if (!strchr(s, '=')) { /* the binding always passes NAME=value */
      kv[i] = malloc(strlen(s) + 2);
      strcpy(stpcpy(kv[i], s), "=");
      free(s);
    } else {
      kv[i] = s;
    }
  }
  char **saved = environ;
  environ = host;
  char **out = tv_env_build(inherit, (const char *const *)kv, nkv);
  environ = saved;
  FZ_CHECK(out != NULL, "tv_env_build failed");
  size_t k = 0;
  for (size_t i = 0; inherit && i < nenv; i++) {
    int overridden = 0;
    for (size_t j = 0; j < nkv; j++) overridden |= same_name(host[i], kv[j]);
    if (overridden) continue;
    FZ_CHECK(out[k] && strcmp(out[k], host[i]) == 0, "entry %zu: \"%s\", want \"%s\"", k,
             out[k] ? out[k] : "(end)", host[i]);
    k++;
  }
  for (size_t j = 0; j < nkv; j++, k++)
    FZ_CHECK(out[k] && strcmp(out[k], kv[j]) == 0, "entry %zu: \"%s\", want \"%s\"", k,
             out[k] ? out[k] : "(end)", kv[j]);
  FZ_CHECK(out[k] == NULL, "extra entry \"%s\"", out[k]);
  free(out); /* one block */
  for (size_t i = 0; i < nenv; i++) free(host[i]);
  for (size_t i = 0; i < nkv; i++) free(kv[i]);
  free(host);
  free(kv);
}

/* PATH entries the search may meet: real directories (with and without
 * programs), missing ones, the empty entry (the current directory), and
 * whatever the input spells. */
static const char *const dirs[] = {"/bin", "/usr/bin", "", ".", "/nonexistent", "/etc", "/",
                                   "/bin/", "//usr//bin", "/dev/null"};
static const char *const progs[] = {"sh", "true", "env", "passwd", "null", "", ".", "..",
                                    "no-such-program"};

static void check_resolve(fz_in *in) {
  char path[512] = "", name[64];
  size_t ndirs = fz_u8(in) % 6;
  for (size_t i = 0; i < ndirs; i++) {
    uint8_t c = fz_u8(in);
    char *own = NULL;
    const char *d = c < 200 ? dirs[c % (sizeof dirs / sizeof *dirs)] : (own = next_string(in));
    if (i) strcat(path, ":");
    strncat(path, d, 64);
    free(own);
  }
  uint8_t c = fz_u8(in);
  char *own = c < 200 ? NULL : next_string(in);
  snprintf(name, sizeof name, "%s", own ? own : progs[c % (sizeof progs / sizeof *progs)]);
  free(own);
  if (strchr(name, '/')) return; /* tv_spawn searches only for names without one */
  size_t size = 16 + fz_u8(in) * 4u; /* short buffers too */
  char *out = malloc(size);
  int rc = tv_spawn_resolve(name, fz_u8(in) & 1 ? path : NULL, out, size);
  FZ_CHECK(rc == 0 || rc == UV_ENOENT || rc == UV_EACCES, "resolve -> %d", rc);
  if (rc == 0) {
    size_t n = strlen(out), ln = strlen(name);
    struct stat st;
    FZ_CHECK(n < size && n > ln && out[n - ln - 1] == '/' && strcmp(out + n - ln, name) == 0,
             "\"%s\" found as \"%s\"", name, out);
    FZ_CHECK(access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode),
             "\"%s\" is not an executable file", out);
  }
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  check_env_build(&in);
  check_resolve(&in);
  return 0;
}
