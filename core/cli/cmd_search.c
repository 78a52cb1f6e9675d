/* metaplast search: meta-learn a rule. See LICENSE for copyright. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>

#include "metaplast/plot.h"
#include "metaplast/search.h"
#include "metaplast/terms.h"
#include "metaplast/trials.h"

#include "cli.h"
#include "mpi_glue.h"

static void search_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " search [options]\n"
    "Meta-learn the coefficients of candidate plasticity terms (PAPER.md §1-§6).\n\n"
    "Data\n"
    "  --data NAME          fashion-mnist (default, Debian's dataset-fashion-mnist), fashion-mnist-test,\n"
    "                       emnist-bymerge:DIR (EMNIST ByMerge test split in DIR), csv:FILE[:LABEL_COLUMN]\n"
    "                       ('metaplast data' lists them, what each is and where it is read from)\n"
    "  --images F --labels F  an image/label pair instead of --data: IDX (byte or float images) or NumPy\n"
    "                       .npy (uint8/float32/float64 images, integer labels), raw or .gz; bytes / 255,\n"
    "                       numbers as they are (docs/data.md)\n"
    "  --per-class N        keep the first N images of each class (default 0 = all; the paper: 400)\n"
    "Tasks\n"
    "  --ways M             classes per task (5)\n"
    "  --shots K            training images per class (50)\n"
    "  --queries Q          query images per class (10)\n"
    "  --sampling MODE      clean (default: distinct classes, images drawn afresh, train/query disjoint)\n"
    "                       or paper (classes with replacement, each class's fixed first K+Q images)\n"
    "Network\n"
    "  --hidden SIZES       hidden layer sizes (170,130,100,70); output width = the dataset's classes\n"
    "  --beta B             softplus sharpness (10)\n"
    "  --feedback MODE      fixed|fa (FA, default), symmetric|bp (BP) or direct|dfa (DFA: e_L to every layer\n"
    "                       through its own fixed random D_l)\n"
    "  --bp-detach          symmetric feedback: no meta-gradient through W's role as feedback (reference)\n"
    "Rule\n"
    "  --terms SPEC         paper | paper:F0,F2,F9 | x.so | x.so:a,b | rules/oja.lua | oja:F9 (default\n"
    "                       paper:F0): a plugin (.so) or a rule file of Lua formulas (.lua, docs/rules.md),\n"
    "                       as a file or a name on METAPLAST_PLUGIN_PATH / METAPLAST_RULES_PATH; repeat\n"
    "                       or join with ';' to combine sources ('metaplast terms SOURCE' lists one)\n"
    "  --init NAME=V,...    initial coefficients (default: F0 = 1e-3, others 0)\n"
    "  --sign NAME=+|-|free,...  keep a coefficient >= 0 (+) or <= 0 (-), projected after each step,\n"
    "                       or free it; none: every coefficient free (default: the terms' declared\n"
    "                       signs; the paper's F9 declares +, so theta9 >= 0)\n"
    "Method (docs/discovery.md)\n"
    "  --method M           robust (default): standardized coefficients, validation on held-out images,\n"
    "                       step control after failures, the best validated rule reported, a verdict;\n"
    "                       plain: Adam on theta as published (validated for the verdict only; lambda\n"
    "                       a number, default 0)\n"
    "  --paper-exact        the paper's method exactly: --method plain --sign none --clip-rms 0\n"
    "                       --dead-guard off (lambda a number, default 0)\n"
    "  --val-tasks V        validation tasks (16; 0 = none, and no verdict)\n"
    "  --validate-every N   episodes between validations (0 = max(5, episodes/20))\n"
    "  --strict             exit 3 when the result is unhealthy (for scripts and CI)\n"
    "Meta-optimisation\n"
    "  --episodes N         meta-training episodes, i.e. meta-steps (600)\n"
    "  --meta-batch B       tasks per meta-step, gradients averaged (1, the paper; >1 damps noisy steps)\n"
    "  --seed S             seed of every random draw (1); same seed, same results bit for bit\n"
    "  --lr, --beta1, --beta2, --eps   Adam (1e-3, 0.9, 0.999, 1e-8; eps > 0)\n"
    "  --lambda L|auto      L1 weight (robust: auto; plain: 0). Robust: on standardized coefficients, at L\n"
    "                       a coefficient stays 0 while |mean dL/d(its standardized value)| < L; auto: a\n"
    "                       path from lambda_max down, the sparsest rule within one SE of the best\n"
    "                       validated one, trained on in the last sixth of the episodes (docs/discovery.md)\n"
    "  --l1 MODE            prox (default: proximal step, exact zeros) or penalty (the reference)\n"
    "  --zero-tol T         |theta| <= T counts as zero in the printed rule (0)\n"
    "  --max-failures N     stop after N consecutive failed (diverged or dead) episodes (20)\n"
    "  --clip-grad C        clip the meta-gradient to global L2 norm C before each step (0 = off, default)\n"
    "  --clip-rms K         clip each coordinate of the meta-gradient to K times Adam's running RMS of it\n"
    "                       (sqrt(vhat)) from the second step on, so that one outlier cannot freeze Adam\n"
    "                       (5; 0 = off: PyTorch's plain Adam, as the reference)\n"
    "  --dead-guard on|off  a dead network (output independent of the input, accuracy at chance), always\n"
    "                       logged, also fails the episode and rolls theta back like a diverged one (off;\n"
    "                       always on with --method robust)\n"
    "Trials and the sparsity path (docs/trials.md)\n"
    "  --trials N           N independent trials, seeds S+1..S+N, into DIR/trial-001.. in parallel, then\n"
    "                       DIR/summary.csv, terms.csv, summary.md (bands: 98%% bootstrap, 500 resamples)\n"
    "  --jobs J             parallel runs, one core each (default: the number of online CPUs); a single\n"
    "                       search runs the tasks of each meta-step (--meta-batch B >= 2) and its\n"
    "                       validation tasks on J threads instead; the same results bit for bit whatever J\n"
    "  --lambda-path LIST   one search (or --trials N) per lambda into DIR/lambda-<value>/, then\n"
    "                       DIR/path.csv, path.md; LIST: 0,1e-4,3e-4 and/or lo:hi:n (log-spaced)\n"
    "Output\n"
    "  --out DIR            results directory (default runs/YYYYmmdd-HHMMSS)\n"
    "  --force              write into a directory that already holds a run\n"
    "  --checkpoint-every N save DIR/checkpoint every N episodes (10; 0 = only on SIGINT/SIGTERM/failure)\n"
    "  --resume DIR         continue the run in DIR from its checkpoint, with DIR/config.txt's settings\n"
    "                       (other flags may only repeat them); bit-identical to an uninterrupted run.\n"
    "                       With --episodes N beyond the run's: extend it, finished or not (not a\n"
    "                       --lambda auto run; the validation interval stays the run's: docs/reliability.md)\n"
    "  --quiet              no progress line\n"
    "  -h, --help           this help\n");
}

enum { O_DATA = 256, O_IMAGES, O_LABELS, O_PERCLASS, O_WAYS, O_SHOTS, O_QUERIES, O_SAMPLING, O_HIDDEN, O_BETA,
       O_FEEDBACK, O_DETACH, O_TERMS, O_INIT, O_EPISODES, O_SEED, O_LR, O_B1, O_B2, O_EPS, O_LAMBDA, O_L1,
       O_ZTOL, O_MAXFAIL, O_OUT, O_FORCE, O_QUIET, O_MBATCH, O_SIGN,
       O_TRIALS, O_JOBS, O_LPATH, O_CKPT, O_RESUME, O_CLIP, O_CLIPRMS, O_DEAD, O_METHOD, O_PAPER, O_VTASKS, O_VEVERY, O_STRICT };

static const struct option search_opts[] = {
  {"data", 1, 0, O_DATA}, {"images", 1, 0, O_IMAGES}, {"labels", 1, 0, O_LABELS}, {"per-class", 1, 0, O_PERCLASS},
  {"ways", 1, 0, O_WAYS}, {"shots", 1, 0, O_SHOTS}, {"queries", 1, 0, O_QUERIES}, {"sampling", 1, 0, O_SAMPLING},
  {"hidden", 1, 0, O_HIDDEN}, {"beta", 1, 0, O_BETA}, {"feedback", 1, 0, O_FEEDBACK}, {"bp-detach", 0, 0, O_DETACH},
  {"terms", 1, 0, O_TERMS}, {"init", 1, 0, O_INIT}, {"sign", 1, 0, O_SIGN}, {"episodes", 1, 0, O_EPISODES}, {"meta-batch", 1, 0, O_MBATCH}, {"seed", 1, 0, O_SEED},
  {"lr", 1, 0, O_LR}, {"beta1", 1, 0, O_B1}, {"beta2", 1, 0, O_B2}, {"eps", 1, 0, O_EPS}, {"lambda", 1, 0, O_LAMBDA},
  {"l1", 1, 0, O_L1}, {"zero-tol", 1, 0, O_ZTOL}, {"max-failures", 1, 0, O_MAXFAIL}, {"out", 1, 0, O_OUT},
  {"force", 0, 0, O_FORCE}, {"quiet", 0, 0, O_QUIET}, {"help", 0, 0, 'h'},
  {"checkpoint-every", 1, 0, O_CKPT}, {"resume", 1, 0, O_RESUME}, {"clip-grad", 1, 0, O_CLIP}, {"clip-rms", 1, 0, O_CLIPRMS},
  {"dead-guard", 1, 0, O_DEAD}, {"trials", 1, 0, O_TRIALS}, {"jobs", 1, 0, O_JOBS}, {"lambda-path", 1, 0, O_LPATH},
  {"method", 1, 0, O_METHOD}, {"paper-exact", 0, 0, O_PAPER}, {"val-tasks", 1, 0, O_VTASKS},
  {"validate-every", 1, 0, O_VEVERY}, {"strict", 0, 0, O_STRICT}, {0, 0, 0, 0}};

/* --trials, --jobs, --lambda-path (reset by each cmd_search). */
static struct { int trials, jobs, strict, lambda_given; const char *lambda_path; } multi;

