/* fuzz/outfile.c - log file rotation (src/core/os/outfile.c) with the file name,
 * max_bytes, backups and write sizes taken from the input, in a private
 * directory. Whatever they are: no file grows past max_bytes, only path,
 * path.1 .. path.backups exist, and, unless the disk refused something,
 * path.backups .. path.1, path read in that order are the last bytes written
 * (rotation keeps order and never loses what it keeps). Names that leave no
 * room for the ".N" suffix make renames fail: then writes are dropped, never
 * appended past max_bytes. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/os/outfile.h"
#include "fuzz.h"

static char dir[PATH_MAX];

static void clear_dir(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[PATH_MAX + 512];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  if (d) closedir(d);
}

static void remove_dir(void) {
  clear_dir();
  rmdir(dir);
}

static size_t count_files(void) {
  DIR *d = opendir(dir);
  size_t n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  if (d) closedir(d);
  return n;
}

/* Appends the file's bytes to buf (at *len); -1 if it does not exist. */
static long read_file(const char *path, char *buf, size_t *len, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t n = fread(buf + *len, 1, cap - *len, f);
  fclose(f);
  *len += n;
  return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!dir[0]) {
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (strlen(tmp) > sizeof dir - 40) abort();
    snprintf(dir, sizeof dir, "%s/tv-fuzz-outfile-XXXXXX", tmp);
    if (!mkdtemp(dir)) abort();
    atexit(remove_dir);
  }
  fz_in in = {data, size};
  /* a file name: one path component of up to 255 bytes, no '/' nor NUL */
  char name[256];
  size_t nlen = fz_u8(&in);
  const uint8_t *np = fz_bytes(&in, &nlen);
  size_t k = 0;
  for (size_t i = 0; i < nlen; i++)
    if (np[i] != '/' && np[i] != '\0') name[k++] = (char)np[i];
  name[k] = '\0';
  if (k == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) strcpy(name, "log");
  char path[PATH_MAX + 512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  uint64_t max = fz_u8(&in) % 64;
  uint32_t backups = fz_u8(&in) % 6;

  tv_outfile_t f;
  int rc = tv_outfile_open(&f, path, max, backups);
  FZ_CHECK(rc == 0 || rc == -ENAMETOOLONG, "open \"%s\": %d", name, rc);
  if (rc) return 0;
  size_t written = 0;
  char *all = malloc(size + 1);
  while (in.n) { /* writes of 0..31 bytes */
    size_t n = fz_u8(&in) % 32;
    const uint8_t *p = fz_bytes(&in, &n);
    memcpy(all + written, p, n);
    written += n;
    tv_outfile_write(&f, (const char *)p, n);
  }
  uint64_t dropped = f.dropped;
  tv_outfile_close(&f);

  /* oldest first: path.backups, ..., path.1, path */
  char *kept = malloc(written + 1), *rotated = malloc(strlen(path) + 16);
  size_t len = 0, nfiles = 0;
  for (uint32_t i = backups + 1; i-- > 0;) {
    if (i)
      sprintf(rotated, "%s.%u", path, i);
    else
      strcpy(rotated, path);
    size_t before = len;
    long n = read_file(rotated, kept, &len, written + 1);
    if (n < 0) continue;
    nfiles++;
    FZ_CHECK(max == 0 || len - before <= max, "%s has %zu bytes, max_bytes %llu", rotated,
             len - before, (unsigned long long)max);
  }
  FZ_CHECK(count_files() == nfiles, "%zu files, %zu of them path or path.1..%u", count_files(),
           nfiles, backups);
  if (dropped == 0) {
    FZ_CHECK(len <= written && memcmp(kept, all + written - len, len) == 0,
             "the files do not hold the last %zu of %zu bytes written", len, written);
    if (max == 0) FZ_CHECK(len == written, "unrotated file lost bytes: %zu of %zu", len, written);
  } else {
    FZ_CHECK(len + dropped <= written, "%zu kept + %llu dropped > %zu written", len,
             (unsigned long long)dropped, written);
  }
  free(kept);
  free(rotated);
  free(all);
  clear_dir();
  return 0;
}
