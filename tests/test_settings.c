/* metaplast tests: the table of settings (mpl_search_settings) and its readers agree (issue 21):
 * every field of mpl_search_cfg is a row or a known non-setting; every setting round-trips through
 * config.txt and is told apart by the diff; every enum name is accepted by the command and by
 * metaplast.search, a bad value refused naming the flag or key; --help lists every flag.
 * See LICENSE for copyright. */
#define _XOPEN_SOURCE 700   /* nftw */
#include "testutil.h"

#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>

#include "config.h"
#include "metaplast/status.h"

/* A field of mpl_search_cfg: its offset, size and alignment. */
typedef struct span { size_t off, size, align; const char *name; } span;

static int by_off(const void *a, const void *b) {
  const span *x = a, *y = b;
  return x->off < y->off ? -1 : x->off > y->off;
}

static size_t type_size(mpl_setting_type t) {
  switch (t) {
  case MPL_SETTING_INT: case MPL_SETTING_ENUM: return sizeof(int);
  case MPL_SETTING_SIZE: return sizeof(size_t);
  case MPL_SETTING_ULONG: return sizeof(unsigned long);
  case MPL_SETTING_DOUBLE: return sizeof(double);
  case MPL_SETTING_STRING: return sizeof(const char *);
  }
  return 0;
}

#define NOT_SETTING(f, al) {offsetof(mpl_search_cfg, f), sizeof(((mpl_search_cfg *)0)->f), al, #f}

/* Every byte of mpl_search_cfg is a setting's field (a row that is not informative, or command),
 * a known field that is not a setting, or padding: a field added to the struct without a row (or
 * a place on this list) fails here. */
static void test_every_field_is_a_row(void **state) {
  (void)state;
  static const span not_settings[] = {
    NOT_SETTING(hidden, alignof(int)),   /* the network row's, with n_hidden */
    NOT_SETTING(resume, alignof(int)),
    NOT_SETTING(stop, alignof(void *)),
    NOT_SETTING(out, alignof(void *)),
    NOT_SETTING(force, alignof(int)),
    NOT_SETTING(progress, alignof(void *)),
    NOT_SETTING(on_episode, alignof(void *)),
    NOT_SETTING(on_episode_ud, alignof(void *)),
    NOT_SETTING(comm, alignof(void *)),
    NOT_SETTING(threads, alignof(int)),
  };
  size_t n, k = 0;
  const mpl_setting *s = mpl_search_settings(&n);
  span *v = calloc(n + 16, sizeof *v);
  for (size_t i = 0; i < n; i++)
    if (!(s[i].flags & MPL_SETTING_INFO) || !strcmp(s[i].key, "command"))
      v[k++] = (span){s[i].offset, type_size(s[i].type), type_size(s[i].type), s[i].key};
  for (size_t i = 0; i < sizeof not_settings / sizeof *not_settings; i++) v[k++] = not_settings[i];
  qsort(v, k, sizeof *v, by_off);
  size_t end = 0;
  for (size_t i = 0; i < k; i++) {
    size_t next = (end + v[i].align - 1) / v[i].align * v[i].align;   /* after padding */
    if (v[i].off != next)
      fail_msg("mpl_search_cfg: bytes %zu..%zu before '%s' are no row of mpl_search_settings() (config.c) and no "
               "known non-setting", end, v[i].off, v[i].name);
    end = v[i].off + v[i].size;
  }
  if ((end + alignof(mpl_search_cfg) - 1) / alignof(mpl_search_cfg) * alignof(mpl_search_cfg) != sizeof(mpl_search_cfg))
    fail_msg("mpl_search_cfg: bytes after '%s' are no row of mpl_search_settings()", v[k - 1].name);
  free(v);
}

