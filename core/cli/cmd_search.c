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

/* The command's own flags (not settings of a search: mpl_search_settings has those), with their
 * --help lines. */
enum { O_OUT = 256, O_FORCE, O_QUIET, O_TRIALS, O_JOBS, O_LPATH, O_RESUME, O_PAPER, O_STRICT, O_SETTING };
static const struct own_flag { const char *name; int has_arg, o; const char *help; } own_flags[] = {
  {"paper-exact", 0, O_PAPER,
   "  --paper-exact        the paper's method exactly: --method plain --sign none --clip-rms 0\n"
   "                       --dead-guard off (lambda a number, default 0)\n"},
  {"strict", 0, O_STRICT, "  --strict             exit 3 when the result is unhealthy (for scripts and CI)\n"},
  {"trials", 1, O_TRIALS,
   "  --trials N           N independent trials, seeds S+1..S+N, into DIR/trial-001.. in parallel, then\n"
   "                       DIR/summary.csv, terms.csv, summary.md (bands: 98% bootstrap, 500 resamples)\n"},
  {"jobs", 1, O_JOBS,
   "  --jobs J             parallel runs, one core each (default: the number of online CPUs); a single\n"
   "                       search runs the tasks of each meta-step (--meta-batch B >= 2) and its\n"
   "                       validation tasks on J threads instead; the same results bit for bit whatever J\n"},
  {"lambda-path", 1, O_LPATH,
   "  --lambda-path LIST   one search (or --trials N) per lambda into DIR/lambda-<value>/, then\n"
   "                       DIR/path.csv, path.md; LIST: 0,1e-4,3e-4 and/or lo:hi:n (log-spaced)\n"},
  {"out", 1, O_OUT, "  --out DIR            results directory (default runs/YYYYmmdd-HHMMSS)\n"},
  {"force", 0, O_FORCE, "  --force              write into a directory that already holds a run\n"},
  {"resume", 1, O_RESUME,
   "  --resume DIR         continue the run in DIR from its checkpoint, with DIR/config.txt's settings\n"
   "                       (other flags may only repeat them); bit-identical to an uninterrupted run.\n"
   "                       With --episodes N beyond the run's: extend it, finished or not (not a\n"
   "                       --lambda auto run; the validation interval stays the run's: docs/reliability.md)\n"},
  {"quiet", 0, O_QUIET, "  --quiet              no progress line\n"},
  {"help", 0, 'h', "  -h, --help           this help\n"},
};
#define N_OWN (sizeof own_flags / sizeof *own_flags)

/* --help's order: "#" a section (a setting's `section`), then flags by name, the settings' and the
 * command's own. A setting whose flag is not named here is listed at the end of its section. */
static const char *const help_order[] = {
  "#Data", "data", "images", "per-class",
  "#Tasks", "ways", "shots", "queries", "sampling",
  "#Network", "hidden", "beta", "feedback", "bp-detach",
  "#Rule", "terms", "init", "sign",
  "#Method (docs/discovery.md)", "method", "paper-exact", "val-tasks", "validate-every", "refit", "strict",
  "#Meta-optimisation", "episodes", "meta-batch", "seed", "lr", "lambda", "l1", "zero-tol", "max-failures",
  "clip-grad", "clip-rms", "dead-guard",
  "#Trials and the sparsity path (docs/trials.md)", "trials", "jobs", "lambda-path",
  "#Output", "out", "force", "checkpoint-every", "resume", "quiet", "help"};
#define N_ORDER (sizeof help_order / sizeof *help_order)

static const char *own_help(const char *name) {
  for (size_t i = 0; i < N_OWN; i++)
    if (!strcmp(own_flags[i].name, name)) return own_flags[i].help;
  return "";
}

static int in_help_order(const char *flag) {
  for (size_t i = 0; i < N_ORDER; i++)
    if (!strcmp(help_order[i], flag)) return 1;
  return 0;
}

static void search_help(FILE *f) {
  fputs("usage: " PROG " search [options]\n"
        "Meta-learn the coefficients of candidate plasticity terms (PAPER.md §1-§6).\n\n", f);
  size_t n;
  const mpl_setting *s = mpl_search_settings(&n);
  const char *section = NULL;
  for (size_t i = 0;; i++) {
    const char *item = i < N_ORDER ? help_order[i] : NULL;
    if (item && item[0] != '#') {
      const mpl_setting *r = mpl_search_setting(item, MPL_SETTING_BY_FLAG);
      fputs(r ? r->help : own_help(item), f);
      continue;
    }
    for (size_t k = 0; section && k < n; k++)   /* the section's settings not named in help_order */
      if (s[k].flag && s[k].help && s[k].section && !strcmp(s[k].section, section) && !in_help_order(s[k].flag))
        fputs(s[k].help, f);
    if (!item) break;
    section = item + 1;
    fprintf(f, "%s\n", section);
  }
}

