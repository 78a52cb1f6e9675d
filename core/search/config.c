/* metaplast: a search's settings: their defaults, and the configuration a results directory
 * records (config.txt): written by a run, checked when it resumes, read back, compared, extended.
 * See LICENSE for copyright. */
#include "config.h"
#include "metaplast/results.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {====== Reading a value ====== */

/* The text forms of config.txt's values; each says what is wrong with a value in why (n bytes). */
static int bad(char *why, size_t n, const char *what) {
  snprintf(why, n, "%s", what);
  return -1;
}

static int get_long(const char *v, long lo, long hi, long *out, char *why, size_t n) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (end == v || *end || errno) return bad(why, n, "not an integer");
  if (x < lo || x > hi) {
    snprintf(why, n, "out of range [%ld, %ld]", lo, hi);
    return -1;
  }
  *out = x;
  return 0;
}

static int get_double(const char *v, double lo, double hi, double *out, char *why, size_t n) {
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end) return bad(why, n, "not a number");
  if (!(x >= lo && x <= hi)) {
    snprintf(why, n, "out of range [%g, %g]", lo, hi);
    return -1;
  }
  *out = x;
  return 0;
}

static int get_ulong(const char *v, unsigned long *out, char *why, size_t n) {
  char *end;
  errno = 0;
  unsigned long x = strtoul(v, &end, 10);
  if (end == v || *end || errno || v[0] == '-') return bad(why, n, "not an unsigned integer");
  *out = x;
  return 0;
}

/* The index of v among names, then aliases (value = index % the number of names), or -1 with
 * "expected a or b" (a, b or c; "a (x)" where a has the alias x) in why. */
static int get_choice(const mpl_setting *s, const char *v, int aliases, char *why, size_t n) {
  int k = 0, m = 0;
  for (; s->names[k]; k++)
    if (!strcmp(v, s->names[k])) return k;
  for (; aliases && s->aliases && s->aliases[m]; m++)
    if (!strcmp(v, s->aliases[m])) return m % k;
  size_t len = (size_t)snprintf(why, n, "expected ");
  for (int i = 0; i < k && len < n; i++) {
    const char *alias = aliases && s->aliases && i < m ? s->aliases[i] : NULL;
    len += (size_t)snprintf(why + len, n - len, "%s%s%s%s%s", i == 0 ? "" : i == k - 1 ? " or " : ", ", s->names[i],
                            alias ? " (" : "", alias ? alias : "", alias ? ")" : "");
  }
  return -1;
}

#define FIELD(T, c, s) ((T *)(void *)((char *)(c) + (s)->offset))
#define CFIELD(T, c, s) ((const T *)(const void *)((const char *)(c) + (s)->offset))

/* A value in the form of the row's type (the file's form: a flag's numbers are the command's). */
static int parse_typed(const mpl_setting *s, const char *v, int from, mpl_search_cfg *c, char *why, size_t n) {
  long l;
  int k;
  switch (s->type) {
  case MPL_SETTING_INT:
    if (get_long(v, (long)s->lo, (long)s->hi, &l, why, n) < 0) return -1;
    *FIELD(int, c, s) = (int)l;
    return 0;
  case MPL_SETTING_SIZE:
    if (get_long(v, (long)s->lo, (long)s->hi, &l, why, n) < 0) return -1;
    *FIELD(size_t, c, s) = (size_t)l;
    return 0;
  case MPL_SETTING_ULONG: return get_ulong(v, FIELD(unsigned long, c, s), why, n);
  case MPL_SETTING_DOUBLE: return get_double(v, s->lo, s->hi, FIELD(double, c, s), why, n);
  case MPL_SETTING_STRING:
    *FIELD(const char *, c, s) = (s->flags & MPL_SETTING_NONE) && !v[0] ? NULL : v;
    return 0;
  case MPL_SETTING_ENUM:
    if ((k = get_choice(s, v, from == MPL_FROM_FLAG, why, n)) < 0) return -1;
    *FIELD(int, c, s) = k;
    return 0;
  }
  return bad(why, n, "unknown type");
}

/* }====== */

/* {====== The table of settings ====== */

/* What a row's type cannot say: how config.txt writes it (NULL: "key = value" by its type; the
 * facts are what the run found: the data's name, classes, network), reads it (NULL: by its type)
 * and compares it (NULL: by its type). */
struct mpl__setting_hooks {
  void (*write)(const mpl_setting *s, const mpl_search_cfg *c, const mpl__config_facts *f, mpl__sb *sb);
  int (*parse)(mpl_search_cfg *c, const char *v, char *why, size_t n);
  int (*differ)(const mpl_search_cfg *a, const mpl_search_cfg *b);
};

