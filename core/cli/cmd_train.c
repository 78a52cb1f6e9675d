/* metaplast train: long online training of a network with a fixed rule (issue 26). See LICENSE for copyright. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaplast/terms.h"
#include "metaplast/train.h"

#include "cli.h"

static void train_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " train [RULE] --out DIR [options]\n"
    "Train one network online (batch 1) with a FIXED rule over a whole training set, one or more\n"
    "passes, and test it every N steps on a fixed test subset (docs/train.md; PAPER.md Fig. 1).\n"
    "The rule is one of:\n"
    "  RULE                 a results directory or rule.json (loaded as 'eval' loads it)\n"
    "  --terms SPEC --theta NAME=X,...   a term selection (e.g. paper:F0,F2,F9) with every θ\n"
    "  --baseline fa|bp|dfa --rate X     F0 alone at θ_F0 = X: FA (fixed random feedback), BP or DFA\n"
    "                                    (direct feedback: e_L to every layer through a fixed random D_l)\n\n"
    "  --out DIR            results: train.csv (a row per test), config.json, train.json, checkpoint\n"
    "  --resume DIR         continue DIR from its checkpoint with DIR/config.json's settings;\n"
    "                       bit-identical to an uninterrupted run (only --quiet may be added)\n"
    "  --data NAME          training data (fashion-mnist; emnist-bymerge:DIR, csv:FILE; 'metaplast data')\n"
    "  --images F --labels F   or an image/label pair (IDX or .npy)\n"
    "  --test NAME          test data (default fashion-mnist-test for fashion-mnist)\n"
    "  --test-images F --test-labels F   or a pair\n"
    "  --holdout N          or the last N images of the training data (not trained on)\n"
    "  --test-size N        test subset: the first N test images (1000; 0 = all); after the last\n"
    "                       step the whole test set is tested too (train.json)\n"
    "  --every N            test every N steps (1000)\n"
    "  --passes P           passes over the training set, each in a new order (1)\n"
    "  --steps S            stop after S steps (default: all passes)\n"
    "  --hidden LIST        hidden layer sizes (170,130,100,70; 'none')\n"
    "  --feedback MODE      fixed|fa, symmetric|bp or direct|dfa: for --terms (fixed) or a RULE (its own)\n"
    "  --beta B             softplus sharpness (10)\n"
    "  --final              with RULE: the search's last iterate instead of its reported rule\n"
    "  --seed S             weights, feedback and the order of the images (1); same seed, same numbers\n"
    "  --checkpoint-every K write DIR/checkpoint every K tests (10; 0 = only on SIGINT/SIGTERM)\n"
    "  --quiet              no progress line\n");
}

enum { O_OUT = 256, O_RESUME, O_DATA, O_IMAGES, O_LABELS, O_TEST, O_TIMAGES, O_TLABELS, O_HOLDOUT, O_TSIZE, O_EVERY,
       O_PASSES, O_STEPS, O_HIDDEN, O_FEEDBACK, O_BETA, O_FINAL, O_SEED, O_CKPT, O_QUIET, O_TERMS, O_THETA,
       O_BASELINE, O_RATE };

static const struct option train_opts[] = {
  {"out", 1, 0, O_OUT}, {"resume", 1, 0, O_RESUME}, {"data", 1, 0, O_DATA}, {"images", 1, 0, O_IMAGES},
  {"labels", 1, 0, O_LABELS}, {"test", 1, 0, O_TEST}, {"test-images", 1, 0, O_TIMAGES},
  {"test-labels", 1, 0, O_TLABELS}, {"holdout", 1, 0, O_HOLDOUT}, {"test-size", 1, 0, O_TSIZE},
  {"every", 1, 0, O_EVERY}, {"passes", 1, 0, O_PASSES}, {"steps", 1, 0, O_STEPS}, {"hidden", 1, 0, O_HIDDEN},
  {"feedback", 1, 0, O_FEEDBACK}, {"beta", 1, 0, O_BETA}, {"final", 0, 0, O_FINAL}, {"seed", 1, 0, O_SEED},
  {"checkpoint-every", 1, 0, O_CKPT}, {"quiet", 0, 0, O_QUIET}, {"terms", 1, 0, O_TERMS}, {"theta", 1, 0, O_THETA},
  {"baseline", 1, 0, O_BASELINE}, {"rate", 1, 0, O_RATE}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};

static int parse_long(const char *flag, const char *s, long *out) {
  unsigned long u;
  if (cli_parse_ulong(flag, s, &u) < 0) return -1;
  if (u > LONG_MAX) return cli_bad(flag, s, "too large");
  *out = (long)u;
  return 0;
}

static int train_option(int o, const char *a, mpl_train_cfg *c) {
  mpl_search_cfg s;
  mpl_feedback fb;
  switch (o) {
  case O_OUT: c->out = a; return 0;
  case O_DATA: c->data = a; return 0;
  case O_IMAGES: c->images = a; return 0;
  case O_LABELS: c->labels = a; return 0;
  case O_TEST: c->test = a; return 0;
  case O_TIMAGES: c->test_images = a; return 0;
  case O_TLABELS: c->test_labels = a; return 0;
  case O_HOLDOUT: return parse_long("--holdout", a, &c->holdout);
  case O_TSIZE: return cli_parse_int("--test-size", a, 0, INT_MAX, &c->test_size);
  case O_EVERY: return cli_parse_int("--every", a, 1, INT_MAX, &c->every);
  case O_PASSES: return cli_parse_int("--passes", a, 1, 1000000, &c->passes);
  case O_STEPS: return parse_long("--steps", a, &c->steps);
  case O_HIDDEN:
    if (cli_parse_hidden(a, &s) < 0) return -1;
    c->n_hidden = s.n_hidden;
    memcpy(c->hidden, s.hidden, sizeof c->hidden);
    return 0;
  case O_FEEDBACK: if (cli_parse_feedback(a, &fb) < 0) return -1; c->feedback = (int)fb; return 0;
  case O_BETA: return cli_parse_double("--beta", a, 1e-300, HUGE_VAL, &c->beta);
  case O_FINAL: c->final = 1; return 0;
  case O_SEED: return cli_parse_ulong("--seed", a, &c->seed);
  case O_CKPT: return cli_parse_int("--checkpoint-every", a, 0, INT_MAX, &c->checkpoint_every);
  case O_TERMS: c->terms = a; return 0;
  case O_THETA: c->theta = a; return 0;
  case O_BASELINE:
    if (strcmp(a, "fa") && strcmp(a, "bp") && strcmp(a, "dfa")) return cli_bad("--baseline", a, "expected fa, bp or dfa");
    c->baseline = a;
    return 0;
  case O_RATE: return cli_parse_double("--rate", a, -HUGE_VAL, HUGE_VAL, &c->rate);
  default: return -1;
  }
}

/* SIGINT/SIGTERM: the run checkpoints after the current test and returns; a second signal kills. */
static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static void report(const mpl_train_cfg *c, const mpl_train_result *r) {
  if (r->interrupted) {
    fprintf(stderr, PROG ": %s after step %ld; continue with: " PROG " train --resume %s\n",
            stop_signal == SIGTERM ? "terminated" : "interrupted", r->steps, c->out);
    return;
  }
  printf("%ld steps, %d tests, %.1f µs/step; test subset accuracy %.4f, loss %.4f%s\n", r->steps, r->tests,
         r->steps ? 1e6 * r->seconds / (double)r->steps : 0, r->accuracy, r->loss, r->diverged ? " (DIVERGED)" : "");
  printf("whole test set: accuracy %.4f, loss %.4f\nresults in %s/ (train.csv, train.json, config.json)\n",
         r->final_accuracy, r->final_loss, c->out);
}

