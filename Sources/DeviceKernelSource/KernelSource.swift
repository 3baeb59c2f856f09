/// The device kernels, in one dialect: OpenCL C 1.2 written through a few macros, compiled by the
/// OpenCL driver as they are and by NVRTC after `cudaPrelude` (KernelSource+CUDA.swift).
///
/// The macros in the first block are the only OpenCL-specific spellings; the CUDA prelude defines
/// `SBCL_PRELUDE` and maps `KERNEL` to `extern "C" __global__`, `GLOBAL` to nothing,
/// `GLOBAL_ID(0)` to `blockIdx.x * blockDim.x + threadIdx.x`,
/// `LOCAL_ID(0)`/`GROUP_ID(0)`/`LOCAL_SIZE(0)` to `threadIdx.x`/`blockIdx.x`/`blockDim.x`,
/// `SYNC_LOCAL()` to `__syncthreads()` and `DEVICE_FN` (helper functions) to `__device__`. A
/// kernel's local-memory array is its last argument, always `LOCAL_FLOATS(partial)`: a `__local
/// float *` in OpenCL, whose size the host sets; in CUDA an unused pointer argument (kept so the
/// argument lists match) beside the file-scope dynamic shared array `partial`, sized at launch.
/// The kernels use only C99, `float` maths (`exp`, `log`, `sqrt`, `pow`, `fmax`) and those macros;
/// `#pragma OPENCL FP_CONTRACT OFF` has NVRTC's `--fmad=false` as its counterpart.
///
/// The element-wise op (`UnaryKernel`, `BinaryKernel`) is passed as an int code (the backends'
/// `+Kernels` files) so each family is one kernel.
package enum KernelSource {
    /// Every kernel of `text`, `layers`, `rows`, `contrastiveLoss` and `mocoLoss`, created once per backend.
    package static let kernelNames = ["sbcl_map", "sbcl_zip", "sbcl_sum", "sbcl_fill", "sbcl_int_to_float",
                              "sbcl_im2col", "sbcl_col2im", "sbcl_bn_partial_sums", "sbcl_bn_finish", "sbcl_bn_normalize",
                              "sbcl_bn_backward_input", "sbcl_oihw_to_ohwi", "sbcl_ohwi_to_oihw", "sbcl_shortcut_forward",
                              "sbcl_shortcut_backward", "sbcl_maxpool_forward", "sbcl_maxpool_backward", "sbcl_l2_forward", "sbcl_l2_backward", "sbcl_sgd",
                              "sbcl_softmax", "sbcl_softmax_backward", "sbcl_cross_entropy_terms",
                              "sbcl_cross_entropy_backward", "sbcl_max_axis", "sbcl_max_axis_backward", "sbcl_copy_blocks",
                              "sbcl_contrastive_rows"]
        + mocoLossKernelNames

    package static let text = #"""
#ifndef SBCL_PRELUDE
#define KERNEL __kernel
#define GLOBAL __global
#define LOCAL __local
#define LOCAL_FLOATS(name) __local float *name
#define GLOBAL_ID(d) get_global_id(d)
#define LOCAL_ID(d) get_local_id(d)
#define GROUP_ID(d) get_group_id(d)
#define LOCAL_SIZE(d) get_local_size(d)
#define SYNC_LOCAL() barrier(CLK_LOCAL_MEM_FENCE)
#define DEVICE_FN
#endif

/* No contraction of a*b + c into fma: the CPU kernels round each step, and the ReLU masks of batch
   norm must see the same signs. */
#pragma OPENCL FP_CONTRACT OFF

#define SBCL_MAX_RANK 8

/* The shape of a broadcast element-wise op: the output's dimensions and each operand's element
   strides (0 along broadcast dimensions), padded to SBCL_MAX_RANK. */
typedef struct {
    int rank;
    int contiguous;   /* 1: both operands have the output's shape (no index arithmetic) */
    int scalarB;      /* 1: a has the output's shape and b is one element */
    int pad;
    int shape[SBCL_MAX_RANK];
    int strideA[SBCL_MAX_RANK];
    int strideB[SBCL_MAX_RANK];
} ZipGeometry;

KERNEL void sbcl_map(GLOBAL const float *x, GLOBAL float *y, const int n, const int op, const float s) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= n) return;
    const float v = x[i];
    float r;
    switch (op) {
    case 0: r = -v; break;
    case 1: r = exp(v); break;
    case 2: r = log(v); break;
    case 3: r = sqrt(v); break;
    case 4: r = v > 0.0f ? v : 0.0f; break;
    case 5: r = v * s; break;
    case 6: r = v + s; break;
    default: r = pow(v, s); break;
    }
    y[i] = r;
}

