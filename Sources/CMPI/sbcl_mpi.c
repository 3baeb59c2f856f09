#include "sbcl_mpi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <time.h>

// Opaque Open MPI handles: every MPI_* handle type is a pointer in Open MPI.
typedef void *Handle;

static struct {
    int (*init_thread)(int *, char ***, int, int *);
    int (*finalize)(void);
    int (*abort)(Handle, int);
    int (*comm_rank)(Handle, int *);
    int (*comm_size)(Handle, int *);
    int (*allreduce)(const void *, void *, int, Handle, Handle, Handle);
    int (*allgatherv)(const void *, int, Handle, void *, const int *, const int *, Handle, Handle);
    int (*ibcast)(void *, int, Handle, int, Handle, Handle *);
    int (*ibarrier)(Handle, Handle *);
    int (*test)(Handle *, int *, void *);
    double (*wtime)(void);
    Handle world, byte, floats, doubles, sum;
} mpi;

// Open MPI's MPI_IN_PLACE and MPI_STATUS_IGNORE (mpi.h: `(void *) 1` and `(MPI_Status *) 0`).
#define SBCL_IN_PLACE ((void *)1)
#define SBCL_STATUS_IGNORE ((void *)0)
// MPI_THREAD_FUNNELED in Open MPI's enum.
#define SBCL_THREAD_FUNNELED 1

#define RESOLVE(field, name)                                                      \
    do {                                                                          \
        *(void **)(&mpi.field) = dlsym(library, name);                            \
        if (!mpi.field) {                                                         \
            snprintf(error, capacity, "%s has no symbol %s (is it Open MPI 4?)", path, name); \
            return -1;                                                            \
        }                                                                         \
    } while (0)

int sbcl_mpi_load(const char *path, char *error, size_t capacity) {
    if (!path) path = "libmpi.so.40";
    // RTLD_GLOBAL: Open MPI's plugins (mca_*.so) resolve libmpi's symbols from the global scope.
    void *library = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!library) {
        snprintf(error, capacity, "cannot load %s: %s", path, dlerror());
        return -1;
    }
    RESOLVE(init_thread, "MPI_Init_thread");
    RESOLVE(finalize, "MPI_Finalize");
    RESOLVE(abort, "MPI_Abort");
    RESOLVE(comm_rank, "MPI_Comm_rank");
    RESOLVE(comm_size, "MPI_Comm_size");
    RESOLVE(allreduce, "MPI_Allreduce");
    RESOLVE(allgatherv, "MPI_Allgatherv");
    RESOLVE(ibcast, "MPI_Ibcast");
    RESOLVE(ibarrier, "MPI_Ibarrier");
    RESOLVE(test, "MPI_Test");
    RESOLVE(wtime, "MPI_Wtime");
    RESOLVE(world, "ompi_mpi_comm_world");
    RESOLVE(byte, "ompi_mpi_byte");
    RESOLVE(floats, "ompi_mpi_float");
    RESOLVE(doubles, "ompi_mpi_double");
    RESOLVE(sum, "ompi_mpi_op_sum");
    return 0;
}

int sbcl_mpi_init(void) {
    int provided = 0;
    return mpi.init_thread(NULL, NULL, SBCL_THREAD_FUNNELED, &provided);
}

int sbcl_mpi_finalize(void) { return mpi.finalize(); }

void sbcl_mpi_abort(int code) { mpi.abort(mpi.world, code); }

int sbcl_mpi_rank(void) {
    int rank = -1;
    mpi.comm_rank(mpi.world, &rank);
    return rank;
}

int sbcl_mpi_size(void) {
    int size = 0;
    mpi.comm_size(mpi.world, &size);
    return size;
}

int sbcl_mpi_allreduce_sum_float(float *values, int count) {
    return mpi.allreduce(SBCL_IN_PLACE, values, count, mpi.floats, mpi.sum, mpi.world);
}

int sbcl_mpi_allreduce_sum_double(double *values, int count) {
    return mpi.allreduce(SBCL_IN_PLACE, values, count, mpi.doubles, mpi.sum, mpi.world);
}

int sbcl_mpi_allgatherv_bytes(const void *send, int sendCount, void *receive, const int *counts, const int *displacements) {
    return mpi.allgatherv(send, sendCount, mpi.byte, receive, counts, displacements, mpi.byte, mpi.world);
}

static int wait_polling(Handle *request, int pollMicroseconds) {
    int done = 0;
    for (;;) {
        int status = mpi.test(request, &done, SBCL_STATUS_IGNORE);
        if (status != 0 || done) return status;
        struct timespec pause = {0, (long)pollMicroseconds * 1000L};
        nanosleep(&pause, NULL);
    }
}

int sbcl_mpi_broadcast_bytes(void *buffer, int count, int root, int pollMicroseconds) {
    Handle request = NULL;
    int status = mpi.ibcast(buffer, count, mpi.byte, root, mpi.world, &request);
    return status != 0 ? status : wait_polling(&request, pollMicroseconds);
}

int sbcl_mpi_barrier(int pollMicroseconds) {
    Handle request = NULL;
    int status = mpi.ibarrier(mpi.world, &request);
    return status != 0 ? status : wait_polling(&request, pollMicroseconds);
}

double sbcl_mpi_wtime(void) { return mpi.wtime(); }