int cmd_train(int argc, char **argv) {
  mpl_train_cfg c;
  mpl_train_defaults(&c);
  const char *resume = NULL;
  int o, quiet = 0, flags = 0;
  optind = 1;
  while ((o = cli_getopt(argc, argv, train_opts)) != -1) {
    if (o == 'h') { train_help(stdout); return 0; }
    if (o == O_RESUME) { resume = optarg; continue; }
    if (o == O_QUIET) { quiet = 1; continue; }
    flags++;
    if (o == '?' || train_option(o, optarg, &c) < 0) {
      fprintf(stderr, "Try '" PROG " train --help'.\n");
      return 2;
    }
  }
  if (argc - optind > 1 || (resume && (flags || argc > optind))) {
    fprintf(stderr, resume ? PROG ": --resume %s: a resumed run keeps its settings (%s/config.json); only --quiet may "
                             "be added\n" : PROG ": train takes one RULE%.0s%.0s\n", resume, resume);
    fprintf(stderr, "Try '" PROG " train --help'.\n");
    return 2;
  }
  if (optind < argc) c.rule = argv[optind];
  char *mem = NULL;
  mpl_err err = {0};
  if (resume && mpl_train_config_load(resume, &c, &mem, &err) < 0) {
    fprintf(stderr, PROG ": --resume: %s\n", err.msg);
    free(mem);
    return 2;
  }
  if (resume) c.out = resume, c.resume = 1;
  c.progress = quiet ? NULL : stderr;
  stop_signal = 0;
  cli_catch_stop(on_signal);
  c.stop = &stop_signal;
  mpl_terms_set_stop(&stop_signal);   /* a rule file being loaded stops too */
  mpl_train_result r;
  int rc = mpl_train_run(&c, &r, &err);
  if (rc < 0) fprintf(stderr, PROG ": %s\n", err.msg);
  else report(&c, &r);
  free(mem);
  if (r.interrupted) return 128 + (int)stop_signal;
  return rc < 0 ? 1 : 0;
}
