#ifndef SBCL_CUDA_H
#define SBCL_CUDA_H

// NVIDIA's libraries, loaded at run time: the driver (libcuda.so.1), NVRTC (the run-time CUDA C++
// compiler), cuBLAS and, when present, cuDNN 9. Each `sbcl_cuda_load_*` tries the candidate paths
// it is given in order (the caller builds the documented search order, see docs/cuda.md), dlopens
// the first that loads and resolves every required symbol, and fills a struct of function
// pointers. Nothing here includes cuda.h or links any of them, so the package builds and runs
// where none is installed; only `--device cuda|auto` (and the NVRTC compile test) loads them.
//
// The types are the CUDA driver API's, spelled out (every handle is an opaque pointer, CUdevice
// is int, CUdeviceptr is uint64, CUresult/nvrtcResult/cublasStatus_t are int), with the few
// constants the backend uses copied from NVIDIA's headers. Symbols are the versioned names
// (`cuMemAlloc_v2`, ...) that the cuda.h macros resolve to since CUDA 3.2.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-completeness"

typedef int sbcl_cu_result;
typedef int sbcl_cu_device;
typedef uint64_t sbcl_cu_deviceptr;
typedef void *sbcl_cu_handle;

enum {
    SBCL_CUDA_SUCCESS = 0,
    SBCL_CUDA_ERROR_OUT_OF_MEMORY = 2,
    SBCL_CUDA_ERROR_NOT_INITIALIZED = 3,
    SBCL_CUDA_ERROR_STUB_LIBRARY = 34,
    SBCL_CUDA_ERROR_NO_DEVICE = 100,
    SBCL_CUDA_ERROR_INVALID_DEVICE = 101,
    SBCL_CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
};

// CUdevice_attribute values.
#define SBCL_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK 1
#define SBCL_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK 8
#define SBCL_CU_DEVICE_ATTRIBUTE_CLOCK_RATE 13
#define SBCL_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16
#define SBCL_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define SBCL_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
// cuMemHostAlloc flags, cuStreamCreate flags, cuEventCreate flags.
#define SBCL_CU_MEMHOSTALLOC_PORTABLE 1u
#define SBCL_CU_STREAM_NON_BLOCKING 1u
#define SBCL_CU_EVENT_DISABLE_TIMING 2u
// cuStreamBeginCapture modes.
#define SBCL_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL 1

