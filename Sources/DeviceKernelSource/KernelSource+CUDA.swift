extension KernelSource {
    /// The kernels as the OpenCL backend compiles them: the parts in order.
    package static var openCLSource: String { text + layers + rows + contrastiveLoss + mocoLoss }

    /// The kernels as NVRTC compiles them: `cudaPrelude`, then the same parts.
    package static var cudaSource: String { cudaPrelude + text + layers + rows + contrastiveLoss + mocoLoss }

    /// NVRTC's options besides the target: no contraction into FMA (the OpenCL text's
    /// `FP_CONTRACT OFF`), IEEE division and square root, denormals kept (the CPU's semantics);
    /// warning 161 (the OpenCL pragma NVRTC does not know) silenced.
    package static let nvrtcOptions = ["--fmad=false", "--prec-div=true", "--prec-sqrt=true", "--ftz=false",
                                       "--std=c++17", "-default-device", "--diag-suppress=161"]

    /// Maps the dialect's macros to CUDA C++ (see `KernelSource`): defined first, so the text's own
    /// OpenCL block is skipped. NVRTC provides the float overloads of `exp`, `log`, `sqrt`, `pow`
    /// and `fmax` without headers.
    package static let cudaPrelude = #"""
#define SBCL_PRELUDE 1
#define KERNEL extern "C" __global__
#define GLOBAL
#define LOCAL __shared__
#define LOCAL_FLOATS(name) float *sbcl_unused_##name
#define GLOBAL_ID(d) (blockIdx.x * blockDim.x + threadIdx.x)
#define LOCAL_ID(d) threadIdx.x
#define GROUP_ID(d) blockIdx.x
#define LOCAL_SIZE(d) blockDim.x
#define SYNC_LOCAL() __syncthreads()
#define DEVICE_FN __device__
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
typedef unsigned int uint;
/* A kernel's local-memory array: the launch's dynamic shared memory (sized by the host). */
extern __shared__ float partial[];

"""#
}