static int add_terms(mpl_search_cfg *c, const char *a);

static int search_option(int o, const char *a, mpl_search_cfg *c, int *quiet) {
  int v;
  switch (o) {
  case O_DATA: c->data = a; return 0;
  case O_IMAGES: c->images = a; return 0;
  case O_LABELS: c->labels = a; return 0;
  case O_PERCLASS: if (cli_parse_int("--per-class", a, 0, INT_MAX, &v) < 0) return -1; c->per_class = (size_t)v; return 0;
  case O_WAYS: return cli_parse_int("--ways", a, 1, 10000, &c->task.m);
  case O_SHOTS: return cli_parse_int("--shots", a, 1, 100000, &c->task.k);
  case O_QUERIES: return cli_parse_int("--queries", a, 1, 100000, &c->task.q);
  case O_SAMPLING:
    if (!strcmp(a, "paper")) c->task.mode = MPL_SAMPLE_PAPER;
    else if (!strcmp(a, "clean")) c->task.mode = MPL_SAMPLE_CLEAN;
    else return cli_bad("--sampling", a, "expected clean or paper");
    return 0;
  case O_HIDDEN: return cli_parse_hidden(a, c);
  case O_BETA: return cli_parse_double("--beta", a, 1e-6, 1e6, &c->beta);
  case O_FEEDBACK: return cli_parse_feedback(a, &c->feedback);
  case O_DETACH: c->bp_detach = 1; return 0;
  case O_TERMS: return add_terms(c, a);
  case O_INIT: c->init = a; return 0;
  case O_SIGN: c->sign = a; return 0;
  case O_EPISODES: return cli_parse_int("--episodes", a, 1, INT_MAX, &c->episodes);
  case O_SEED: return cli_parse_ulong("--seed", a, &c->seed);
  case O_MBATCH: return cli_parse_int("--meta-batch", a, 1, 4096, &c->meta_batch);
  case O_LR: return cli_parse_double("--lr", a, 1e-300, 1e6, &c->adam.lr);
  case O_B1: return cli_parse_double("--beta1", a, 0, 0.999999999, &c->adam.beta1);
  case O_B2: return cli_parse_double("--beta2", a, 0, 0.999999999, &c->adam.beta2);
  case O_EPS: return cli_parse_double("--eps", a, 1e-300, 1, &c->adam.eps);
  case O_LAMBDA:
    multi.lambda_given = 1;
    if (!strcmp(a, "auto")) { c->lambda_auto = 1; c->adam.lambda = 0; return 0; }
    c->lambda_auto = 0;
    return cli_parse_double("--lambda", a, 0, 1e12, &c->adam.lambda);
  case O_METHOD:
    if (!strcmp(a, "robust")) c->method = MPL_METHOD_ROBUST;
    else if (!strcmp(a, "plain")) c->method = MPL_METHOD_PLAIN, c->lambda_auto = c->lambda_auto && multi.lambda_given;
    else return cli_bad("--method", a, "expected robust or plain");
    return 0;
  case O_PAPER:
    c->method = MPL_METHOD_PLAIN, c->sign = "none", c->adam.clip_rms = 0, c->dead_guard = 0;
    c->lambda_auto = c->lambda_auto && multi.lambda_given;
    return 0;
  case O_VTASKS: return cli_parse_int("--val-tasks", a, 0, 100000, &c->val_tasks);
  case O_VEVERY: return cli_parse_int("--validate-every", a, 0, INT_MAX, &c->validate_every);
  case O_STRICT: multi.strict = 1; return 0;
  case O_L1:
    if (!strcmp(a, "prox")) c->adam.l1 = MPL_L1_PROX;
    else if (!strcmp(a, "penalty")) c->adam.l1 = MPL_L1_PENALTY;
    else return cli_bad("--l1", a, "expected prox or penalty");
    return 0;
  case O_ZTOL: return cli_parse_double("--zero-tol", a, 0, 1e12, &c->zero_tol);
  case O_MAXFAIL: return cli_parse_int("--max-failures", a, 1, INT_MAX, &c->max_failures);
  case O_OUT: c->out = a; return 0;
  case O_FORCE: c->force = 1; return 0;
  case O_QUIET: *quiet = 1; return 0;
  case O_CKPT: return cli_parse_int("--checkpoint-every", a, 0, INT_MAX, &c->checkpoint_every);
  case O_RESUME: return 0; /* handled in cmd_search */
  case O_CLIP: return cli_parse_double("--clip-grad", a, 0, 1e300, &c->clip_grad);
  case O_CLIPRMS: return cli_parse_double("--clip-rms", a, 0, 1e300, &c->adam.clip_rms);
  case O_DEAD:
    if (!strcmp(a, "on")) c->dead_guard = 1;
    else if (!strcmp(a, "off")) c->dead_guard = 0;
    else return cli_bad("--dead-guard", a, "expected on or off");
    return 0;
  case O_TRIALS: return cli_parse_int("--trials", a, 1, 999999, &multi.trials);
  case O_JOBS: return cli_parse_int("--jobs", a, 1, 4096, &multi.jobs);
  case O_LPATH: multi.lambda_path = a; return 0;
  default: return -1;
  }
}