/// The driver API entry points the backend calls. The `_Nullable` ones are optional: absent from
/// an old driver, they stay NULL and the backend goes without (CUDA graphs, elapsed times).
typedef struct {
    sbcl_cu_result (* _Nonnull init)(unsigned int flags);
    sbcl_cu_result (* _Nonnull driverGetVersion)(int *version);
    sbcl_cu_result (* _Nonnull getErrorString)(sbcl_cu_result, const char **text);
    sbcl_cu_result (* _Nonnull deviceGetCount)(int *count);
    sbcl_cu_result (* _Nonnull deviceGet)(sbcl_cu_device *device, int ordinal);
    sbcl_cu_result (* _Nonnull deviceGetName)(char *name, int length, sbcl_cu_device device);
    sbcl_cu_result (* _Nonnull deviceGetAttribute)(int *value, int attribute, sbcl_cu_device device);
    sbcl_cu_result (* _Nonnull deviceTotalMem)(size_t *bytes, sbcl_cu_device device);
    sbcl_cu_result (* _Nonnull devicePrimaryCtxRetain)(sbcl_cu_handle *context, sbcl_cu_device device);
    sbcl_cu_result (* _Nonnull devicePrimaryCtxRelease)(sbcl_cu_device device);
    sbcl_cu_result (* _Nonnull ctxSetCurrent)(sbcl_cu_handle context);
    sbcl_cu_result (* _Nonnull ctxSynchronize)(void);
    sbcl_cu_result (* _Nonnull memGetInfo)(size_t *free, size_t *total);
    sbcl_cu_result (* _Nonnull memAlloc)(sbcl_cu_deviceptr *pointer, size_t bytes);
    sbcl_cu_result (* _Nonnull memFree)(sbcl_cu_deviceptr pointer);
    sbcl_cu_result (* _Nonnull memHostAlloc)(void **pointer, size_t bytes, unsigned int flags);
    sbcl_cu_result (* _Nonnull memFreeHost)(void *pointer);
    sbcl_cu_result (* _Nonnull memcpyHtoD)(sbcl_cu_deviceptr destination, const void *source, size_t bytes);
    sbcl_cu_result (* _Nonnull memcpyDtoH)(void *destination, sbcl_cu_deviceptr source, size_t bytes);
    sbcl_cu_result (* _Nonnull memcpyHtoDAsync)(sbcl_cu_deviceptr destination, const void *source, size_t bytes,
                                                sbcl_cu_handle stream);
    sbcl_cu_result (* _Nonnull memcpyDtoHAsync)(void *destination, sbcl_cu_deviceptr source, size_t bytes,
                                                sbcl_cu_handle stream);
    sbcl_cu_result (* _Nonnull memcpyDtoDAsync)(sbcl_cu_deviceptr destination, sbcl_cu_deviceptr source, size_t bytes,
                                                sbcl_cu_handle stream);
    sbcl_cu_result (* _Nonnull streamCreate)(sbcl_cu_handle *stream, unsigned int flags);
    sbcl_cu_result (* _Nonnull streamDestroy)(sbcl_cu_handle stream);
    sbcl_cu_result (* _Nonnull streamSynchronize)(sbcl_cu_handle stream);
    sbcl_cu_result (* _Nonnull streamWaitEvent)(sbcl_cu_handle stream, sbcl_cu_handle event, unsigned int flags);
    sbcl_cu_result (* _Nonnull eventCreate)(sbcl_cu_handle *event, unsigned int flags);
    sbcl_cu_result (* _Nonnull eventRecord)(sbcl_cu_handle event, sbcl_cu_handle stream);
    sbcl_cu_result (* _Nonnull eventSynchronize)(sbcl_cu_handle event);
    sbcl_cu_result (* _Nonnull eventDestroy)(sbcl_cu_handle event);
    sbcl_cu_result (* _Nonnull moduleLoadData)(sbcl_cu_handle *module, const void *image);
    sbcl_cu_result (* _Nonnull moduleUnload)(sbcl_cu_handle module);
    sbcl_cu_result (* _Nonnull moduleGetFunction)(sbcl_cu_handle *function, sbcl_cu_handle module, const char *name);
    sbcl_cu_result (* _Nonnull launchKernel)(sbcl_cu_handle function, unsigned int gridX, unsigned int gridY,
                                             unsigned int gridZ, unsigned int blockX, unsigned int blockY,
                                             unsigned int blockZ, unsigned int sharedBytes, sbcl_cu_handle stream,
                                             void **parameters, void **extra);
    // Optional.
    sbcl_cu_result (* _Nullable eventElapsedTime)(float *milliseconds, sbcl_cu_handle start, sbcl_cu_handle end);
    sbcl_cu_result (* _Nullable streamBeginCapture)(sbcl_cu_handle stream, int mode);
    sbcl_cu_result (* _Nullable streamEndCapture)(sbcl_cu_handle stream, sbcl_cu_handle *graph);
    sbcl_cu_result (* _Nullable graphInstantiate)(sbcl_cu_handle *executable, sbcl_cu_handle graph,
                                                  unsigned long long flags);
    sbcl_cu_result (* _Nullable graphLaunch)(sbcl_cu_handle executable, sbcl_cu_handle stream);
    sbcl_cu_result (* _Nullable graphExecDestroy)(sbcl_cu_handle executable);
    sbcl_cu_result (* _Nullable graphDestroy)(sbcl_cu_handle graph);
} sbcl_cuda_driver_api;

/// NVRTC: CUDA C++ source to PTX (any NVRTC) or to a CUBIN for one GPU (NVRTC 11.2 and later).
typedef struct {
    int (* _Nonnull version)(int *major, int *minor);
    const char *(* _Nonnull getErrorString)(int result);
    int (* _Nonnull createProgram)(sbcl_cu_handle *program, const char *source, const char *name, int headerCount,
                                   const char *const *headers, const char *const *includeNames);
    int (* _Nonnull compileProgram)(sbcl_cu_handle program, int optionCount, const char *const *options);
    int (* _Nonnull getPTXSize)(sbcl_cu_handle program, size_t *size);
    int (* _Nonnull getPTX)(sbcl_cu_handle program, char *ptx);
    int (* _Nonnull getProgramLogSize)(sbcl_cu_handle program, size_t *size);
    int (* _Nonnull getProgramLog)(sbcl_cu_handle program, char *log);
    int (* _Nonnull destroyProgram)(sbcl_cu_handle *program);
    // Optional (NVRTC 11.2+).
    int (* _Nullable getCUBINSize)(sbcl_cu_handle program, size_t *size);
    int (* _Nullable getCUBIN)(sbcl_cu_handle program, char *cubin);
} sbcl_nvrtc_api;

