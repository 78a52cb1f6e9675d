/* metaplast data: the --data names and the other ways to give data, what each is and where it is
 * read from (issue 25). See LICENSE for copyright. */
#include <stdio.h>
#include <string.h>

#include "metaplast/data.h"

#include "cli.h"

static void print_wrapped(const char *indent, const char *text) {
  int col = (int)strlen(indent);
  printf("%s", indent);
  int start = col;
  for (const char *p = text; *p;) {
    size_t k = strcspn(p, " ");
    if (col > start && col + 1 + (int)k > 100) printf("\n%s", indent), col = start;
    else if (col > start) putchar(' '), col++;
    printf("%.*s", (int)k, p);
    col += (int)k;
    p += k + (p[k] == ' ');
  }
  putchar('\n');
}

int cmd_data(int argc, char **argv) {
  (void)argv;
  if (argc > 2 || (argc == 2 && strcmp(argv[1], "-h") && strcmp(argv[1], "--help"))) {
    fprintf(stderr, "usage: " PROG " data\n");
    return 2;
  }
  int n;
  const mpl_dataset_info *d = mpl_dataset_list(&n);
  printf("Data for --data NAME (search, eval, trials; the Lua module's data field), or --images/--labels.\n"
         "Inputs: bytes are divided by 255; numbers (float IDX, float .npy, CSV) are taken as they are.\n");
  for (int i = 0; i < n; i++) {
    printf("\n%s\n", d[i].name);
    print_wrapped("    ", d[i].what);
    printf("    read from: %s\n", d[i].where);
  }
  return 0;
}
