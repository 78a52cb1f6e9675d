/* Label files whose labels skip a class (issue 23, item 5): a label of 200 in a 10-class set
 * used to widen the output layer to 201 classes and report accuracy 0 with exit 0. Now the load
 * fails naming the file, the label, its record and the class without images; sound files load
 * as before, and an image/label count mismatch names both files. See LICENSE for copyright. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaplast/data.h"

#include "testutil.h"

static int failures;

#define EXPECT(cond, ...)                 \
  do {                                    \
    if (!(cond)) {                        \
      printf("FAIL line %d: ", __LINE__); \
      printf(__VA_ARGS__);                \
      printf("\n");                       \
      failures++;                         \
    }                                     \
  } while (0)

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* An IDX pair: n images of 2x2 pixels and the labels given. */
static void write_pair(const char *img, const char *lab, const uint8_t *labels, size_t n, size_t n_images) {
  uint8_t *b = calloc(16 + 4 * n_images + 8 + n, 1);
  put32(b, 0x803), put32(b + 4, (uint32_t)n_images), put32(b + 8, 2), put32(b + 12, 2);
  for (size_t i = 0; i < 4 * n_images; i++) b[16 + i] = (uint8_t)(i * 37);
  mpl_test_write(img, b, 16 + 4 * n_images);
  put32(b, 0x801), put32(b + 4, (uint32_t)n);
  memcpy(b + 8, labels, n);
  mpl_test_write(lab, b, 8 + n);
  free(b);
}

static void expect_refused(const char *what, const uint8_t *labels, size_t n, const char *const *needles) {
  char img[4096], lab[4096];
  snprintf(img, sizeof img, "%s", mpl_test_path("labels-images.idx"));
  snprintf(lab, sizeof lab, "%s", mpl_test_path("labels-labels.idx"));
  write_pair(img, lab, labels, n, n);
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  int rc = mpl_dataset_load_idx(img, lab, 0, &ds, &err);
  int ok = rc == MPL_EFORMAT && !ds && !strncmp(err.msg, lab, strlen(lab));
  for (int i = 0; ok && needles[i]; i++) ok = strstr(err.msg, needles[i]) != NULL;
  EXPECT(ok, "%s: expected MPL_EFORMAT naming %s and the words given, got %d: %s", what, lab, rc, err.msg);
  if (ok) printf("ok   %s: %s\n", what, err.msg);
  mpl_dataset_free(ds);
}

int main(void) {
  uint8_t l[64];
  /* ten classes, three images each, then a 200 at record 30 */
  for (int i = 0; i < 30; i++) l[i] = (uint8_t)(i % 10);
  l[30] = 200;
  expect_refused("a label of 200 in a 10-class set", l, 31,
                 (const char *[]){"label 200 of record 30", "no record has label 10", "labels 0..9 all occur",
                                  "1 record with labels up to 200", NULL});
  /* the stray label first in the file: the record named is the first beyond the gap */
  l[0] = 12, l[30] = 0;
  expect_refused("a stray 12 at record 0", l, 31,
                 (const char *[]){"label 12 of record 0", "no record has label 10", NULL});
  /* no class 0 */
  for (int i = 0; i < 20; i++) l[i] = (uint8_t)(1 + i % 4);
  expect_refused("no image of class 0", l, 20,
                 (const char *[]){"label 1 of record 0", "no record has label 0 (20 records with labels up to 4)", NULL});
  /* a hole in the middle */
  for (int i = 0; i < 20; i++) l[i] = (uint8_t)(i % 5 == 2 ? 3 : i % 5);
  expect_refused("no image of class 2", l, 20, (const char *[]){"label 3 of record 2", "no record has label 2", NULL});

  /* sound labels load, with n_classes = max + 1 */
  char img[4096], lab[4096];
  snprintf(img, sizeof img, "%s", mpl_test_path("labels-images.idx"));
  snprintf(lab, sizeof lab, "%s", mpl_test_path("labels-labels.idx"));
  for (int i = 0; i < 30; i++) l[i] = (uint8_t)(9 - i % 10);
  write_pair(img, lab, l, 30, 30);
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  int rc = mpl_dataset_load_idx(img, lab, 0, &ds, &err);
  EXPECT(rc == 0 && ds && ds->n_classes == 10 && ds->n == 30, "ten classes load: %d %s", rc, err.msg);
  if (rc == 0) printf("ok   ten classes, three images each: %d classes\n", ds->n_classes);
  mpl_dataset_free(ds);
  /* counts differ: both files named */
  write_pair(img, lab, l, 30, 29);
  ds = NULL;
  rc = mpl_dataset_load_idx(img, lab, 0, &ds, &err);
  EXPECT(rc == MPL_EFORMAT && strstr(err.msg, img) && strstr(err.msg, lab) && strstr(err.msg, "29 images") &&
             strstr(err.msg, "30 labels"),
         "count mismatch: %d %s", rc, err.msg);
  if (rc == MPL_EFORMAT) printf("ok   count mismatch: %s\n", err.msg);
  mpl_dataset_free(ds);
  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