/* --terms may be repeated: the sources are joined with ';'. */
static char terms_buf[8192];
static int add_terms(mpl_search_cfg *c, const char *a) {
  if (c->terms != terms_buf) terms_buf[0] = '\0';
  size_t k = strlen(terms_buf);
  if (k + strlen(a) + 2 > sizeof terms_buf) return cli_bad("--terms", a, "too long");
  snprintf(terms_buf + k, sizeof terms_buf - k, "%s%s", k ? ";" : "", a);
  c->terms = terms_buf;
  return 0;
}

/* --trials N or --lambda-path: several runs in parallel, then their summary, printed. */
static int run_multi(const mpl_search_cfg *c) {
  mpl_err err = {0};
  char *text = NULL;
  int rc, root = !c->comm || c->comm->rank == 0;   /* under MPI rank 0 reports (docs/mpi.md) */
  if (multi.lambda_path) {
    double *lambda;
    int n;
    mpl_path_result res;
    if (mpl_lambda_parse(multi.lambda_path, &lambda, &n, &err) < 0) {
      fprintf(stderr, PROG ": %s\n", err.msg);
      return 2;
    }
    rc = mpl_path_run(c, lambda, n, multi.trials ? multi.trials : 1, multi.jobs, &res, &err);
    if (rc == 0 && root) {   /* the path's figures (accuracy against surviving terms), if gnuplot is there */
      mpl_plot_cfg pc;
      mpl_err perr = {0};
      const char *dirs[] = {c->out};
      mpl_plot_defaults(&pc);
      if (mpl_plot(dirs, 1, &pc, &perr) < 0) fprintf(stderr, PROG ": note: no figures: %s\n", perr.msg);
      else fprintf(stderr, PROG ": figures in %s/plots/ (path.png: accuracy against surviving terms)\n", c->out);
    }
    if (rc == 0) text = mpl_path_summary_text(&res, c);
    mpl_path_result_free(&res);
    free(lambda);
  } else {
    mpl_trials_result res;
    rc = mpl_trials_run(c, multi.trials, multi.jobs, &res, &err);
    if (rc == 0) text = mpl_trials_summary_text(&res, c);
    mpl_trials_result_free(&res);
  }
  if (rc < 0 && root) fprintf(stderr, PROG ": %s\n", err.msg);
  if (text && root) printf("%s\nresults in %s/\n", text, c->out);
  free(text);
  return rc < 0 && root ? 1 : 0;   /* MPI: rank 0's status is the job's (see search below) */
}