/* Each row names its key once; a flag has help (or follows a row that has); an enum has names. */
static void test_rows_well_formed(void **state) {
  (void)state;
  size_t n;
  const mpl_setting *s = mpl_search_settings(&n);
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < i; j++) {
      if (!strcmp(s[i].key, s[j].key)) fail_msg("key '%s' twice", s[i].key);
      if (s[i].flag && s[j].flag && !strcmp(s[i].flag, s[j].flag)) fail_msg("flag '%s' twice", s[i].flag);
      if (s[i].lua && s[j].lua && !strcmp(s[i].lua, s[j].lua)) fail_msg("Lua option '%s' twice", s[i].lua);
    }
    if (s[i].flag && !s[i].section) fail_msg("flag '%s' has no --help section", s[i].flag);
    if (s[i].flag && !s[i].help && (i == 0 || !s[i - 1].flag)) fail_msg("flag '%s' has no --help line", s[i].flag);
    if (s[i].type == MPL_SETTING_ENUM && (!s[i].names || !s[i].names[0])) fail_msg("enum '%s' has no names", s[i].key);
    if ((s[i].flags & MPL_SETTING_BOOL) && s[i].type == MPL_SETTING_INT && (s[i].lo != 0 || s[i].hi != 1))
      fail_msg("'%s' is a 0/1 setting with the range [%g, %g]", s[i].key, s[i].lo, s[i].hi);
  }
}

/* A value of row s other than the one c holds, within the row's range; 0 if there is none. */
static int change(const mpl_setting *s, mpl_search_cfg *c) {
  void *f = (char *)c + s->offset;
  switch (s->type) {
  case MPL_SETTING_INT: {
    int *p = f;
    *p = *p < s->hi ? *p + 1 : *p - 1;
    return *p >= s->lo && *p <= s->hi;
  }
  case MPL_SETTING_SIZE: *(size_t *)f += 1; return 1;
  case MPL_SETTING_ULONG: *(unsigned long *)f += 1; return 1;
  case MPL_SETTING_DOUBLE: {
    double *p = f, x = *p == 0 ? s->lo + (s->hi - s->lo) / 3 : *p / 3;
    *p = x >= s->lo && x <= s->hi && x != *p ? x : s->lo != *p ? s->lo : s->hi;
    return 1;
  }
  case MPL_SETTING_STRING: *(const char **)f = s->key; return 1;   /* a string unlike any default */
  case MPL_SETTING_ENUM: *(int *)f = !*(int *)f; return 1;
  }
  return 0;
}

/* The facts config.txt records beside the settings, for c's network. */
static void facts_of(const mpl_search_cfg *c, char *net, size_t n, mpl__config_facts *f) {
  size_t len = (size_t)snprintf(net, n, "64");
  for (int i = 0; i < c->n_hidden; i++) len += (size_t)snprintf(net + len, n - len, "-%d", c->hidden[i]);
  snprintf(net + len, n - len, "-6");
  *f = (mpl__config_facts){c->data ? c->data : "idx", 6, net, "", 0};
}

/* c written to dir/config.txt, read back into *back (*mem its strings). */
static void round_trip(mpl_search_cfg *c, const char *dir, mpl_search_cfg *back, char **mem) {
  char net[256];
  mpl__config_facts f;
  mpl_err err = {0};
  facts_of(c, net, sizeof net, &f);
  c->out = dir;
  if (mpl__config_write(c, &f, 0, &err) < 0) fail_msg("config write: %s", err.msg);
  if (mpl_search_config_load(dir, back, mem, &err) < 0) fail_msg("config load: %s", err.msg);
}

/* Every setting, changed alone from its default, is told apart by the diff under its key, is
 * written to config.txt and read back to the same value. */
static void test_round_trip(void **state) {
  (void)state;
  const char *dir = mpl_test_path("settings");
  mkdir(dir, 0700);
  size_t n;
  const mpl_setting *s = mpl_search_settings(&n);
  int changed = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i].flags & MPL_SETTING_INFO) continue;
    mpl_search_cfg a, b, back;
    mpl_search_defaults(&a);
    a.command = "metaplast search";
    b = a;
    if (!strcmp(s[i].key, "network")) b.n_hidden = 2, b.hidden[0] = 9, b.hidden[1] = 7;
    else if (!strcmp(s[i].key, "images")) b.images = "i.idx", b.labels = "l.idx", b.data = NULL;
    else if (!strcmp(s[i].key, "labels")) {   /* labels go with images */
      a.images = b.images = "i.idx", a.labels = "l.idx", b.labels = "m.idx", a.data = b.data = NULL;
    }
    else if (!change(&s[i], &b)) fail_msg("no other value of '%s' to try", s[i].key);
    const char *key = mpl_search_config_diff(&a, &b);
    if (!key || strcmp(key, s[i].key)) fail_msg("'%s' changed, the diff says '%s'", s[i].key, key ? key : "(none)");
    char *mem;
    round_trip(&b, dir, &back, &mem);
    key = mpl_search_config_diff(&b, &back);
    if (key) fail_msg("'%s' changed: config.txt reads back a different '%s'", s[i].key, key);
    free(mem);
    changed++;
  }
  assert_true(changed > 30);
}

