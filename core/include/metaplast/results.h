/* metaplast: the results directory's file names, in one place (docs/readout.md lists what each
 * file holds). A search writes config.txt, log.csv, theta.tsv, rule.txt, rule.json and, with the
 * robust method, validation.csv, and while it is unfinished a checkpoint; --trials and
 * --lambda-path write a summary and one run per trial or lambda; eval --out writes its own.
 * See LICENSE for copyright. */
#ifndef METAPLAST_RESULTS_H
#define METAPLAST_RESULTS_H

#define MPL_RESULTS_CONFIG "config.txt"         /* every setting in force (config.c) */
#define MPL_RESULTS_LOG "log.csv"               /* one row per episode */
#define MPL_RESULTS_VALIDATION "validation.csv" /* one row per validation (robust method) */
#define MPL_RESULTS_THETA "theta.tsv"           /* the rule's terms and coefficients */
#define MPL_RESULTS_RULE_TXT "rule.txt"         /* the rule as text, its verdict above it */
#define MPL_RESULTS_RULE_JSON "rule.json"       /* the rule record, which loads back (report.h) */
#define MPL_RESULTS_CHECKPOINT "checkpoint"     /* an unfinished run's state (docs/reliability.md) */
#define MPL_RESULTS_FINAL "checkpoint.final"    /* a finished run's state, which --episodes N extends */
#define MPL_RESULTS_SUMMARY_CSV "summary.csv"   /* --trials: the survival table */
#define MPL_RESULTS_SUMMARY_MD "summary.md"
#define MPL_RESULTS_TERMS_CSV "terms.csv"       /* --trials: per term, survival and mean theta */
#define MPL_RESULTS_PATH_CSV "path.csv"         /* --lambda-path: one row per lambda */
#define MPL_RESULTS_PATH_MD "path.md"
#define MPL_RESULTS_EVAL_JSON "eval.json"       /* eval --out: the summary and each task */
#define MPL_RESULTS_EVAL_CSV "eval.csv"
#define MPL_RESULTS_TRAIN_CSV "train.csv"     /* train: one row per test of the online run */
#define MPL_RESULTS_TRAIN_JSON "train.json"   /* train: the summary */
#define MPL_RESULTS_TRAIN_CONFIG "config.json" /* train: its settings (--resume reads them back) */

#endif
