/* metaplast: a search's settings (mpl_search_cfg), their defaults, and the configuration a results
 * directory records (config.txt): read back, compared, extended. search.h includes this header.
 * See LICENSE for copyright. */
#ifndef METAPLAST_CONFIG_H
#define METAPLAST_CONFIG_H

#include <signal.h>
#include <stdio.h>

#include "metaplast/comm.h"
#include "metaplast/data.h"
#include "metaplast/net.h"
#include "metaplast/optim.h"
#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MPL_METHOD_ROBUST = 0, MPL_METHOD_PLAIN = 1 };

typedef struct mpl_search_cfg {
  const char *data;        /* named source (mpl_dataset_open), default "fashion-mnist" */
  const char *images;      /* or an explicit IDX pair (both set) */
  const char *labels;
  size_t per_class;        /* keep the first per_class images of each class (0 = all) */
  mpl_task_cfg task;       /* M, K, Q, sampling mode */
  int n_hidden;            /* hidden layer sizes; input and output come from the dataset */
  int hidden[MPL_MAX_LAYERS - 1];
  double beta;
  mpl_feedback feedback;
  int bp_detach;
  const char *terms;       /* --terms specification, default "paper:F0" */
  /* The method (docs/discovery.md): MPL_METHOD_ROBUST (default) meta-learns standardized
   * coefficients on training images, validates the rule on held-out images, controls the step
   * after failures and reports the best validated rule; MPL_METHOD_PLAIN is Adam on theta as
   * published (with sign none and clip_rms 0: the paper's method exactly), validated for the
   * verdict only, on tasks drawn from the same images. */
  int method;
  int lambda_auto;         /* choose lambda on a warm-started path by validation (--lambda auto) */
  int val_tasks;           /* validation tasks (default 16; 0 = none: no verdict can be given) */
  int validate_every;      /* episodes between validations (0 = max(5, episodes / 20)) */
  const char *init;        /* initial-theta overrides "F9=0.01,...", or NULL */
  const char *sign;        /* sign constraints "F9=+,F2=-", or NULL (none, the paper) */
  int episodes;            /* meta-steps */
  int meta_batch;          /* tasks per meta-step, gradients averaged (1 = the paper) */
  unsigned long seed;
  mpl_adam_cfg adam;
  double zero_tol;         /* |theta| <= zero_tol counts as zero in reports (penalty mode) */
  int max_failures;        /* stop after this many consecutive failed (diverged or dead) episodes */
  double clip_grad;        /* clip the meta-gradient to this global L2 norm before the step (0 = off) */
  int dead_guard;          /* a dead network (docs/reliability.md) fails the episode (default 0: logged only) */
  int checkpoint_every;    /* write out/checkpoint every N episodes (default 10; 0 = only when stopped) */
  int resume;              /* continue the run in out from its checkpoint (cfg = its config.txt) */
  volatile sig_atomic_t *stop; /* polled after each episode: non-zero = checkpoint and return, or NULL */
  const char *out;         /* results directory (created), or NULL for none */
  int force;               /* allow writing into a directory that already holds a run */
  FILE *progress;          /* live progress line (e.g. stderr), or NULL */
  const char *command;     /* the command line, recorded in config.txt */
  /* Called after each episode with its number (1-based), query accuracy and loss (NaN if it
   * diverged), on the thread running the search; NULL for none. mpl_trials_run uses it for its
   * one-line progress over all trials. */
  void (*on_episode)(void *ud, int episode, double accuracy, double loss);
  void *on_episode_ud;
  /* Several processes sharing the work (comm.h: the meta-batch's tasks here, the runs in
   * trials.h), or NULL for one process. Not a setting: results are the same either way. */
  const mpl_comm *comm;
  /* Threads sharing the work of one search: the tasks of each meta-step (meta_batch >= 2; of this
   * process's block under comm) and the validation tasks, each thread with its own workspace
   * (default 0: every online CPU, at most one per task run at once; 1: one thread). Not a setting
   * either: the results are the same bit for bit whatever the count (the tasks' gradients and
   * statistics are summed in task order). mpl_trials_run runs each of its runs on one thread. */
  int threads;
  /* lambda auto (robust, with validation tasks, at least 120 episodes): the last sixth of the
   * episodes refits the chosen rule's terms without the penalty, the pruned ones held at 0, the
   * step annealed (default 1; 0: the path's stages take all the episodes, its last stage runs to
   * the end). docs/discovery.md, "The refit". */
  int refit;
} mpl_search_cfg;

/* {====== The table of settings ====== */

/* Every setting of a search is one row of the table mpl_search_settings() returns, in config.txt's
 * order. Its readers: mpl_search_defaults, config.txt's writer, parser and diff (config.c), the
 * command's flags and --help (cli/cmd_search.c) and metaplast.search's options (lua/lmetaplast.c).
 * A new setting is its field in mpl_search_cfg and its row (docs/architecture.md). */
typedef enum mpl_setting_type {
  MPL_SETTING_INT,     /* int in [lo, hi] */
  MPL_SETTING_SIZE,    /* size_t in [lo, hi] */
  MPL_SETTING_ULONG,   /* unsigned long (written %lu) */
  MPL_SETTING_DOUBLE,  /* double in [lo, hi] (written %.17g) */
  MPL_SETTING_STRING,  /* const char * */
  MPL_SETTING_ENUM     /* int: the index of its name in names */
} mpl_setting_type;

