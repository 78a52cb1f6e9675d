/* metaplast command: running `search` on several MPI processes (docs/mpi.md). Built with
 * -DMETAPLAST_MPI=ON, mpi_glue.c fills the library's transport interface (metaplast/comm.h) with MPI;
 * otherwise these are no-ops and the command is one process. See LICENSE for copyright. */
#ifndef METAPLAST_CLI_MPI_GLUE_H
#define METAPLAST_CLI_MPI_GLUE_H

#include <stddef.h>

#include "metaplast/comm.h"

#ifdef METAPLAST_MPI
/* Start MPI if a launcher (mpirun, srun) started this process; 0, or -1 with a message printed. */
int cli_mpi_start(int *argc, char ***argv);
/* Finish MPI (if started) and return the exit status to use. */
int cli_mpi_end(int status);
/* The transport when there is more than one process, else NULL. */
const mpl_comm *cli_mpi_comm(void);
/* Processes on this machine (1 without MPI): the default --jobs divides the cores among them. */
int cli_mpi_local(void);
/* Process 0's n bytes at buf on every process (no-op with one process). */
void cli_mpi_bcast(void *buf, size_t n);
#else
static inline int cli_mpi_start(int *argc, char ***argv) { (void)argc, (void)argv; return 0; }
static inline int cli_mpi_end(int status) { return status; }
static inline const mpl_comm *cli_mpi_comm(void) { return NULL; }
static inline int cli_mpi_local(void) { return 1; }
static inline void cli_mpi_bcast(void *buf, size_t n) { (void)buf, (void)n; }
#endif

#endif