/* SIGINT/SIGTERM: the search checkpoints after the current episode and returns; a second signal
 * kills (SA_RESETHAND). */
static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

/* The flags given, replayed on the configuration read back by --resume. */
static struct given { int o; const char *a; } given[256];
static int n_given;

/* --resume DIR: the configuration is DIR/config.txt's; a flag may only repeat a value from it. */
static int load_resume(const char *dir, mpl_search_cfg *c, char **mem) {
  mpl_err err = {0};
  if (mpl_search_config_load(dir, c, mem, &err) < 0) {
    fprintf(stderr, PROG ": --resume: %s\n", err.msg);
    return 1;
  }
  mpl_search_cfg f = *c;
  int q = 0, episodes = 0;
  for (int i = 0; i < n_given; i++) {
    int o = given[i].o;
    if (o == O_RESUME || o == O_QUIET || o == O_FORCE || o == O_STRICT) continue;
    if (o == O_EPISODES && cli_parse_int("--episodes", given[i].a, 1, INT_MAX, &episodes) < 0) return 2;
    if (o == O_EPISODES) continue; /* more episodes extend the run (mpl_search_extend) */
    if (o == O_OUT && strcmp(given[i].a, dir) != 0) {
      fprintf(stderr, PROG ": --resume %s: --out %s names another directory\n", dir, given[i].a);
      return 2;
    }
    if (search_option(o, given[i].a, &f, &q) < 0) return 2;
  }
  const char *key = mpl_search_config_diff(c, &f);
  if (key) {
    fprintf(stderr, PROG ": --resume %s: a flag contradicts '%s' in %s/config.txt (a resumed run keeps its "
            "configuration; edit config.txt to change it)\n", dir, key, dir);
    return 2;
  }
  if (episodes && episodes != c->episodes && mpl_search_extend(c, episodes, &err) < 0) {
    fprintf(stderr, PROG ": --resume %s\n", err.msg);
    return 2;
  }
  return 0;
}