// cuBLAS enums (cublas_api.h).
#define SBCL_CUBLAS_OP_N 0
#define SBCL_CUBLAS_OP_T 1
#define SBCL_CUBLAS_DEFAULT_MATH 0
#define SBCL_CUBLAS_PEDANTIC_MATH 2
#define SBCL_CUBLAS_TF32_TENSOR_OP_MATH 3
#define SBCL_CUBLAS_STATUS_ALLOC_FAILED 3

/// cuBLAS (the v2 API): a handle bound to the backend's stream, single-precision GEMM, math mode.
typedef struct {
    int (* _Nonnull create)(sbcl_cu_handle *handle);
    int (* _Nonnull destroy)(sbcl_cu_handle handle);
    int (* _Nonnull getVersion)(sbcl_cu_handle handle, int *version);
    int (* _Nonnull setStream)(sbcl_cu_handle handle, sbcl_cu_handle stream);
    int (* _Nonnull setMathMode)(sbcl_cu_handle handle, int mode);
    /// Column-major C = α·op(A)·op(B) + β·C (alpha and beta are host pointers).
    int (* _Nonnull sgemm)(sbcl_cu_handle handle, int transposeA, int transposeB, int m, int n, int k,
                           const float *alpha, const float *a, int lda, const float *b, int ldb, const float *beta,
                           float *c, int ldc);
    // Optional: the mixed-precision GEMM (bf16 operands) for a later precision setting.
    int (* _Nullable gemmEx)(sbcl_cu_handle handle, int transposeA, int transposeB, int m, int n, int k,
                             const void *alpha, const void *a, int aType, int lda, const void *b, int bType, int ldb,
                             const void *beta, void *c, int cType, int ldc, int computeType, int algorithm);
} sbcl_cublas_api;

// cuDNN enums (cudnn_graph.h, cudnn_cnn.h).
#define SBCL_CUDNN_TENSOR_NHWC 1
#define SBCL_CUDNN_DATA_FLOAT 0
#define SBCL_CUDNN_CROSS_CORRELATION 1
#define SBCL_CUDNN_DEFAULT_MATH 0
#define SBCL_CUDNN_FMA_MATH 3
#define SBCL_CUDNN_DETERMINISTIC 1
#define SBCL_CUDNN_STATUS_ALLOC_FAILED 2000

/// One entry of cuDNN's algorithm search (`cudnnConvolutionFwdAlgoPerf_t`; the backward-data and
/// backward-filter structs have the same layout).
typedef struct {
    int algorithm;
    int status;
    float milliseconds;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
} sbcl_cudnn_algorithm_performance;

