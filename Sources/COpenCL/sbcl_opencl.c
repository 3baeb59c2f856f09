#include "sbcl_opencl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static sbcl_opencl_api api;
static int loaded = 0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

#define RESOLVE(library, path, field, name)                                       \
    do {                                                                          \
        *(void **)(&table.field) = dlsym(library, name);                          \
        if (!table.field) {                                                       \
            snprintf(error, capacity, "%s has no symbol %s", path, name);         \
            goto fail;                                                            \
        }                                                                         \
    } while (0)

const sbcl_opencl_api *sbcl_opencl_load(const char *openclPath, const char *clblastPath, char *error, size_t capacity) {
    pthread_mutex_lock(&lock);
    // The table is shared once loaded from the default names; an explicit path is always tried.
    if (loaded && !openclPath && !clblastPath) {
        pthread_mutex_unlock(&lock);
        return &api;
    }
    if (!openclPath) openclPath = "libOpenCL.so.1";
    if (!clblastPath) clblastPath = "libclblast.so.1";
    sbcl_opencl_api table;
    void *clblast = NULL;
    void *opencl = dlopen(openclPath, RTLD_NOW | RTLD_GLOBAL);
    if (!opencl) {
        snprintf(error, capacity, "cannot load %s (install an OpenCL driver and the ICD loader, e.g. ocl-icd-libopencl1): %s",
                 openclPath, dlerror());
        goto fail;
    }
    RESOLVE(opencl, openclPath, getPlatformIDs, "clGetPlatformIDs");
    RESOLVE(opencl, openclPath, getPlatformInfo, "clGetPlatformInfo");
    RESOLVE(opencl, openclPath, getDeviceIDs, "clGetDeviceIDs");
    RESOLVE(opencl, openclPath, getDeviceInfo, "clGetDeviceInfo");
    RESOLVE(opencl, openclPath, createContext, "clCreateContext");
    RESOLVE(opencl, openclPath, createCommandQueue, "clCreateCommandQueue");
    RESOLVE(opencl, openclPath, createBuffer, "clCreateBuffer");
    RESOLVE(opencl, openclPath, releaseMemObject, "clReleaseMemObject");
    RESOLVE(opencl, openclPath, enqueueWriteBuffer, "clEnqueueWriteBuffer");
    RESOLVE(opencl, openclPath, enqueueReadBuffer, "clEnqueueReadBuffer");
    RESOLVE(opencl, openclPath, enqueueCopyBuffer, "clEnqueueCopyBuffer");
    RESOLVE(opencl, openclPath, createProgramWithSource, "clCreateProgramWithSource");
    RESOLVE(opencl, openclPath, buildProgram, "clBuildProgram");
    RESOLVE(opencl, openclPath, getProgramBuildInfo, "clGetProgramBuildInfo");
    RESOLVE(opencl, openclPath, createKernel, "clCreateKernel");
    RESOLVE(opencl, openclPath, setKernelArg, "clSetKernelArg");
    RESOLVE(opencl, openclPath, enqueueNDRangeKernel, "clEnqueueNDRangeKernel");
    RESOLVE(opencl, openclPath, finish, "clFinish");
    RESOLVE(opencl, openclPath, flush, "clFlush");
    RESOLVE(opencl, openclPath, enqueueBarrierWithWaitList, "clEnqueueBarrierWithWaitList");
    RESOLVE(opencl, openclPath, waitForEvents, "clWaitForEvents");
    RESOLVE(opencl, openclPath, releaseEvent, "clReleaseEvent");
    RESOLVE(opencl, openclPath, releaseKernel, "clReleaseKernel");
    RESOLVE(opencl, openclPath, releaseProgram, "clReleaseProgram");
    RESOLVE(opencl, openclPath, releaseCommandQueue, "clReleaseCommandQueue");
    RESOLVE(opencl, openclPath, releaseContext, "clReleaseContext");
    clblast = dlopen(clblastPath, RTLD_NOW | RTLD_LOCAL);
    if (!clblast) {
        snprintf(error, capacity, "cannot load %s (install CLBlast, e.g. libclblast1): %s", clblastPath, dlerror());
        goto fail;
    }
    RESOLVE(clblast, clblastPath, clblastSgemm, "CLBlastSgemm");
    api = table;
    loaded = 1;
    pthread_mutex_unlock(&lock);
    return &api;
fail:
    // The libraries stay loaded on failure: dlclose of an ICD loader that spawned threads is unsafe.
    pthread_mutex_unlock(&lock);
    return NULL;
}