static int str_differ(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") != 0; }

/* The value of row s in config.txt's form. */
static void write_typed(const mpl_setting *s, const mpl_search_cfg *c, mpl__sb *sb) {
  mpl__sb_printf(sb, "%s = ", s->key);
  switch (s->type) {
  case MPL_SETTING_INT: mpl__sb_printf(sb, "%d\n", *CFIELD(int, c, s)); break;
  case MPL_SETTING_SIZE: mpl__sb_printf(sb, "%zu\n", *CFIELD(size_t, c, s)); break;
  case MPL_SETTING_ULONG: mpl__sb_printf(sb, "%lu\n", *CFIELD(unsigned long, c, s)); break;
  case MPL_SETTING_DOUBLE: mpl__sb_printf(sb, "%.17g\n", *CFIELD(double, c, s)); break;
  case MPL_SETTING_STRING: {
    const char *v = *CFIELD(const char *, c, s);
    mpl__sb_printf(sb, "%s\n", v ? v : "");
    break;
  }
  case MPL_SETTING_ENUM: {   /* of two names, any value but 0 is the second */
    int v = *CFIELD(int, c, s), k = 0;
    while (s->names[k]) k++;
    mpl__sb_printf(sb, "%s\n", s->names[k == 2 ? v != 0 : v > 0 && v < k ? v : 0]);
    break;
  }
  }
}

/* command: the command line, its line breaks made spaces; none from the library. */
static void write_command(const mpl_setting *s, const mpl_search_cfg *c, const mpl__config_facts *f, mpl__sb *sb) {
  (void)f;
  if (!c->command) return;
  mpl__sb_printf(sb, "%s = ", s->key);
  for (const char *p = c->command; *p; p++) mpl__sb_printf(sb, "%c", *p == '\n' || *p == '\r' ? ' ' : *p);
  mpl__sb_printf(sb, "\n");
}
static const struct mpl__setting_hooks command_hooks = {write_command, NULL, NULL};

/* data: the name of the dataset read (informative); the setting itself is `source` (or images
 * and labels). A file's `source`, when present, wins over its `data`. */
static void write_data(const mpl_setting *s, const mpl_search_cfg *c, const mpl__config_facts *f, mpl__sb *sb) {
  (void)c;
  mpl__sb_printf(sb, "%s = %s\n", s->key, f->data);
}
static int parse_data(mpl_search_cfg *c, const char *v, char *why, size_t n) {
  (void)why, (void)n;
  if (!c->data) c->data = v;
  return 0;
}
static int differ_data(const mpl_search_cfg *a, const mpl_search_cfg *b) {
  return !a->images && !b->images && str_differ(a->data, b->data);
}
static const struct mpl__setting_hooks data_hooks = {write_data, parse_data, differ_data};

/* images and labels, written when images are given; source otherwise. */
static void write_images(const mpl_setting *s, const mpl_search_cfg *c, const mpl__config_facts *f, mpl__sb *sb) {
  (void)f;
  if (c->images) write_typed(s, c, sb);
}
static const struct mpl__setting_hooks images_hooks = {write_images, NULL, NULL};
static void write_source(const mpl_setting *s, const mpl_search_cfg *c, const mpl__config_facts *f, mpl__sb *sb) {
  (void)f;
  if (!c->images) mpl__sb_printf(sb, "%s = %s\n", s->key, c->data);
}
static int parse_source(mpl_search_cfg *c, const char *v, char *why, size_t n) {
  (void)why, (void)n;
  c->data = v;
  return 0;
}
static const struct mpl__setting_hooks source_hooks = {write_source, parse_source, NULL};

/* classes: the dataset's (informative, checked against the data on resuming). */
static void write_classes(const mpl_setting *s, const mpl_search_cfg *c, const mpl__config_facts *f, mpl__sb *sb) {
  (void)c;
  mpl__sb_printf(sb, "%s = %d\n", s->key, f->classes);
}
static int parse_classes(mpl_search_cfg *c, const char *v, char *why, size_t n) {
  long x;
  (void)c;
  return get_long(v, 1, 1000000, &x, why, n);
}
static const struct mpl__setting_hooks classes_hooks = {write_classes, parse_classes, NULL};

/* network: the layer sizes "784-170-130-100-70-10", written from the network built; the hidden
 * sizes are the inner numbers. The flag (--hidden) takes the hidden sizes alone: "170,130" or
 * "none". */
static void write_network(const mpl_setting *s, const mpl_search_cfg *c, const mpl__config_facts *f, mpl__sb *sb) {
  (void)c;
  mpl__sb_printf(sb, "%s = %s\n", s->key, f->network);
}
static int parse_network(mpl_search_cfg *c, const char *v, char *why, size_t n) {
  int sizes[MPL_MAX_LAYERS + 2], k = 0;
  for (const char *p = v;;) {
    char *end;
    errno = 0;
    long x = strtol(p, &end, 10);
    if (end == p || errno || x < 1 || x > 1000000 || (*end && *end != '-'))
      return bad(why, n, "expected layer sizes such as 784-170-10");
    if (k == MPL_MAX_LAYERS + 1) return bad(why, n, "too many layers");
    sizes[k++] = (int)x;
    if (!*end) break;
    p = end + 1;
  }
  if (k < 2) return bad(why, n, "expected at least input and output sizes");
  c->n_hidden = k - 2;
  for (int i = 0; i < k - 2; i++) c->hidden[i] = sizes[i + 1];
  return 0;
}
static int parse_hidden(mpl_search_cfg *c, const char *v, char *why, size_t n) {
  c->n_hidden = 0;
  if (!strcmp(v, "none")) return 0;
  for (const char *p = v; *p;) {
    char item[32];
    size_t k = strcspn(p, ",-");
    long x;
    if (k == 0 || k >= sizeof item || c->n_hidden == MPL_MAX_LAYERS - 1)
      return bad(why, n, "expected sizes like 170,130,100,70 (at most 15)");
    memcpy(item, p, k);
    item[k] = '\0';
    if (get_long(item, 1, 100000, &x, why, n) < 0) {
      char what[96];
      snprintf(what, sizeof what, "%s", why);
      snprintf(why, n, "'%s' is %s", item, what);
      return -1;
    }
    c->hidden[c->n_hidden++] = (int)x;
    p += k + (p[k] != '\0');
  }
  return 0;
}
static int differ_network(const mpl_search_cfg *a, const mpl_search_cfg *b) {
  return a->n_hidden != b->n_hidden || memcmp(a->hidden, b->hidden, (size_t)a->n_hidden * sizeof *a->hidden);
}
static const struct mpl__setting_hooks network_hooks = {write_network, parse_network, differ_network};

/* sign, then a comment: the sign constraints in force (declared by the terms, then --sign). */
static void write_sign(const mpl_setting *s, const mpl_search_cfg *c, const mpl__config_facts *f, mpl__sb *sb) {
  write_typed(s, c, sb);
  mpl__sb_printf(sb, "# sign constraints in force (declared by the terms, then --sign):");
  mpl__sb_printf(sb, "%s%s\n", f->signs, f->signs[0] ? "" : " none");
}
static const struct mpl__setting_hooks sign_hooks = {write_sign, NULL, NULL};

/* --lambda L|auto: auto is lambda_auto (its own line in config.txt); a number is left to the type. */
static int parse_lambda_flag(mpl_search_cfg *c, const char *v, char *why, size_t n) {
  (void)why, (void)n;
  c->lambda_auto = !strcmp(v, "auto");
  c->adam.lambda = 0;
  return !c->lambda_auto;
}

static const char *const sampling_names[] = {"clean", "paper", NULL};
static const char *const feedback_names[] = {"fixed", "symmetric", "direct", NULL},
                        *const feedback_aliases[] = {"fa", "bp", "dfa", NULL};
static const char *const l1_names[] = {"prox", "penalty", NULL};
static const char *const onoff_names[] = {"off", "on", NULL};
static const char *const method_names[] = {"robust", "plain", NULL};

/* The rows, in config.txt's order. */
#define AT(m) MPL_SETTING_INT, offsetof(mpl_search_cfg, m)
#define SIZE_AT(m) MPL_SETTING_SIZE, offsetof(mpl_search_cfg, m)
#define NUM_AT(m) MPL_SETTING_DOUBLE, offsetof(mpl_search_cfg, m)
#define STR_AT(m) MPL_SETTING_STRING, offsetof(mpl_search_cfg, m)
#define ENUM_AT(m, names) MPL_SETTING_ENUM, offsetof(mpl_search_cfg, m), 0, 0, names
#define REQ MPL_SETTING_REQUIRED
static const mpl_setting settings[] = {
  {"command", "command", NULL, NULL, NULL, NULL, STR_AT(command), .flags = MPL_SETTING_INFO, .hooks = &command_hooks},
  {"data", "data", "data", "NAME", "Data",
   "  --data NAME          fashion-mnist (default, Debian's dataset-fashion-mnist), fashion-mnist-test,\n"
   "                       emnist-bymerge:DIR (EMNIST ByMerge test split in DIR), csv:FILE[:LABEL_COLUMN]\n"
   "                       ('metaplast data' lists them, what each is and where it is read from)\n",
   STR_AT(data), .def_str = "fashion-mnist", .flags = REQ | MPL_SETTING_ABSENT, .hooks = &data_hooks},
  {"images", "images", "images", "F", "Data",
   "  --images F --labels F  an image/label pair instead of --data: IDX (byte or float images) or NumPy\n"
   "                       .npy (uint8/float32/float64 images, integer labels), raw or .gz; bytes / 255,\n"
   "                       numbers as they are (docs/data.md)\n",
   STR_AT(images), .hooks = &images_hooks},
  {"labels", "labels", "labels", "F", "Data", NULL, STR_AT(labels), .hooks = &images_hooks},
  {"source", NULL, NULL, NULL, NULL, NULL, STR_AT(data), .flags = MPL_SETTING_INFO, .hooks = &source_hooks},
  {"per_class", "per_class", "per-class", "N", "Data",
   "  --per-class N        keep the first N images of each class (default 0 = all; the paper: 400)\n",
   SIZE_AT(per_class), 0, INT_MAX, .flags = REQ},
  {"classes", NULL, NULL, NULL, NULL, NULL, MPL_SETTING_INT, 0 /* no field: a fact */, .flags = MPL_SETTING_INFO,
   .hooks = &classes_hooks},
  {"sampling", "sampling", "sampling", "MODE", "Tasks",
   "  --sampling MODE      clean (default: distinct classes, images drawn afresh, train/query disjoint)\n"
   "                       or paper (classes with replacement, each class's fixed first K+Q images)\n",
   ENUM_AT(task.mode, sampling_names), .flags = REQ},
  {"M", "ways", "ways", "M", "Tasks", "  --ways M             classes per task (5)\n", AT(task.m), 1, 10000,
   .def = 5, .flags = REQ},
  {"K", "shots", "shots", "K", "Tasks", "  --shots K            training images per class (50)\n", AT(task.k), 1,
   100000, .def = 50, .flags = REQ},
  {"Q", "queries", "queries", "Q", "Tasks", "  --queries Q          query images per class (10)\n", AT(task.q), 1,
   100000, .def = 10, .flags = REQ},
  {"network", "hidden", "hidden", "SIZES", "Network",
   "  --hidden SIZES       hidden layer sizes (170,130,100,70); output width = the dataset's classes\n",
   AT(n_hidden), .def = 4, .flags = REQ, .parse_flag = parse_hidden, .hooks = &network_hooks},
  {"beta", "beta", "beta", "B", "Network", "  --beta B             softplus sharpness (10)\n", NUM_AT(beta), 1e-6, 1e6,
   .def = 10, .flags = REQ},
  {"feedback", "feedback", "feedback", "MODE", "Network",
   "  --feedback MODE      fixed|fa (FA, default), symmetric|bp (BP) or direct|dfa (DFA: e_L to every layer\n"
   "                       through its own fixed random D_l)\n", ENUM_AT(feedback, feedback_names),
   feedback_aliases, .flags = REQ},
  {"bp_detach", "bp_detach", "bp-detach", NULL, "Network",
   "  --bp-detach          symmetric feedback: no meta-gradient through W's role as feedback (reference)\n",
   AT(bp_detach), 0, 1, .flags = REQ | MPL_SETTING_BOOL},
  {"terms", "terms", "terms", "SPEC", "Rule",
   "  --terms SPEC         paper | paper:F0,F2,F9 | x.so | x.so:a,b | rules/oja.lua | oja:F9 (default\n"
   "                       paper:F0): a plugin (.so) or a rule file of Lua formulas (.lua, docs/rules.md),\n"
   "                       as a file or a name on METAPLAST_PLUGIN_PATH / METAPLAST_RULES_PATH; repeat\n"
   "                       or join with ';' to combine sources ('metaplast terms SOURCE' lists one)\n",
   STR_AT(terms), .def_str = "paper:F0", .flags = REQ | MPL_SETTING_LIST},
  {"init", "init", "init", "NAME=V,...", "Rule",
   "  --init NAME=V,...    initial coefficients (default: F0 = 1e-3, others 0)\n", STR_AT(init),
   .flags = MPL_SETTING_NONE},
  {"sign", "sign", "sign", "NAME=+|-|free,...", "Rule",
   "  --sign NAME=+|-|free,...  keep a coefficient >= 0 (+) or <= 0 (-), projected after each step,\n"
   "                       or free it; none: every coefficient free (default: the terms' declared\n"
   "                       signs; the paper's F9 declares +, so theta9 >= 0)\n",
   STR_AT(sign), .flags = MPL_SETTING_NONE, .hooks = &sign_hooks},
  {"episodes", "episodes", "episodes", "N", "Meta-optimisation",
   "  --episodes N         meta-training episodes, i.e. meta-steps (600)\n", AT(episodes), 1, INT_MAX, .def = 600,
   .flags = REQ | MPL_SETTING_RESUME},
  {"meta_batch", "meta_batch", "meta-batch", "B", "Meta-optimisation",
   "  --meta-batch B       tasks per meta-step, gradients averaged (1, the paper; >1 damps noisy steps)\n",
   AT(meta_batch), 1, 4096, .def = 1, .flags = REQ},
  {"seed", "seed", "seed", "S", "Meta-optimisation",
   "  --seed S             seed of every random draw (1); same seed, same results bit for bit\n",
   MPL_SETTING_ULONG, offsetof(mpl_search_cfg, seed), .def = 1, .flags = REQ},
  {"lr", "lr", "lr", "LR", "Meta-optimisation",
   "  --lr, --beta1, --beta2, --eps   Adam (1e-3, 0.9, 0.999, 1e-8; eps > 0)\n", NUM_AT(adam.lr), 1e-300, 1e6,
   .def = NAN, .flags = REQ},
  {"beta1", "beta1", "beta1", "B1", "Meta-optimisation", NULL, NUM_AT(adam.beta1), 0, 0.999999999, .def = NAN,
   .flags = REQ},
  {"beta2", "beta2", "beta2", "B2", "Meta-optimisation", NULL, NUM_AT(adam.beta2), 0, 0.999999999, .def = NAN,
   .flags = REQ},
  {"eps", "eps", "eps", "EPS", "Meta-optimisation", NULL, NUM_AT(adam.eps), 1e-300, 1, .def = NAN, .flags = REQ},
  {"lambda", "lambda", "lambda", "L|auto", "Meta-optimisation",
   "  --lambda L|auto      L1 weight (robust: auto; plain: 0). Robust: on standardized coefficients, at L\n"
   "                       a coefficient stays 0 while |mean dL/d(its standardized value)| < L; auto: a\n"
   "                       path from lambda_max down, the sparsest rule within one SE of the best\n"
   "                       validated one, its terms refit without the penalty in the last sixth of the\n"
   "                       episodes (docs/discovery.md)\n",
   NUM_AT(adam.lambda), 0, 1e12, .def = NAN, .flags = REQ, .parse_flag = parse_lambda_flag},
  {"l1", "l1", "l1", "MODE", "Meta-optimisation",
   "  --l1 MODE            prox (default: proximal step, exact zeros) or penalty (the reference)\n",
   ENUM_AT(adam.l1, l1_names), .def = NAN, .flags = REQ},
  {"zero_tol", "zero_tol", "zero-tol", "T", "Meta-optimisation",
   "  --zero-tol T         |theta| <= T counts as zero in the printed rule (0)\n", NUM_AT(zero_tol), 0, 1e12,
   .flags = REQ},
  {"max_failures", "max_failures", "max-failures", "N", "Meta-optimisation",
   "  --max-failures N     stop after N consecutive failed (diverged or dead) episodes (20)\n",
   AT(max_failures), 1, INT_MAX, .def = 20, .flags = REQ},
  {"clip_grad", "clip_grad", "clip-grad", "C", "Meta-optimisation",
   "  --clip-grad C        clip the meta-gradient to global L2 norm C before each step (0 = off, default)\n",
   NUM_AT(clip_grad), 0, 1e300, .flags = 0},
  /* a config.txt without clip_rms predates --clip-rms: plain Adam */
  {"clip_rms", "clip_rms", "clip-rms", "K", "Meta-optimisation",
   "  --clip-rms K         clip each coordinate of the meta-gradient to K times Adam's running RMS of it\n"
   "                       (sqrt(vhat)) from the second step on, so that one outlier cannot freeze Adam\n"
   "                       (5; 0 = off: PyTorch's plain Adam, as the reference)\n",
   NUM_AT(adam.clip_rms), 0, 1e300, .def = NAN, .absent = 0, .flags = MPL_SETTING_ABSENT},
  /* plain method: detected and logged, failing the episode opt-in; robust: always a failure */
  {"dead_guard", "dead_guard", "dead-guard", "on|off", "Meta-optimisation",
   "  --dead-guard on|off  a dead network (output independent of the input, accuracy at chance), always\n"
   "                       logged, also fails the episode and rolls theta back like a diverged one (off;\n"
   "                       always on with --method robust)\n",
   ENUM_AT(dead_guard, onoff_names), .flags = MPL_SETTING_BOOL},
  {"checkpoint_every", "checkpoint_every", "checkpoint-every", "N", "Output",
   "  --checkpoint-every N save DIR/checkpoint every N episodes (10; 0 = only on SIGINT/SIGTERM/failure)\n",
   AT(checkpoint_every), 0, INT_MAX, .def = 10},
  /* a config.txt without method, lambda_auto, val_tasks predates the robust method and validation */
  {"method", "method", "method", "M", "Method (docs/discovery.md)",
   "  --method M           robust (default): standardized coefficients, validation on held-out images,\n"
   "                       step control after failures, the best validated rule reported, a verdict;\n"
   "                       plain: Adam on theta as published (validated for the verdict only; lambda\n"
   "                       a number, default 0)\n",
   ENUM_AT(method, method_names), .def = MPL_METHOD_ROBUST, .absent = MPL_METHOD_PLAIN,
   .flags = MPL_SETTING_ABSENT},
  /* robust: lambda chosen on a path by validation (docs/discovery.md); set by --lambda auto */
  {"lambda_auto", NULL, NULL, NULL, NULL, NULL, ENUM_AT(lambda_auto, onoff_names), .def = 1, .absent = 0,
   .flags = MPL_SETTING_ABSENT},
  {"val_tasks", "val_tasks", "val-tasks", "V", "Method (docs/discovery.md)",
   "  --val-tasks V        validation tasks (16; 0 = none, and no verdict)\n", AT(val_tasks), 0, 100000, .def = 16,
   .absent = 0, .flags = MPL_SETTING_ABSENT},
  {"refit", "refit", "refit", "on|off", "Method (docs/discovery.md)",
   "  --refit on|off       lambda auto: the last sixth of the episodes refits the chosen rule's terms\n"
   "                       without the penalty, the pruned ones held at 0 (on, default); off: the\n"
   "                       path's stages take every episode\n",
   ENUM_AT(refit, onoff_names), .def = 1, .absent = 1, .flags = MPL_SETTING_BOOL | MPL_SETTING_ABSENT},
  {"validate_every", "validate_every", "validate-every", "N", "Method (docs/discovery.md)",
   "  --validate-every N   episodes between validations (0 = max(5, episodes/20))\n", AT(validate_every), 0,
   INT_MAX, .flags = 0},
};
#undef AT
#undef SIZE_AT
#undef NUM_AT
#undef STR_AT
#undef ENUM_AT
#undef REQ
enum { N_SETTINGS = sizeof settings / sizeof *settings };

const mpl_setting *mpl_search_settings(size_t *n) {
  *n = N_SETTINGS;
  return settings;
}

const mpl_setting *mpl_search_setting(const char *name, int by) {
  for (size_t i = 0; i < N_SETTINGS; i++) {
    const char *s = by == MPL_SETTING_BY_KEY ? settings[i].key : by == MPL_SETTING_BY_LUA ? settings[i].lua : settings[i].flag;
    if (s && !strcmp(s, name)) return &settings[i];
  }
  return NULL;
}

int mpl_setting_parse(const mpl_setting *s, const char *text, int from, mpl_search_cfg *c, char *why, size_t n) {
  int rc = from == MPL_FROM_FLAG && s->parse_flag ? s->parse_flag(c, text, why, n) : 1;
  if (rc <= 0) return rc;
  if (s->hooks && s->hooks->parse) return s->hooks->parse(c, text, why, n);
  return parse_typed(s, text, from, c, why, n);
}

int mpl_setting_differ(const mpl_setting *s, const mpl_search_cfg *a, const mpl_search_cfg *b) {
  if (s->hooks && s->hooks->differ) return s->hooks->differ(a, b);
  switch (s->type) {
  case MPL_SETTING_INT: case MPL_SETTING_ENUM: return *CFIELD(int, a, s) != *CFIELD(int, b, s);
  case MPL_SETTING_SIZE: return *CFIELD(size_t, a, s) != *CFIELD(size_t, b, s);
  case MPL_SETTING_ULONG: return *CFIELD(unsigned long, a, s) != *CFIELD(unsigned long, b, s);
  case MPL_SETTING_DOUBLE: return *CFIELD(double, a, s) != *CFIELD(double, b, s);
  case MPL_SETTING_STRING: return str_differ(*CFIELD(const char *, a, s), *CFIELD(const char *, b, s));
  }
  return 0;
}

/* Set row s of c to v (a default, or the value of a key absent from config.txt). */
static void set_number(const mpl_setting *s, mpl_search_cfg *c, double v, const char *str) {
  switch (s->type) {
  case MPL_SETTING_INT: case MPL_SETTING_ENUM: *FIELD(int, c, s) = (int)v; break;
  case MPL_SETTING_SIZE: *FIELD(size_t, c, s) = (size_t)v; break;
  case MPL_SETTING_ULONG: *FIELD(unsigned long, c, s) = (unsigned long)v; break;
  case MPL_SETTING_DOUBLE: *FIELD(double, c, s) = v; break;
  case MPL_SETTING_STRING: *FIELD(const char *, c, s) = str; break;
  }
}

/* }====== */

/* {====== Defaults ====== */

/* The defaults of the rows (a NaN: mpl_adam_defaults's, of the optimiser), the hidden layers. */
void mpl_search_defaults(mpl_search_cfg *cfg) {
  static const int hidden[] = {170, 130, 100, 70};
  memset(cfg, 0, sizeof *cfg);
  mpl_adam_defaults(&cfg->adam);
  for (size_t i = 0; i < N_SETTINGS; i++)
    if (!(settings[i].flags & MPL_SETTING_INFO) && !isnan(settings[i].def))
      set_number(&settings[i], cfg, settings[i].def, settings[i].def_str);
  memcpy(cfg->hidden, hidden, sizeof hidden);
}

/* max(5, episodes / 20): the validation interval of a run whose validate_every is 0. */
int mpl__validate_every(int episodes) { return episodes / 20 > 5 ? episodes / 20 : 5; }

/* }====== */

/* {====== Writing config.txt ====== */

int mpl__config_write(const mpl_search_cfg *c, const mpl__config_facts *f, int check, mpl_err *err) {
  char text[8192];
  mpl__sb s = {text, sizeof text, 0};
  for (size_t i = 0; i < N_SETTINGS; i++) {
    const mpl_setting *r = &settings[i];
    const char *v = r->type == MPL_SETTING_STRING && r->hooks != &command_hooks ? *CFIELD(const char *, c, r) : NULL;
    if (v && strpbrk(v, "\r\n"))
      return mpl_errorf(err, MPL_EINVAL, "setting '%.100s' holds a line break: cannot be recorded in config.txt", v);
  }
  if (f->signs_len >= sizeof text) return mpl_errorf(err, MPL_EINVAL, "configuration too long to record");
  mpl__sb_printf(&s, "# metaplast search configuration (every value in force, defaults included)\n");
  for (size_t i = 0; i < N_SETTINGS; i++) {
    if (settings[i].hooks && settings[i].hooks->write) settings[i].hooks->write(&settings[i], c, f, &s);
    else write_typed(&settings[i], c, &s);
  }
  if (s.len >= sizeof text) return mpl_errorf(err, MPL_EINVAL, "configuration too long to record");
  if (!check) return mpl__write_atomic(c->out, MPL_RESULTS_CONFIG, text, err);
  /* resuming: the recorded facts the configuration does not set (the data's name, its classes,
   * the network's input and output widths) must still hold */
  char path[4200], *old;
  size_t len;
  mpl__join(path, sizeof path, c->out, MPL_RESULTS_CONFIG);
  int rc = mpl__read_file(path, 1 << 20, &old, &len, err);
  if (rc < 0) return rc;
  static const char *const facts[] = {"\ndata = ", "\nclasses = ", "\nnetwork = "};
  for (size_t i = 0; rc == 0 && i < sizeof facts / sizeof *facts; i++) {
    const char *a = strstr(text, facts[i]), *b = strstr(old, facts[i]);
    size_t na = a ? strcspn(a + 1, "\n") : 0, nb = b ? strcspn(b + 1, "\n") : 0;
    if (!a || !b || na != nb || memcmp(a, b, na + 1))
      rc = mpl_errorf(err, MPL_EINVAL, "%s: '%.*s' but the data now gives '%.*s': cannot resume", path, (int)nb,
                      b ? b + 1 : "", (int)na, a ? a + 1 : "");
  }
  free(old);
  return rc;
}

/* }====== */

/* {====== Reading config.txt ====== */

/* Parse the lines of s (NUL-terminated, split in place) into cfg; seen[i]: row i's key was met. */
static int parse_lines(char *s, const char *path, mpl_search_cfg *cfg, int *seen, mpl_err *err) {
  int rc = MPL_OK, line = 0;
  for (char *p = s; *p && rc == 0;) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = '\0';
    line++;
    char *next = nl ? nl + 1 : p + strlen(p);
    size_t n = strlen(p);
    if (n && p[n - 1] == '\r') p[--n] = '\0';
    if (!p[0] || p[0] == '#') { p = next; continue; }
    char *eq = strstr(p, " = ");
    if (!eq && n >= 2 && !strcmp(p + n - 2, " =")) eq = p + n - 2; /* empty value */
    if (!eq) return mpl_errorf(err, MPL_EFORMAT, "%s:%d: expected 'key = value', got '%.200s'", path, line, p);
    *eq = '\0';
    const char *val = eq[2] ? eq + 3 : eq + 2;
    const mpl_setting *r = mpl_search_setting(p, MPL_SETTING_BY_KEY);
    if (!r) return mpl_errorf(err, MPL_EFORMAT, "%s:%d: unknown key '%.200s'", path, line, p);
    if (seen[r - settings]++) return mpl_errorf(err, MPL_EFORMAT, "%s:%d: key '%s' given twice", path, line, p);
    char why[160];
    if (mpl_setting_parse(r, val, MPL_FROM_FILE, cfg, why, sizeof why) < 0)
      rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: %s = '%.200s': %s", path, line, p, val, why);
    p = next;
  }
  return rc;
}

