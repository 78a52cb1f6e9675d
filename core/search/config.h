/* metaplast: private interface of config.c: the configuration a results directory records
 * (config.txt). Never installed. See LICENSE for copyright. */
#ifndef METAPLAST_SEARCH_CONFIG_H
#define METAPLAST_SEARCH_CONFIG_H

#include <stddef.h>

#include "metaplast/config.h"
#include "util.h"

/* Episodes between validations when --validate-every is 0 (the default): max(5, episodes / 20).
 * A run's and its extension's (mpl_search_extend) must agree. */
MPL_INTERNAL int mpl__validate_every(int episodes);

/* What config.txt records beyond the settings: the dataset's name and classes, the network's
 * layer sizes ("784-170-130-100-70-5"), and the sign constraints in force as the list after the
 * line's colon (" F9 >= 0, F2 <= 0", "" for none; signs_len its untruncated length). */
typedef struct mpl__config_facts {
  const char *data;
  int classes;
  const char *network;
  const char *signs;
  size_t signs_len;
} mpl__config_facts;

/* Write cfg->out/config.txt (check = 0), or (check = 1, resuming) check that the recorded facts
 * the configuration does not set (the data's name, its classes, the network's input and output
 * widths) still hold. */
MPL_INTERNAL int mpl__config_write(const mpl_search_cfg *cfg, const mpl__config_facts *facts, int check, mpl_err *err);

/* Parse the text of a config.txt (len bytes, need not be NUL-terminated) into cfg, starting from
 * mpl_search_defaults. Strings in cfg point into *mem (malloc'ed; free it after cfg). `path`
 * names the file in messages. On error *mem is NULL. */
MPL_INTERNAL int mpl__config_parse(const char *text, size_t len, const char *path, mpl_search_cfg *cfg, char **mem,
                                   mpl_err *err);

/* Rewrite dir/config.txt for a run extended from `from` episodes to cfg->episodes (its episodes and
 * validate_every lines, and a comment saying so). */
MPL_INTERNAL int mpl__config_extend(const char *dir, int from, const mpl_search_cfg *cfg, mpl_err *err);

#endif
