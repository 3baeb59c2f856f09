#ifndef SBCL_OPENCL_H
#define SBCL_OPENCL_H

// OpenCL and CLBlast, loaded at run time: `sbcl_opencl_load` dlopens libOpenCL.so.1 (the ICD
// loader, which finds the vendors' drivers: NVIDIA, AMD, Intel, PoCL) and libclblast.so.1, and
// fills a struct of function pointers. Nothing here includes CL/cl.h or links either library, so
// the package builds and runs where neither is installed; only `--device opencl|auto` loads them.
//
// The types are OpenCL 1.2's, spelled out here (every handle is an opaque pointer; cl_int is
// int32, cl_uint uint32, cl_ulong uint64, cl_bitfield uint64), with the few constants the backend
// uses copied from the Khronos headers.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The table's function pointers are marked _Nonnull (sbcl_opencl_load fills every one, and Swift
// then calls them without unwrapping); their parameters keep C's unspecified nullability.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-completeness"

typedef int32_t sbcl_cl_int;
typedef uint32_t sbcl_cl_uint;
typedef uint64_t sbcl_cl_bitfield;
typedef void *sbcl_cl_handle;

enum {
    SBCL_CL_SUCCESS = 0,
    SBCL_CL_MEM_OBJECT_ALLOCATION_FAILURE = -4,
    SBCL_CL_OUT_OF_RESOURCES = -5,
    SBCL_CL_OUT_OF_HOST_MEMORY = -6,
    SBCL_CL_BUILD_PROGRAM_FAILURE = -11,
    SBCL_CL_INVALID_BUFFER_SIZE = -61,
    SBCL_CL_DEVICE_NOT_FOUND = -1,
    SBCL_CL_PLATFORM_NOT_FOUND_KHR = -1001,
};

// Device types and info keys.
#define SBCL_CL_DEVICE_TYPE_CPU 2u
#define SBCL_CL_DEVICE_TYPE_GPU 4u
#define SBCL_CL_DEVICE_TYPE_ACCELERATOR 8u
#define SBCL_CL_DEVICE_TYPE_ALL 0xFFFFFFFFu
#define SBCL_CL_PLATFORM_NAME 0x0902
#define SBCL_CL_DEVICE_TYPE 0x1000
#define SBCL_CL_DEVICE_MAX_WORK_GROUP_SIZE 0x1004
#define SBCL_CL_DEVICE_MAX_MEM_ALLOC_SIZE 0x1010
#define SBCL_CL_DEVICE_GLOBAL_MEM_SIZE 0x101F
#define SBCL_CL_DEVICE_NAME 0x102B
#define SBCL_CL_DEVICE_VENDOR 0x102C
#define SBCL_CL_PROGRAM_BUILD_LOG 0x1183
#define SBCL_CL_MEM_READ_WRITE 1u

// CLBlast's enums (clblast_c.h).
#define SBCL_CLBLAST_ROW_MAJOR 101
#define SBCL_CLBLAST_TRANSPOSE_NO 111
#define SBCL_CLBLAST_TRANSPOSE_YES 112

