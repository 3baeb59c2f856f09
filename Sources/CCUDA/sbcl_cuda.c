#include "sbcl_cuda.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

// Appends "path: reason" to the error text (separated by "; ").
static void note(char *error, size_t capacity, const char *path, const char *reason) {
    if (!error || capacity == 0) return;
    size_t used = strnlen(error, capacity);
    if (used + 1 >= capacity) return;
    snprintf(error + used, capacity - used, "%s%s: %s", used ? "; " : "", path, reason ? reason : "failed");
}

// Resolves a required symbol into `field`, or records the missing name and fails this candidate.
#define REQUIRE(field, name)                                                       \
    do {                                                                           \
        *(void **)(&table->field) = dlsym(library, name);                          \
        if (!table->field) { *missing = name; return 0; }                          \
    } while (0)
#define OPTIONAL(field, name) (*(void **)(&table->field) = dlsym(library, name))

static int resolve_driver(void *library, sbcl_cuda_driver_api *table, const char **missing) {
    REQUIRE(init, "cuInit");
    REQUIRE(driverGetVersion, "cuDriverGetVersion");
    REQUIRE(getErrorString, "cuGetErrorString");
    REQUIRE(deviceGetCount, "cuDeviceGetCount");
    REQUIRE(deviceGet, "cuDeviceGet");
    REQUIRE(deviceGetName, "cuDeviceGetName");
    REQUIRE(deviceGetAttribute, "cuDeviceGetAttribute");
    REQUIRE(deviceTotalMem, "cuDeviceTotalMem_v2");
    REQUIRE(devicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    REQUIRE(devicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
    REQUIRE(ctxSetCurrent, "cuCtxSetCurrent");
    REQUIRE(ctxSynchronize, "cuCtxSynchronize");
    REQUIRE(memGetInfo, "cuMemGetInfo_v2");
    REQUIRE(memAlloc, "cuMemAlloc_v2");
    REQUIRE(memFree, "cuMemFree_v2");
    REQUIRE(memHostAlloc, "cuMemHostAlloc");
    REQUIRE(memFreeHost, "cuMemFreeHost");
    REQUIRE(memcpyHtoD, "cuMemcpyHtoD_v2");
    REQUIRE(memcpyDtoH, "cuMemcpyDtoH_v2");
    REQUIRE(memcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
    REQUIRE(memcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
    REQUIRE(memcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
    REQUIRE(streamCreate, "cuStreamCreate");
    REQUIRE(streamDestroy, "cuStreamDestroy_v2");
    REQUIRE(streamSynchronize, "cuStreamSynchronize");
    REQUIRE(streamWaitEvent, "cuStreamWaitEvent");
    REQUIRE(eventCreate, "cuEventCreate");
    REQUIRE(eventRecord, "cuEventRecord");
    REQUIRE(eventSynchronize, "cuEventSynchronize");
    REQUIRE(eventDestroy, "cuEventDestroy_v2");
    REQUIRE(moduleLoadData, "cuModuleLoadData");
    REQUIRE(moduleUnload, "cuModuleUnload");
    REQUIRE(moduleGetFunction, "cuModuleGetFunction");
    REQUIRE(launchKernel, "cuLaunchKernel");
    OPTIONAL(eventElapsedTime, "cuEventElapsedTime");
    OPTIONAL(streamBeginCapture, "cuStreamBeginCapture_v2");
    OPTIONAL(streamEndCapture, "cuStreamEndCapture");
    OPTIONAL(graphInstantiate, "cuGraphInstantiateWithFlags");
    OPTIONAL(graphLaunch, "cuGraphLaunch");
    OPTIONAL(graphExecDestroy, "cuGraphExecDestroy");
    OPTIONAL(graphDestroy, "cuGraphDestroy");
    return 1;
}

static int resolve_nvrtc(void *library, sbcl_nvrtc_api *table, const char **missing) {
    REQUIRE(version, "nvrtcVersion");
    REQUIRE(getErrorString, "nvrtcGetErrorString");
    REQUIRE(createProgram, "nvrtcCreateProgram");
    REQUIRE(compileProgram, "nvrtcCompileProgram");
    REQUIRE(getPTXSize, "nvrtcGetPTXSize");
    REQUIRE(getPTX, "nvrtcGetPTX");
    REQUIRE(getProgramLogSize, "nvrtcGetProgramLogSize");
    REQUIRE(getProgramLog, "nvrtcGetProgramLog");
    REQUIRE(destroyProgram, "nvrtcDestroyProgram");
    OPTIONAL(getCUBINSize, "nvrtcGetCUBINSize");
    OPTIONAL(getCUBIN, "nvrtcGetCUBIN");
    return 1;
}

static int resolve_cublas(void *library, sbcl_cublas_api *table, const char **missing) {
    REQUIRE(create, "cublasCreate_v2");
    REQUIRE(destroy, "cublasDestroy_v2");
    REQUIRE(getVersion, "cublasGetVersion_v2");
    REQUIRE(setStream, "cublasSetStream_v2");
    REQUIRE(setMathMode, "cublasSetMathMode");
    REQUIRE(sgemm, "cublasSgemm_v2");
    OPTIONAL(gemmEx, "cublasGemmEx");
    return 1;
}

static int resolve_cudnn(void *library, sbcl_cudnn_api *table, const char **missing) {
    REQUIRE(getVersion, "cudnnGetVersion");
    OPTIONAL(getErrorString, "cudnnGetErrorString");
    OPTIONAL(create, "cudnnCreate");
    OPTIONAL(destroy, "cudnnDestroy");
    OPTIONAL(setStream, "cudnnSetStream");
    OPTIONAL(createTensorDescriptor, "cudnnCreateTensorDescriptor");
    OPTIONAL(setTensor4dDescriptor, "cudnnSetTensor4dDescriptor");
    OPTIONAL(destroyTensorDescriptor, "cudnnDestroyTensorDescriptor");
    OPTIONAL(createFilterDescriptor, "cudnnCreateFilterDescriptor");
    OPTIONAL(setFilter4dDescriptor, "cudnnSetFilter4dDescriptor");
    OPTIONAL(destroyFilterDescriptor, "cudnnDestroyFilterDescriptor");
    OPTIONAL(createConvolutionDescriptor, "cudnnCreateConvolutionDescriptor");
    OPTIONAL(setConvolution2dDescriptor, "cudnnSetConvolution2dDescriptor");
    OPTIONAL(setConvolutionMathType, "cudnnSetConvolutionMathType");
    OPTIONAL(destroyConvolutionDescriptor, "cudnnDestroyConvolutionDescriptor");
    OPTIONAL(findForward, "cudnnFindConvolutionForwardAlgorithm");
    OPTIONAL(findBackwardData, "cudnnFindConvolutionBackwardDataAlgorithm");
    OPTIONAL(findBackwardFilter, "cudnnFindConvolutionBackwardFilterAlgorithm");
    OPTIONAL(forward, "cudnnConvolutionForward");
    OPTIONAL(backwardData, "cudnnConvolutionBackwardData");
    OPTIONAL(backwardFilter, "cudnnConvolutionBackwardFilter");
    return 1;
}

int sbcl_cudnn_has_convolutions(const sbcl_cudnn_api *t) {
    return t->getErrorString && t->create && t->destroy && t->setStream && t->createTensorDescriptor
        && t->setTensor4dDescriptor && t->destroyTensorDescriptor && t->createFilterDescriptor
        && t->setFilter4dDescriptor && t->destroyFilterDescriptor && t->createConvolutionDescriptor
        && t->setConvolution2dDescriptor && t->setConvolutionMathType && t->destroyConvolutionDescriptor
        && t->findForward && t->findBackwardData && t->findBackwardFilter && t->forward && t->backwardData
        && t->backwardFilter;
}

// Tries each candidate in order: the index of the first that dlopens and satisfies `resolve`
// (which fills `table`), or -1; every failure is appended to `error`.
static long first_library(const char *const *paths, size_t count, int (*resolve)(void *, void *, const char **),
                          void *table, char *error, size_t capacity) {
    if (error && capacity) error[0] = 0;
    for (size_t i = 0; i < count; ++i) {
        void *library = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
        if (!library) { note(error, capacity, paths[i], dlerror()); continue; }
        const char *missing = NULL;
        if (!resolve(library, table, &missing)) {
            char reason[160];
            snprintf(reason, sizeof reason, "has no symbol %s", missing);
            note(error, capacity, paths[i], reason);
            continue; // left loaded: unloading a driver library can be unsafe
        }
        return (long)i;
    }
    if (count == 0) note(error, capacity, "(no candidates)", "nothing to load");
    return -1;
}

static const char *probe_symbol;
static int resolve_probe(void *library, void *table, const char **missing) {
    (void)table;
    if (dlsym(library, probe_symbol)) return 1;
    *missing = probe_symbol;
    return 0;
}

long sbcl_cuda_probe(const char *const *paths, size_t count, const char *symbol, char *error, size_t capacity) {
    pthread_mutex_lock(&lock);
    probe_symbol = symbol;
    long found = first_library(paths, count, resolve_probe, NULL, error, capacity);
    pthread_mutex_unlock(&lock);
    return found;
}

// One library kind: the first complete table, written to `table`; the index of its path or -1.
#define LOADER(function, type, resolver)                                                           \
    static int resolver##_any(void *library, void *table, const char **missing) {                 \
        return resolver(library, (type *)table, missing);                                          \
    }                                                                                              \
    long function(const char *const *paths, size_t count, type *table, char *error, size_t capacity) { \
        pthread_mutex_lock(&lock);                                                                 \
        memset(table, 0, sizeof *table);                                                           \
        long found = first_library(paths, count, resolver##_any, table, error, capacity);          \
        pthread_mutex_unlock(&lock);                                                               \
        return found;                                                                              \
    }

LOADER(sbcl_cuda_load_driver, sbcl_cuda_driver_api, resolve_driver)
LOADER(sbcl_cuda_load_nvrtc, sbcl_nvrtc_api, resolve_nvrtc)
LOADER(sbcl_cuda_load_cublas, sbcl_cublas_api, resolve_cublas)
LOADER(sbcl_cuda_load_cudnn, sbcl_cudnn_api, resolve_cudnn)