int mpl__config_parse(const char *text, size_t len, const char *path, mpl_search_cfg *cfg, char **mem, mpl_err *err) {
  mpl_search_defaults(cfg);
  for (size_t i = 0; i < N_SETTINGS; i++)   /* the values of a file older than a key */
    if (settings[i].flags & MPL_SETTING_ABSENT) set_number(&settings[i], cfg, settings[i].absent, NULL);
  *mem = NULL;
  if (memchr(text, '\0', len)) return mpl_errorf(err, MPL_EFORMAT, "%s: not a text file (holds a NUL byte)", path);
  char *s = malloc(len + 1);
  if (!s) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  memcpy(s, text, len);
  s[len] = '\0';
  int seen[N_SETTINGS] = {0};
  int rc = parse_lines(s, path, cfg, seen, err);
  for (size_t i = 0; rc == 0 && i < N_SETTINGS; i++)
    if ((settings[i].flags & MPL_SETTING_REQUIRED) && !seen[i])
      rc = mpl_errorf(err, MPL_EFORMAT, "%s: key '%s' missing", path, settings[i].key);
  if (rc == 0 && !cfg->images != !cfg->labels)
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: images and labels go together", path);
  if (rc == 0 && cfg->images) cfg->data = NULL;
  if (rc == 0 && !cfg->images && !seen[mpl_search_setting("source", MPL_SETTING_BY_KEY) - settings] && cfg->per_class) {
    /* no source key (older files): data holds the dataset's name, base-N when per_class = N */
    char suffix[32];
    int k = snprintf(suffix, sizeof suffix, "-%zu", cfg->per_class);
    size_t dn = strlen(cfg->data);
    if (dn > (size_t)k && !strcmp(cfg->data + dn - (size_t)k, suffix)) ((char *)cfg->data)[dn - (size_t)k] = '\0';
  }
  if (rc < 0) {
    free(s);
    mpl_search_defaults(cfg);
    return rc;
  }
  *mem = s;
  return MPL_OK;
}