/* A row's config.txt line with a bad value is refused naming the file, the line and the key. */
static void test_bad_values(void **state) {
  (void)state;
  size_t n;
  const mpl_setting *s = mpl_search_settings(&n);
  for (size_t i = 0; i < n; i++) {
    if (s[i].type == MPL_SETTING_STRING) continue;
    char text[256], *mem;
    mpl_search_cfg c;
    mpl_err err = {0};
    snprintf(text, sizeof text, "# x\n%s = bogus\n", s[i].key);
    if (mpl__config_parse(text, strlen(text), "d/config.txt", &c, &mem, &err) == 0)
      fail_msg("config.txt: '%s = bogus' accepted", s[i].key);
    char want[128];
    snprintf(want, sizeof want, "d/config.txt:2: %s = 'bogus': ", s[i].key);
    mpl_assert_contains(err.msg, want);
  }
}

/* The command: every flag of the table in --help, every enum name (and alias) accepted, a bad
 * value refused naming the flag; metaplast.search the same for every Lua option. */
static void test_command_and_lua(void **state) {
  (void)state;
  int status;
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "'%s' search --help 2>&1", MPL_CLI);
  char *help = mpl_test_run(cmd, &status);
  assert_int_equal(status, 0);
  size_t n;
  const mpl_setting *s = mpl_search_settings(&n);
  const char *script = mpl_test_path("settings.lua");
  FILE *lua = fopen(script, "w");
  assert_non_null(lua);
  fprintf(lua, "local m = require 'metaplast'\nlocal d = m.defaults()\n"
               "local function try(t, key)\n  t.on_episode = 1   -- read last: its error means t's value was taken\n"
               "  local ok, err = pcall(m.search, t)\n"
               "  assert(not ok and err:find(key, 1, true), key .. ': ' .. tostring(err))\nend\n");
  for (size_t i = 0; i < n; i++) {
    if (s[i].flag) {
      char want[64];
      snprintf(want, sizeof want, "--%s", s[i].flag);
      mpl_assert_contains(help, want);
    }
    if (s[i].lua) fprintf(lua, "assert(d['%s'] ~= nil or '%s' == 'images' or '%s' == 'labels' or '%s' == 'init' or "
                               "'%s' == 'sign' or '%s' == 'command', 'defaults() lacks %s')\n",
                          s[i].lua, s[i].lua, s[i].lua, s[i].lua, s[i].lua, s[i].lua, s[i].lua);
    if (s[i].type != MPL_SETTING_ENUM) continue;
    for (int a = 0; a < 2; a++)
      for (int k = 0; (a ? s[i].aliases : s[i].names) && (a ? s[i].aliases : s[i].names)[k]; k++) {
        const char *name = (a ? s[i].aliases : s[i].names)[k];
        if (s[i].flag) {
          snprintf(cmd, sizeof cmd, "'%s' search --%s %s --help 2>&1", MPL_CLI, s[i].flag, name);
          free(mpl_test_run(cmd, &status));
          if (status != 0) fail_msg("--%s %s refused", s[i].flag, name);
        }
        if (s[i].lua && !(s[i].flags & MPL_SETTING_BOOL))
          fprintf(lua, "try({%s = '%s'}, \"key 'on_episode'\")\n", s[i].lua, name);
      }
    if (s[i].flag) {
      snprintf(cmd, sizeof cmd, "'%s' search --%s bogus 2>&1", MPL_CLI, s[i].flag);
      char *out = mpl_test_run(cmd, &status), want[96];
      assert_int_equal(status, 2);
      snprintf(want, sizeof want, "--%s 'bogus': expected ", s[i].flag);
      mpl_assert_contains(out, want);
      free(out);
    }
    if (s[i].lua) fprintf(lua, "try({%s = 'bogus'}, \"key '%s'\")\n", s[i].lua, s[i].lua);
  }
  fprintf(lua, "print('lua ok')\n");
  fclose(lua);
  free(help);
  snprintf(cmd, sizeof cmd, "'%s' run '%s' 2>&1", MPL_CLI, script);
  char *out = mpl_test_run(cmd, &status);
  if (status != 0 || !strstr(out, "lua ok")) fail_msg("%s: %s", script, out);
  free(out);
}