static int search(int argc, char **argv) {
  mpl_search_cfg c;
  mpl_search_defaults(&c);
  int o, quiet = 0;
  memset(&multi, 0, sizeof multi);
  optind = 1;
  const char *resume = NULL;
  n_given = 0;
  stop_signal = 0;
  while ((o = cli_getopt(argc, argv, search_opts)) != -1) {
    if (o == 'h') { search_help(stdout); return 0; }
    if (o == O_RESUME) resume = optarg;
    if (o != '?' && n_given < (int)(sizeof given / sizeof *given)) given[n_given++] = (struct given){o, optarg};
    if (o == '?' || search_option(o, optarg, &c, &quiet) < 0) {
      fprintf(stderr, "Try '" PROG " search --help'.\n");
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, PROG ": unexpected argument '%s'\nTry '" PROG " search --help'.\n", argv[optind]);
    return 2;
  }
  char outbuf[64], *resume_mem = NULL;
  if (resume) {
    if (multi.trials || multi.lambda_path) {
      fprintf(stderr, PROG ": --resume takes one run's directory; resume each DIR/trial-NNN of a --trials run\n");
      return 2;
    }
    int lrc = load_resume(resume, &c, &resume_mem);
    if (lrc) { free(resume_mem); return lrc; }
  }
  if (!c.out) {
    time_t t = time(NULL);
    strftime(outbuf, sizeof outbuf, "runs/%Y%m%d-%H%M%S", localtime(&t));
    cli_mpi_bcast(outbuf, sizeof outbuf);   /* rank 0's clock names the directory */
    c.out = outbuf;
  }
  c.comm = cli_mpi_comm();   /* NULL: one process */
  int root = !c.comm || c.comm->rank == 0;
  if (c.comm && !multi.jobs) {   /* the cores of a machine are shared by its ranks */
    multi.jobs = mpl_trials_default_jobs() / cli_mpi_local();
    if (multi.jobs < 1) multi.jobs = 1;
  }
  c.progress = quiet || !root ? NULL : stderr;
  char *cmd = resume ? NULL : cli_join_argv(argc + 1, argv - 1);
  if (!resume) c.command = cmd;
  cli_catch_stop(on_signal);
  c.stop = &stop_signal;
  mpl_terms_set_stop(&stop_signal);   /* a rule file being loaded stops too (issue 23) */
  if (multi.trials || multi.lambda_path) {
    int mrc = run_multi(&c);
    free(cmd);
    return mrc;
  }
  c.threads = multi.jobs;   /* one search: its meta-batch's and validation's tasks on --jobs threads (0: every CPU) */
  if (c.comm && root && c.meta_batch < c.comm->size)
    fprintf(stderr, PROG ": note: %d ranks share the %d task(s) of each meta-step: ranks %d.. have none (--meta-batch)\n",
            c.comm->size, c.meta_batch, c.meta_batch);
  mpl_search_result res;
  mpl_err err = {0};
  int rc = mpl_search_run(&c, &res, &err);
  free(cmd);
  if (!root) {   /* a helper rank: rank 0 reports, errors included, and its exit status is the job's (a
                  * helper exiting non-zero first would make mpirun kill rank 0 before it says why) */
    mpl_search_result_free(&res);
    free(resume_mem);
    return 0;
  }
  if (rc < 0) fprintf(stderr, PROG ": %s\n", err.msg);
  if (res.interrupted)
    fprintf(stderr, PROG ": %s after episode %d; continue with: " PROG " search --resume %s\n",
            stop_signal == SIGTERM ? "terminated" : "interrupted", res.episodes, c.out);
  else if (rc < 0 && res.episodes > 0 && c.out)
    fprintf(stderr, PROG ": the results so far are in %s/ (with a checkpoint: " PROG " search --resume %s)\n",
            c.out, c.out);
  if (res.episodes > 0) {
    double acc = 0;
    int k = 0, w = res.episodes < 50 ? res.episodes : 50;
    for (int i = res.episodes - w; i < res.episodes; i++) if (!isnan(res.accuracy[i])) acc += res.accuracy[i], k++;
    printf("%d episodes, %.4f s/episode (median), query accuracy %.4f over the last %d, %d failed", res.episodes,
           res.seconds_per_episode, k ? acc / k : NAN, w, res.failures);
    if (res.dead) printf(", %d with a dead network", res.dead);
    printf("\n");
    if (res.theta) {
      char eq[16384];
      mpl_equation(res.names, res.formulas, res.theta, res.n_terms, c.zero_tol, eq, sizeof eq);
      printf("%s", res.health);
      printf("%s: %s\n(the rule of episode %d: %s)\nresults in %s/\n",
             res.healthy ? "discovered rule" : "rule (not a discovery)", eq, res.best_episode,
             c.method == MPL_METHOD_ROBUST && c.val_tasks > 0 ? "the best validated" : "the last iterate", c.out);
    }
  }
  int interrupted = res.interrupted, unhealthy = res.theta && !res.healthy;
  mpl_search_result_free(&res);
  free(resume_mem);
  if (interrupted || (rc < 0 && stop_signal)) return 128 + (stop_signal ? (int)stop_signal : SIGINT); /* e.g. during a rule file's load */
  return rc < 0 ? 1 : multi.strict && unhealthy ? 3 : 0;
}

/* Under an MPI launcher the ranks share the work (docs/mpi.md); otherwise one process. */
int cmd_search(int argc, char **argv) {
  if (cli_mpi_start(&argc, &argv) < 0) return 1;
  return cli_mpi_end(search(argc, argv));
}