/* Why dir has no config.txt to resume from: no directory; a run stopped before its config.txt
 * was written (dir holds nothing but config.txt.tmp.PID files and a lock): what to run, its
 * recorded command if a temporary file holds it whole; the parent of a --trials or
 * --lambda-path run; or not a results directory. */
static int no_config(const char *dir, mpl_err *err) {
  DIR *d = opendir(dir);
  if (!d) return mpl_errorf(err, MPL_ENOTFOUND, "%s: cannot open: %s", dir, strerror(errno));
  char tmp[4200] = "";
  int other = 0, runs = 0;
  for (struct dirent *ent; (ent = readdir(d));) {
    const char *name = ent->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, MPL__LOCK_FILE)) continue;
    if (!strncmp(name, MPL_RESULTS_CONFIG ".tmp.", 15)) mpl__join(tmp, sizeof tmp, dir, name);
    else if (!strncmp(name, "trial-", 6) || !strncmp(name, "lambda-", 7)) runs = 1;
    else other = 1;
  }
  closedir(d);
  if (runs)
    return mpl_errorf(err, MPL_ENOTFOUND, "%s: no config.txt: it holds the runs of --trials or --lambda-path; resume "
                      "each of them (%s/trial-NNN, %s/lambda-L)", dir, dir, dir);
  if (other) return mpl_errorf(err, MPL_ENOTFOUND, "%s: no config.txt: is it a metaplast results directory?", dir);
  char *text = NULL, cmd[2048] = "";
  size_t len;
  mpl_err ignore = {0};
  if (tmp[0] && mpl__read_file(tmp, 1 << 20, &text, &len, &ignore) == 0) {
    const char *c = strstr(text, "\ncommand = "), *nl = c ? strchr(c + 11, '\n') : NULL;
    if (nl && nl - (c + 11) < (long)sizeof cmd - 32) snprintf(cmd, sizeof cmd, " (its command: %.*s)", (int)(nl - (c + 11)), c + 11);
  }
  free(text);
  return mpl_errorf(err, MPL_ENOTFOUND, "%s holds no started run (stopped before config.txt was written): run the "
                    "search again with --out %s%s", dir, dir, cmd);
}