enum {
  MPL_SETTING_REQUIRED = 1,  /* config.txt must hold the key */
  MPL_SETTING_INFO = 2,      /* recorded in config.txt for the reader, not a setting (not compared) */
  MPL_SETTING_RESUME = 4,    /* a resume may change it (--resume DIR --episodes N: mpl_search_extend) */
  MPL_SETTING_BOOL = 8,      /* 0 or 1: a Lua boolean; a flag without an argument (arg NULL) sets 1 */
  MPL_SETTING_NONE = 16,     /* string: "" in config.txt is NULL, none */
  MPL_SETTING_ABSENT = 32,   /* a config.txt without the key predates it: the value is `absent` */
  MPL_SETTING_LIST = 64      /* string: the flag may be repeated, its values joined with ';' */
};

struct mpl__setting_hooks;   /* custom handling, in config.c */

typedef struct mpl_setting {
  const char *key;          /* config.txt key and the name mpl_search_config_diff returns */
  const char *lua;          /* the option of metaplast.search, or NULL */
  const char *flag;         /* the flag of `metaplast search` without "--", or NULL */
  const char *arg;          /* the flag's argument in --help ("N"), NULL for a flag without one */
  const char *section;      /* the flag's section of --help */
  const char *help;         /* the flag's --help lines, or NULL: described with the row before */
  mpl_setting_type type;
  size_t offset;            /* the field in mpl_search_cfg */
  double lo, hi;            /* the range of a number */
  const char *const *names; /* enum: its names, NULL-terminated; value = index */
  const char *const *aliases; /* enum: more names the flag and Lua accept, value = index % (number of names) */
  double def;               /* the default of a number or enum (NaN: set by mpl_adam_defaults) */
  const char *def_str;      /* the default of a string */
  double absent;            /* MPL_SETTING_ABSENT: the value when config.txt lacks the key */
  int flags;                /* MPL_SETTING_* */
  /* The flag's argument when the type cannot read it (--hidden 170,130; --lambda auto), or NULL:
   * 0 when it read the value, 1 when it leaves the value to the type's reader (--lambda 0.1), -1
   * on error, and why (n bytes) says what is wrong with it. */
  int (*parse_flag)(struct mpl_search_cfg *cfg, const char *text, char *why, size_t n);
  const struct mpl__setting_hooks *hooks; /* config.txt's custom lines (data, network, sign...), or NULL */
} mpl_setting;

/* The table, and its number of rows in *n. */
MPL_API const mpl_setting *mpl_search_settings(size_t *n);

/* The row whose config.txt key, Lua option or flag (without "--") is name, or NULL. */
enum { MPL_SETTING_BY_KEY, MPL_SETTING_BY_LUA, MPL_SETTING_BY_FLAG };
MPL_API const mpl_setting *mpl_search_setting(const char *name, int by);

/* Where a value comes from, for mpl_setting_parse: a line of config.txt or a flag's argument. */
enum { MPL_FROM_FILE = 0, MPL_FROM_FLAG = 1 };

/* Set setting s of cfg from text (a config.txt value, or the argument of s->flag; a flag's number
 * in config.txt's form: the command reads it with its own messages). On error -1,
 * and why (n bytes) says what is wrong with the value ("out of range [1, 10000]"). A string is not
 * copied: cfg points at text. */
MPL_API int mpl_setting_parse(const mpl_setting *s, const char *text, int from, mpl_search_cfg *cfg, char *why,
                              size_t n);

/* Whether setting s differs in a and b. */
MPL_API int mpl_setting_differ(const mpl_setting *s, const mpl_search_cfg *a, const mpl_search_cfg *b);

/* }====== */

/* The defaults of PAPER.md: Fashion-MNIST, 5-way 50+10 clean tasks, 784-170-130-100-70-C,
 * beta 10, FA, F0 alone, 600 episodes, seed 1, Adam 1e-3, lambda 0, proximal L1. */
MPL_API void mpl_search_defaults(mpl_search_cfg *cfg);

/* Read the configuration a results directory was run with (dir/config.txt) into cfg, for
 * resuming; cfg->out = dir, cfg->resume = 1. cfg's strings live in *mem: free(*mem) after use. */
MPL_API int mpl_search_config_load(const char *dir, mpl_search_cfg *cfg, char **mem, mpl_err *err);

/* Extend a run to `episodes` episodes (--resume DIR --episodes N): cfg is its configuration
 * (mpl_search_config_load); mpl_search_run then continues it from its checkpoint, or, for a
 * finished run, from the final state it kept (DIR/checkpoint.final), and config.txt records the new
 * count. The validation interval stays the run's (an unset one is fixed at what the run used,
 * max(5, episodes / 20)). The result is exactly that of an uninterrupted run of N episodes with that
 * --validate-every when the run's episodes are a multiple of it (always for its log.csv with the
 * plain method, whose validations do not move theta); otherwise the validation at the run's old
 * end stays in its history. A run that chose lambda on a path (lambda_auto) is refused: its
 * stages are laid over its episode count. N must exceed the run's episodes. */
MPL_API int mpl_search_extend(mpl_search_cfg *cfg, int episodes, mpl_err *err);

/* The config.txt key of the first setting in which a and b differ, or NULL if none does
 * (out, force, progress, command, resume and stop are not settings). */
MPL_API const char *mpl_search_config_diff(const mpl_search_cfg *a, const mpl_search_cfg *b);

#ifdef __cplusplus
}
#endif
#endif