/// The OpenCL 1.2 entry points and CLBlast routines the backend calls, resolved with dlsym.
typedef struct {
    sbcl_cl_int (* _Nonnull getPlatformIDs)(sbcl_cl_uint, sbcl_cl_handle *, sbcl_cl_uint *);
    sbcl_cl_int (* _Nonnull getPlatformInfo)(sbcl_cl_handle, sbcl_cl_uint, size_t, void *, size_t *);
    sbcl_cl_int (* _Nonnull getDeviceIDs)(sbcl_cl_handle, sbcl_cl_bitfield, sbcl_cl_uint, sbcl_cl_handle *, sbcl_cl_uint *);
    sbcl_cl_int (* _Nonnull getDeviceInfo)(sbcl_cl_handle, sbcl_cl_uint, size_t, void *, size_t *);
    sbcl_cl_handle (* _Nonnull createContext)(const intptr_t *, sbcl_cl_uint, const sbcl_cl_handle *, void *, void *, sbcl_cl_int *);
    sbcl_cl_handle (* _Nonnull createCommandQueue)(sbcl_cl_handle, sbcl_cl_handle, sbcl_cl_bitfield, sbcl_cl_int *);
    sbcl_cl_handle (* _Nonnull createBuffer)(sbcl_cl_handle, sbcl_cl_bitfield, size_t, void *, sbcl_cl_int *);
    sbcl_cl_int (* _Nonnull releaseMemObject)(sbcl_cl_handle);
    sbcl_cl_int (* _Nonnull enqueueWriteBuffer)(sbcl_cl_handle, sbcl_cl_handle, sbcl_cl_uint, size_t, size_t, const void *,
                                      sbcl_cl_uint, const sbcl_cl_handle *, sbcl_cl_handle *);
    sbcl_cl_int (* _Nonnull enqueueReadBuffer)(sbcl_cl_handle, sbcl_cl_handle, sbcl_cl_uint, size_t, size_t, void *,
                                     sbcl_cl_uint, const sbcl_cl_handle *, sbcl_cl_handle *);
    sbcl_cl_int (* _Nonnull enqueueCopyBuffer)(sbcl_cl_handle, sbcl_cl_handle, sbcl_cl_handle, size_t, size_t, size_t,
                                     sbcl_cl_uint, const sbcl_cl_handle *, sbcl_cl_handle *);
    sbcl_cl_handle (* _Nonnull createProgramWithSource)(sbcl_cl_handle, sbcl_cl_uint, const char **, const size_t *, sbcl_cl_int *);
    sbcl_cl_int (* _Nonnull buildProgram)(sbcl_cl_handle, sbcl_cl_uint, const sbcl_cl_handle *, const char *, void *, void *);
    sbcl_cl_int (* _Nonnull getProgramBuildInfo)(sbcl_cl_handle, sbcl_cl_handle, sbcl_cl_uint, size_t, void *, size_t *);
    sbcl_cl_handle (* _Nonnull createKernel)(sbcl_cl_handle, const char *, sbcl_cl_int *);
    sbcl_cl_int (* _Nonnull setKernelArg)(sbcl_cl_handle, sbcl_cl_uint, size_t, const void *);
    sbcl_cl_int (* _Nonnull enqueueNDRangeKernel)(sbcl_cl_handle, sbcl_cl_handle, sbcl_cl_uint, const size_t *, const size_t *,
                                        const size_t *, sbcl_cl_uint, const sbcl_cl_handle *, sbcl_cl_handle *);
    sbcl_cl_int (* _Nonnull finish)(sbcl_cl_handle);
    sbcl_cl_int (* _Nonnull enqueueBarrierWithWaitList)(sbcl_cl_handle, sbcl_cl_uint, const sbcl_cl_handle *, sbcl_cl_handle *);
    sbcl_cl_int (* _Nonnull waitForEvents)(sbcl_cl_uint, const sbcl_cl_handle *);
    sbcl_cl_int (* _Nonnull releaseEvent)(sbcl_cl_handle);
    sbcl_cl_int (* _Nonnull flush)(sbcl_cl_handle);
    sbcl_cl_int (* _Nonnull releaseKernel)(sbcl_cl_handle);
    sbcl_cl_int (* _Nonnull releaseProgram)(sbcl_cl_handle);
    sbcl_cl_int (* _Nonnull releaseCommandQueue)(sbcl_cl_handle);
    sbcl_cl_int (* _Nonnull releaseContext)(sbcl_cl_handle);

    /// CLBlastSgemm (row- or column-major C = α·op(A)·op(B) + β·C on buffers with offsets).
    int (* _Nonnull clblastSgemm)(int layout, int transposeA, int transposeB, size_t m, size_t n, size_t k, float alpha,
                        sbcl_cl_handle a, size_t aOffset, size_t lda, sbcl_cl_handle b, size_t bOffset, size_t ldb,
                        float beta, sbcl_cl_handle c, size_t cOffset, size_t ldc, sbcl_cl_handle *queue,
                        sbcl_cl_handle *event);
} sbcl_opencl_api;

/// Loads `openclPath` (NULL: "libOpenCL.so.1") and `clblastPath` (NULL: "libclblast.so.1") and
/// resolves every symbol. Returns the table (the same one on every later call once loaded), or
/// NULL with a sentence in `error` (at most `capacity` bytes) naming what was missing.
const sbcl_opencl_api *sbcl_opencl_load(const char *openclPath, const char *clblastPath, char *error, size_t capacity);

#pragma clang diagnostic pop

#ifdef __cplusplus
}
#endif

#endif
