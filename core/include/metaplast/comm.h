/* metaplast: the interface through which a search is spread over several processes (docs/mpi.md).
 * See LICENSE for copyright.
 *
 * The library knows no message-passing system: it calls the three functions below, which a
 * transport fills in. The metaplast command's MPI build fills them with MPI_Bcast, MPI_Gather and
 * MPI_Abort (core/cli/mpi_glue.c); without MPI nothing sets them and every run is one process.
 *
 * Set mpl_search_cfg.comm (the same on every process, each with its own rank) and call the same
 * function with the same configuration on every process:
 *   - mpl_trials_run / mpl_path_run: run j (trial or lambda value, in the order of the summary)
 *     runs on process j % size; process 0 receives every run's result and writes the summaries.
 *   - mpl_search_run: the meta_batch tasks of each meta-step are split into blocks of
 *     ceil(B / size) consecutive tasks, block r on process r; process 0 gathers the per-task
 *     statistics and gradients, sums them in task order exactly as one process does, takes the
 *     step and sends theta to the others. Only process 0 reads or writes the results directory.
 * Results are bit-identical to one process's whatever the number of processes (the processes
 * must run the same build on the same kind of machine: results travel as raw bytes).
 *
 * Errors: an error that every process learns of (a failed task, a run that diverged, a summary
 * that cannot be written) is returned on every process, with the message on process 0. An error
 * on one process that the others cannot learn of (its data cannot be loaded, one of its runs
 * fails) is passed to fail(): the others would wait for it forever, so the transport should end
 * the whole job (MPI_Abort). The library itself never exits. */
#ifndef METAPLAST_COMM_H
#define METAPLAST_COMM_H

#include <stddef.h>

#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpl_comm {
  int rank, size;   /* this process, of size (rank 0 owns the files) */
  void *ud;         /* the transport's own data, passed back */
  /* Every process receives process 0's n bytes at buf. MPL_OK or an error code. */
  int (*bcast)(void *ud, void *buf, size_t n);
  /* Process 0 receives every process's n bytes at recv[rank * n] (size * n bytes); recv is
   * ignored on the others. MPL_OK or an error code. */
  int (*gather)(void *ud, const void *send, size_t n, void *recv);
  /* This process failed with err and the others cannot know: end the job (may not return). */
  void (*fail)(void *ud, const mpl_err *err);
} mpl_comm;

#ifdef __cplusplus
}
#endif
#endif
