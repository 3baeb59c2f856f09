#ifndef SBCL_MPI_H
#define SBCL_MPI_H

// Open MPI, loaded at run time: `sbcl_mpi_load` dlopens libmpi.so.40 and resolves the few
// functions and predefined handles data-parallel training needs. Nothing here includes mpi.h or
// links libmpi, so the package builds and runs where Open MPI is absent; only a process that a
// launcher (mpirun, srun) started ever calls `sbcl_mpi_load`.
//
// Open MPI's handles are pointers to exported globals (`MPI_COMM_WORLD` is `&ompi_mpi_comm_world`),
// which is what makes resolving them with dlsym possible; MPICH's integer handles are not supported.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Loads `path` (NULL: "libmpi.so.40") and resolves every symbol. Returns 0, or -1 with a
/// sentence in `error` (at most `capacity` bytes) naming what was missing.
int sbcl_mpi_load(const char *path, char *error, size_t capacity);

/// MPI_Init (thread level FUNNELED: only the thread that initialised calls MPI). 0 on success.
int sbcl_mpi_init(void);
/// MPI_Finalize. 0 on success.
int sbcl_mpi_finalize(void);
/// MPI_Abort on MPI_COMM_WORLD: every rank of the job ends with `code`.
void sbcl_mpi_abort(int code);

/// This process's rank in MPI_COMM_WORLD, and the number of ranks.
int sbcl_mpi_rank(void);
int sbcl_mpi_size(void);

/// Element-wise sum of `count` floats over all ranks, in place (MPI_Allreduce, MPI_IN_PLACE).
int sbcl_mpi_allreduce_sum_float(float *values, int count);
/// Element-wise sum of `count` doubles over all ranks, in place.
int sbcl_mpi_allreduce_sum_double(double *values, int count);
/// MPI_Allgatherv of bytes: rank r contributes counts[r] bytes, placed at displacements[r].
int sbcl_mpi_allgatherv_bytes(const void *send, int sendCount, void *receive, const int *counts, const int *displacements);
/// MPI_Bcast of `count` bytes from `root`, waited for by polling every `pollMicroseconds`
/// (a rank that waits long for another does not spin on a core the others need).
int sbcl_mpi_broadcast_bytes(void *buffer, int count, int root, int pollMicroseconds);
/// MPI_Barrier, waited for by polling as `sbcl_mpi_broadcast_bytes`.
int sbcl_mpi_barrier(int pollMicroseconds);
/// MPI_Wtime.
double sbcl_mpi_wtime(void);

#ifdef __cplusplus
}
#endif

#endif