/* The value of config.txt line "key = value" in text (up to the line's end), or NULL. */
static const char *line_of(const char *text, const char *key, int *len) {
  char k[128];
  snprintf(k, sizeof k, "\n%s = ", key);
  const char *p = strstr(text, k);
  if (!p) return NULL;
  p += strlen(k);
  *len = (int)strcspn(p, "\n");
  return p;
}

static int n_files, n_same;

/* A results directory's config.txt: it loads, and writing what was read gives the file back byte
 * for byte, but for the keys it predates. */
static int check_results_config(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)ftw;
  size_t len = strlen(path);
  if (type != FTW_F || len < 11 || strcmp(path + len - 11, "/config.txt")) return 0;
  char dir[4200], *mem, *text = mpl_test_read(path);
  snprintf(dir, sizeof dir, "%.*s", (int)(len - 11), path);
  mpl_search_cfg c;
  mpl_err err = {0};
  if (mpl_search_config_load(dir, &c, &mem, &err) < 0) fail_msg("%s", err.msg);
  n_files++;
  /* the facts, as the file states them */
  char data[256] = "", net[256] = "", signs[1024] = "";
  int n, classes = 0;
  const char *v;
  if ((v = line_of(text, "data", &n))) snprintf(data, sizeof data, "%.*s", n, v);
  if ((v = line_of(text, "network", &n))) snprintf(net, sizeof net, "%.*s", n, v);
  if ((v = line_of(text, "classes", &n))) classes = atoi(v);
  const char *cm = strstr(text, "# sign constraints in force (declared by the terms, then --sign):");
  if (cm) {
    cm += strlen("# sign constraints in force (declared by the terms, then --sign):");
    snprintf(signs, sizeof signs, "%.*s", (int)strcspn(cm, "\n"), cm);
    if (!strcmp(signs, " none")) signs[0] = '\0';
  }
  mpl__config_facts f = {data, classes, net, signs, strlen(signs)};
  char out[4200];
  snprintf(out, sizeof out, "%s.rewrite", mpl_test_path("settings-results"));
  mkdir(out, 0700);
  c.out = out;
  if (mpl__config_write(&c, &f, 0, &err) < 0) fail_msg("%s: %s", path, err.msg);
  char *again = mpl_test_read_in(out, "config.txt");
  char *ext = strstr(text, "\n# extended from ");   /* mpl__config_extend's comments follow the settings */
  if (ext) ext[1] = '\0';
  /* the lines of keys the file predates (written now with the value they had) are left out */
  char *kept = calloc(strlen(again) + 1, 1);
  for (const char *p = again; *p;) {
    size_t k = strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
    const char *eq = strstr(p, " = ");
    char key[64];
    snprintf(key, sizeof key, "%.*s", eq && eq < p + k ? (int)(eq - p) : 0, p);
    if (!key[0] || line_of(text, key, &n)) strncat(kept, p, k);
    p += k;
  }
  if (strcmp(text, kept)) fail_msg("%s: read and written again, it is not the same:\n%s", path, kept);
  n_same++;
  free(kept);
  free(text), free(again), free(mem);
  return 0;
}

/* The results directories of the repository (results/) load, and are written again the same. */
static void test_results_dirs(void **state) {
  (void)state;
  assert_int_equal(nftw(MPL_SOURCE_DIR "/results", check_results_config, 16, FTW_PHYS), 0);
  print_message("%d config.txt files under results/ load; %d are written again byte for byte\n",
                n_files, n_same);
  assert_true(n_files > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_field_is_a_row),
    cmocka_unit_test(test_rows_well_formed),
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_bad_values),
    cmocka_unit_test(test_command_and_lua),
    cmocka_unit_test(test_results_dirs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