/// cuDNN 9: its version, and the legacy convolution API (descriptors, the measured algorithm
/// search, the three convolutions). The convolution entries are optional: a cuDNN without them
/// leaves them NULL and the backend keeps its im2col convolutions. Descriptors and the handle are
/// opaque pointers; alpha and beta are host floats.
typedef struct {
    size_t (* _Nonnull getVersion)(void);
    const char *(* _Nullable getErrorString)(int status);
    int (* _Nullable create)(sbcl_cu_handle *handle);
    int (* _Nullable destroy)(sbcl_cu_handle handle);
    int (* _Nullable setStream)(sbcl_cu_handle handle, sbcl_cu_handle stream);
    int (* _Nullable createTensorDescriptor)(sbcl_cu_handle *descriptor);
    int (* _Nullable setTensor4dDescriptor)(sbcl_cu_handle descriptor, int format, int dataType, int n, int c, int h, int w);
    int (* _Nullable destroyTensorDescriptor)(sbcl_cu_handle descriptor);
    int (* _Nullable createFilterDescriptor)(sbcl_cu_handle *descriptor);
    int (* _Nullable setFilter4dDescriptor)(sbcl_cu_handle descriptor, int dataType, int format, int k, int c, int h, int w);
    int (* _Nullable destroyFilterDescriptor)(sbcl_cu_handle descriptor);
    int (* _Nullable createConvolutionDescriptor)(sbcl_cu_handle *descriptor);
    int (* _Nullable setConvolution2dDescriptor)(sbcl_cu_handle descriptor, int padH, int padW, int strideH, int strideW,
                                                 int dilationH, int dilationW, int mode, int computeType);
    int (* _Nullable setConvolutionMathType)(sbcl_cu_handle descriptor, int mathType);
    int (* _Nullable destroyConvolutionDescriptor)(sbcl_cu_handle descriptor);
    /// Runs every applicable algorithm once and returns them fastest first.
    int (* _Nullable findForward)(sbcl_cu_handle handle, sbcl_cu_handle x, sbcl_cu_handle w, sbcl_cu_handle convolution,
                                  sbcl_cu_handle y, int requested, int *returned,
                                  sbcl_cudnn_algorithm_performance *results);
    int (* _Nullable findBackwardData)(sbcl_cu_handle handle, sbcl_cu_handle w, sbcl_cu_handle dy,
                                       sbcl_cu_handle convolution, sbcl_cu_handle dx, int requested, int *returned,
                                       sbcl_cudnn_algorithm_performance *results);
    int (* _Nullable findBackwardFilter)(sbcl_cu_handle handle, sbcl_cu_handle x, sbcl_cu_handle dy,
                                         sbcl_cu_handle convolution, sbcl_cu_handle dw, int requested, int *returned,
                                         sbcl_cudnn_algorithm_performance *results);
    int (* _Nullable forward)(sbcl_cu_handle handle, const float *alpha, sbcl_cu_handle xDescriptor, const void *x,
                              sbcl_cu_handle wDescriptor, const void *w, sbcl_cu_handle convolution, int algorithm,
                              void *workspace, size_t workspaceBytes, const float *beta, sbcl_cu_handle yDescriptor,
                              void *y);
    int (* _Nullable backwardData)(sbcl_cu_handle handle, const float *alpha, sbcl_cu_handle wDescriptor, const void *w,
                                   sbcl_cu_handle dyDescriptor, const void *dy, sbcl_cu_handle convolution, int algorithm,
                                   void *workspace, size_t workspaceBytes, const float *beta, sbcl_cu_handle dxDescriptor,
                                   void *dx);
    int (* _Nullable backwardFilter)(sbcl_cu_handle handle, const float *alpha, sbcl_cu_handle xDescriptor, const void *x,
                                     sbcl_cu_handle dyDescriptor, const void *dy, sbcl_cu_handle convolution,
                                     int algorithm, void *workspace, size_t workspaceBytes, const float *beta,
                                     sbcl_cu_handle dwDescriptor, void *dw);
} sbcl_cudnn_api;

/// Whether `table` has every convolution entry (a cuDNN whose legacy API is complete).
int sbcl_cudnn_has_convolutions(const sbcl_cudnn_api *table);

/// Tries `paths[0..count)` in order and fills `table` from the first that loads and resolves
/// every required symbol; returns that path's index, or -1 with a sentence in `error` (at most
/// `capacity` bytes) naming each path tried and why it failed. Nothing is kept between calls (the
/// libraries stay loaded; dlopen of a loaded library is cheap): the caller keeps the table.
long sbcl_cuda_load_driver(const char *const *paths, size_t count, sbcl_cuda_driver_api *table, char *error, size_t capacity);
/// The same for NVRTC.
long sbcl_cuda_load_nvrtc(const char *const *paths, size_t count, sbcl_nvrtc_api *table, char *error, size_t capacity);
/// The same for cuBLAS.
long sbcl_cuda_load_cublas(const char *const *paths, size_t count, sbcl_cublas_api *table, char *error, size_t capacity);
/// The same for cuDNN.
long sbcl_cuda_load_cudnn(const char *const *paths, size_t count, sbcl_cudnn_api *table, char *error, size_t capacity);

/// The search alone, for one symbol: the index of the first of `paths[0..count)` that loads and
/// defines `symbol`, or -1 with every path tried and its reason in `error` (tests, diagnostics).
long sbcl_cuda_probe(const char *const *paths, size_t count, const char *symbol, char *error, size_t capacity);

#pragma clang diagnostic pop

#ifdef __cplusplus
}
#endif

#endif