int mpl_search_config_load(const char *dir, mpl_search_cfg *cfg, char **mem, mpl_err *err) {
  char path[4200];
  mpl__join(path, sizeof path, dir, MPL_RESULTS_CONFIG);
  char *text;
  size_t len;
  *mem = NULL;
  int rc = mpl__read_file(path, 1 << 20, &text, &len, err);
  if (rc == MPL_ENOTFOUND) return no_config(dir, err);
  if (rc < 0) return rc;
  rc = mpl__config_parse(text, len, path, cfg, mem, err);
  free(text);
  if (rc < 0) return rc;
  cfg->out = dir;
  cfg->resume = 1;
  return MPL_OK;
}

const char *mpl_search_config_diff(const mpl_search_cfg *a, const mpl_search_cfg *b) {
  for (size_t i = 0; i < N_SETTINGS; i++)
    if (!(settings[i].flags & MPL_SETTING_INFO) && mpl_setting_differ(&settings[i], a, b)) return settings[i].key;
  return NULL;
}

/* }====== */

/* {====== Extending a finished run (--resume DIR --episodes N, issue 25) ====== */

int mpl_search_extend(mpl_search_cfg *cfg, int episodes, mpl_err *err) {
  if (cfg->lambda_auto)
    return mpl_errorf(err, MPL_EINVAL, "%s: --episodes %d: this run chose lambda on a path (lambda_auto = on) whose "
                      "stages are laid over its %d episodes, so more episodes would move every stage and its lambda: "
                      "it cannot be extended; start a new run with --episodes %d, or with a fixed --lambda", cfg->out,
                      episodes, cfg->episodes, episodes);
  if (episodes <= cfg->episodes)
    return mpl_errorf(err, MPL_EINVAL, "%s: --episodes %d: the run has %d episodes; extending it needs more", cfg->out,
                      episodes, cfg->episodes);
  if (cfg->validate_every == 0) cfg->validate_every = mpl__validate_every(cfg->episodes);   /* the interval it used */
  cfg->episodes = episodes;
  return MPL_OK;
}