DEVICE_FN float sbcl_binary(const int op, const float a, const float b, const float s) {
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return b > 0.0f ? a : 0.0f;
    case 5: return a * 0.5f / b;
    case 6: return -a / b;
    case 7: return a * s * pow(b, s - 1.0f);
    default: return b != 0.0f ? s : a;
    }
}

/* Dimension d of a ZipGeometry (from the last): its coordinate, and the operands' offsets. */
#define SBCL_ZIP_DIM(d)                                                                  \
    if ((d) < g.rank) {                                                                  \
        const int c = rest % g.shape[d];                                                 \
        rest /= g.shape[d];                                                              \
        ia += c * g.strideA[d];                                                          \
        ib += c * g.strideB[d];                                                          \
    }

KERNEL void sbcl_zip(GLOBAL const float *a, GLOBAL const float *b, GLOBAL float *out, const int n,
                     const int op, const float s, const ZipGeometry g) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= n) return;
    if (g.contiguous) { out[i] = sbcl_binary(op, a[i], b[i], s); return; }
    if (g.scalarB) { out[i] = sbcl_binary(op, a[i], b[0], s); return; }
    /* The dimensions unrolled with constant indices: a loop indexing the struct argument with a
       variable makes NVCC copy the whole struct to local memory in every thread, before the
       branches above (it made the contiguous case 7x slower than sbcl_map on an H200). */
    int rest = i, ia = 0, ib = 0;
    SBCL_ZIP_DIM(7) SBCL_ZIP_DIM(6) SBCL_ZIP_DIM(5) SBCL_ZIP_DIM(4)
    SBCL_ZIP_DIM(3) SBCL_ZIP_DIM(2) SBCL_ZIP_DIM(1) SBCL_ZIP_DIM(0)
    out[i] = sbcl_binary(op, a[ia], b[ib], s);
}

/* out[o, i] = sum over k of x[o, k, i]: one work-group per output element; its threads stride
   over k and combine their partial sums in local memory (the group size is a power of two). */
KERNEL void sbcl_sum(GLOBAL const float *x, GLOBAL float *out, const int outer, const int size, const int inner,
                     LOCAL_FLOATS(partial)) {
    const int group = (int)GROUP_ID(0);
    const int lid = (int)LOCAL_ID(0);
    const int width = (int)LOCAL_SIZE(0);
    const int o = group / inner, i = group % inner;
    GLOBAL const float *row = x + (long)o * size * inner + i;
    float acc = 0.0f;
    for (int k = lid; k < size; k += width) acc += row[(long)k * inner];
    partial[lid] = acc;
    SYNC_LOCAL();
    for (int stride = width / 2; stride > 0; stride /= 2) {
        if (lid < stride) partial[lid] += partial[lid + stride];
        SYNC_LOCAL();
    }
    if (lid == 0) out[group] = partial[0];
}

KERNEL void sbcl_fill(GLOBAL float *out, const int n, const float value) {
    const int i = (int)GLOBAL_ID(0);
    if (i < n) out[i] = value;
}

KERNEL void sbcl_int_to_float(GLOBAL const int *x, GLOBAL float *out, const int n) {
    const int i = (int)GLOBAL_ID(0);
    if (i < n) out[i] = (float)x[i];
}
"""#
}
