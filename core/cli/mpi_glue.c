/* metaplast command: the library's transport (metaplast/comm.h) over MPI. Compiled only with
 * -DMETAPLAST_MPI=ON; the library itself never links MPI. See LICENSE for copyright. */
#include "mpi_glue.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpi.h>

#include "cli.h"

static struct {
  int started, rank, size, local;
  MPI_Comm comm;     /* a private copy of MPI_COMM_WORLD for the library's messages */
  mpl_comm c;
} M;

/* Errors are fatal on the communicator (MPI's default): a failed call ends the job with MPI's
 * message, so these only return MPL_OK or a size the interface cannot carry. */
static int bcast(void *ud, void *buf, size_t n) {
  (void)ud;
  if (n > INT_MAX) return MPL_EINVAL;
  MPI_Bcast(buf, (int)n, MPI_BYTE, 0, M.comm);
  return MPL_OK;
}

static int gather(void *ud, const void *send, size_t n, void *recv) {
  (void)ud;
  if (n > INT_MAX) return MPL_EINVAL;
  MPI_Gather(send, (int)n, MPI_BYTE, M.rank == 0 ? recv : NULL, (int)n, MPI_BYTE, 0, M.comm);
  return MPL_OK;
}

/* One process failed and the others cannot know: say which and why, then end the whole job. */
static void fail(void *ud, const mpl_err *err) {
  char host[256] = "?";
  (void)ud;
  gethostname(host, sizeof host - 1);
  fprintf(stderr, PROG ": rank %d of %d (%s, pid %ld) failed: %s\n" PROG ": stopping all %d ranks\n", M.rank, M.size,
          host, (long)getpid(), err && err->msg[0] ? err->msg : "(no message)", M.size);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

/* Started by a launcher: Open MPI's mpirun, or a PMI/PMIx one (Slurm's srun, MPICH's hydra). */
static int launched(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

int cli_mpi_start(int *argc, char ***argv) {
  if (M.started || !launched()) return 0;
  int provided;
  /* MPI calls come from the main thread only (the trials' threads never call it) */
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, PROG ": cannot start MPI\n");
    return -1;
  }
  M.started = 1;
  MPI_Comm_dup(MPI_COMM_WORLD, &M.comm);
  MPI_Comm_rank(M.comm, &M.rank);
  MPI_Comm_size(M.comm, &M.size);
  MPI_Comm node;
  MPI_Comm_split_type(M.comm, MPI_COMM_TYPE_SHARED, M.rank, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &M.local);
  MPI_Comm_free(&node);
  M.c = (mpl_comm){.rank = M.rank, .size = M.size, .bcast = bcast, .gather = gather, .fail = fail};
  return 0;
}

int cli_mpi_end(int status) {
  if (!M.started) return status;
  MPI_Comm_free(&M.comm);
  MPI_Finalize();
  M.started = 0;
  return status;
}

const mpl_comm *cli_mpi_comm(void) { return M.started && M.size > 1 ? &M.c : NULL; }

int cli_mpi_local(void) { return M.started && M.local > 0 ? M.local : 1; }

void cli_mpi_bcast(void *buf, size_t n) {
  if (M.started && M.size > 1) bcast(NULL, buf, n);
}