/* text with the value of line "key = ..." replaced (malloc'ed), or NULL if there is no such line. */
static char *set_line(const char *text, const char *key, const char *value) {
  char k[64];
  snprintf(k, sizeof k, "\n%s = ", key);
  const char *p = strstr(text, k);
  if (!p) return NULL;
  const char *v = p + strlen(k), *end = v + strcspn(v, "\n");
  size_t n = (size_t)(v - text) + strlen(value) + strlen(end) + 1;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%.*s%s%s", (int)(v - text), text, value, end);
  return out;
}

int mpl__config_extend(const char *dir, int from, const mpl_search_cfg *cfg, mpl_err *err) {
  char path[4200], *text, n[32], every[32];
  size_t len;
  mpl__join(path, sizeof path, dir, MPL_RESULTS_CONFIG);
  int rc = mpl__read_file(path, 1 << 20, &text, &len, err);
  if (rc < 0) return rc;
  snprintf(n, sizeof n, "%d", cfg->episodes);
  snprintf(every, sizeof every, "%d", cfg->validate_every);
  char *a = set_line(text, "episodes", n), *b = a ? set_line(a, "validate_every", every) : NULL;
  size_t need = b ? strlen(b) + 200 : 0;
  char *out = b ? malloc(need) : NULL;
  if (!out) rc = mpl_errorf(err, MPL_EFORMAT, "%s: no 'episodes' or 'validate_every' line to extend", path);
  else {
    snprintf(out, need, "%s%s# extended from %d to %d episodes (--resume --episodes; validate_every kept at %d)\n",
             b, b[strlen(b) - 1] == '\n' ? "" : "\n", from, cfg->episodes, cfg->validate_every);
    rc = mpl__write_atomic(dir, MPL_RESULTS_CONFIG, out, err);
  }
  free(text), free(a), free(b), free(out);
  return rc;
}

/* }====== */
