/* metaplast fuzz harnesses without libFuzzer: feed every file named on the command line (or
 * found in a directory named there) through LLVMFuzzerTestOneInput once. A crash, a sanitizer
 * report or a leak fails the test; so does an empty corpus. See LICENSE for copyright. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "%s: cannot open\n", path); return -1; }
  size_t cap = 4096, n = 0, k;
  uint8_t *buf = malloc(cap);
  while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0)
    if ((n += k) == cap) buf = realloc(buf, cap *= 2);
  fclose(f);
  if (!buf) return -1;
  uint8_t *exact = malloc(n ? n : 1); /* exactly n bytes, so ASan sees reads past the end */
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 1;
}

static int replay(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) { fprintf(stderr, "%s: missing\n", path); return -1; }
  if (!S_ISDIR(st.st_mode)) return replay_file(path);
  struct dirent **names;
  int m = scandir(path, &names, NULL, alphasort), count = 0;
  for (int i = 0; i < m; i++) {
    char p[4096];
    if (names[i]->d_name[0] != '.') {
      snprintf(p, sizeof p, "%s/%s", path, names[i]->d_name);
      int r = replay(p);
      if (r < 0) count = -1000000;
      else count += r;
    }
    free(names[i]);
  }
  free(names);
  return count;
}

int main(int argc, char **argv) {
  int total = 0, required = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--optional")) { required = -1; continue; } /* the paths after it may be absent */
    struct stat st;
    if (required < 0 && stat(argv[i], &st) < 0) continue;
    int r = replay(argv[i]);
    if (r < 0) return 1;
    total += r;
  }
  printf("%d inputs replayed\n", total);
  return total > 0 ? 0 : 1;
}