/* getopt's table: the settings' flags (O_SETTING + the row), then the command's own. */
static struct option search_opts[128];
static void make_opts(void) {
  size_t n, k = 0;
  const mpl_setting *s = mpl_search_settings(&n);
  for (size_t i = 0; i < n && k < 100; i++)
    if (s[i].flag) search_opts[k++] = (struct option){s[i].flag, s[i].arg ? 1 : 0, 0, O_SETTING + (int)i};
  for (size_t i = 0; i < N_OWN; i++) search_opts[k++] = (struct option){own_flags[i].name, own_flags[i].has_arg, 0, own_flags[i].o};
  search_opts[k] = (struct option){0, 0, 0, 0};
}

/* --trials, --jobs, --lambda-path (reset by each cmd_search). */
static struct { int trials, jobs, strict, lambda_given; const char *lambda_path; } multi;

/* A repeated flag of a list (--terms): its values joined with ';'. */
static char list_buf[8192];
static int add_to_list(const char *flag, const char **field, const char *a) {
  if (*field != list_buf) list_buf[0] = '\0';
  size_t k = strlen(list_buf);
  if (k + strlen(a) + 2 > sizeof list_buf) return cli_bad(flag, a, "too long");
  snprintf(list_buf + k, sizeof list_buf - k, "%s%s", k ? ";" : "", a);
  *field = list_buf;
  return 0;
}

/* The flag of setting s, with argument a (NULL for a flag without one), read into c. A plain
 * method's lambda is 0 unless --lambda is given, before or after --method. */
static int set_setting(const mpl_setting *s, const char *a, mpl_search_cfg *c) {
  char flag[64], why[200];
  void *field = (char *)c + s->offset;
  snprintf(flag, sizeof flag, "--%s", s->flag);
  if (!strcmp(s->key, "lambda")) multi.lambda_given = 1;
  int rc = s->parse_flag ? s->parse_flag(c, a, why, sizeof why) : 1, v;
  if (rc < 0) return cli_bad(flag, a, why);
  if (rc == 0) return 0;
  switch (s->type) {
  case MPL_SETTING_INT:
    if (!a) {   /* a flag without argument: on */
      *(int *)field = 1;
      return 0;
    }
    return cli_parse_int(flag, a, (long)s->lo, (long)s->hi, field);
  case MPL_SETTING_SIZE:
    if (cli_parse_int(flag, a, (long)s->lo, (long)s->hi, &v) < 0) return -1;
    *(size_t *)field = (size_t)v;
    return 0;
  case MPL_SETTING_ULONG: return cli_parse_ulong(flag, a, field);
  case MPL_SETTING_DOUBLE: return cli_parse_double(flag, a, s->lo, s->hi, field);
  case MPL_SETTING_STRING:
    if (s->flags & MPL_SETTING_LIST) return add_to_list(flag, field, a);
    *(const char **)field = a;
    return 0;
  case MPL_SETTING_ENUM:
    if (mpl_setting_parse(s, a, MPL_FROM_FLAG, c, why, sizeof why) < 0) return cli_bad(flag, a, why);
    if (!strcmp(s->key, "method") && c->method == MPL_METHOD_PLAIN) c->lambda_auto = c->lambda_auto && multi.lambda_given;
    return 0;
  }
  return -1;
}

static int search_option(int o, const char *a, mpl_search_cfg *c, int *quiet) {
  size_t n;
  const mpl_setting *s = mpl_search_settings(&n);
  if (o >= O_SETTING && o < O_SETTING + (int)n) return set_setting(&s[o - O_SETTING], a, c);
  switch (o) {
  case O_PAPER:
    c->method = MPL_METHOD_PLAIN, c->sign = "none", c->adam.clip_rms = 0, c->dead_guard = 0;
    c->lambda_auto = c->lambda_auto && multi.lambda_given;
    return 0;
  case O_STRICT: multi.strict = 1; return 0;
  case O_OUT: c->out = a; return 0;
  case O_FORCE: c->force = 1; return 0;
  case O_QUIET: *quiet = 1; return 0;
  case O_RESUME: return 0; /* handled in cmd_search */
  case O_TRIALS: return cli_parse_int("--trials", a, 1, 999999, &multi.trials);
  case O_JOBS: return cli_parse_int("--jobs", a, 1, 4096, &multi.jobs);
  case O_LPATH: multi.lambda_path = a; return 0;
  default: return -1;
  }
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
  mpl_search_cfg f = *c, more = *c;   /* f: the flags replayed; more: the settings a resume may change */
  size_t n;
  const mpl_setting *s = mpl_search_settings(&n);
  int q = 0;
  for (int i = 0; i < n_given; i++) {
    int o = given[i].o;
    if (o == O_RESUME || o == O_QUIET || o == O_FORCE || o == O_STRICT) continue;
    if (o >= O_SETTING && (s[o - O_SETTING].flags & MPL_SETTING_RESUME)) {   /* more episodes extend the run */
      if (search_option(o, given[i].a, &more, &q) < 0) return 2;
      continue;
    }
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
  if (more.episodes != c->episodes && mpl_search_extend(c, more.episodes, &err) < 0) {
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
  make_opts();
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
