import CCUDA
import DeviceKernelSource
import Engine

// What CUDA adds to the kernels launched once for both GPU backends (`KernelLaunching`, in
// DeviceKernelSource): its launch geometry, cuBLAS's sgemm, and cuDNN's convolutions.

extension CUDABackend: KernelLaunching {
    /// Threads per block for the element-wise kernels.
    package static let elementwiseGroup = 256

    package var maximumGroupSize: Int { cudaDevice.maximumThreadsPerBlock }

    package func convolutionGEMM(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: TensorStorage, lda: Int,
                                 b: TensorStorage, ldb: Int, c: TensorStorage, ldc: Int) {
        cublasGEMM(convolution: true, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                   a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
    }

    package func libraryConvolution(_ direction: ConvolutionDirection, _ g: Conv2DGeometry, input: TensorStorage,
                                    weight: TensorStorage, output: TensorStorage) -> Bool {
        cudnnConvolution(direction, g, input: input, weight: weight, output: output)
    }

    package func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: TensorStorage, lda: Int, b: TensorStorage, ldb: Int, beta: Float, c: TensorStorage, ldc: Int) {
        cublasGEMM(convolution: false, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                   a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// The row-major `C = α·op(A)·op(B) + β·C` through column-major cuBLAS: a row-major matrix is
    /// its transpose in column-major order, so cuBLAS computes Cᵀ = op(B)ᵀ·op(A)ᵀ (operands and
    /// sizes swapped, the same transpose flags). TF32 math per `precision` (`convolution` marks
    /// the GEMMs of a convolution).
    func cublasGEMM(convolution: Bool, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                    a: TensorStorage, lda: Int, b: TensorStorage, ldb: Int, beta: Float, c: TensorStorage, ldc: Int) {
        guard m > 0, n > 0 else { return }
        guard !hasPendingError, let ha = a.deviceBuffer.handle, let hb = b.deviceBuffer.handle,
              let hc = c.deviceBuffer.handle else { return }
        precondition([m, n, k, lda, ldb, ldc].allSatisfy { $0 <= Int(Int32.max) }, "cuBLAS sgemm: \(m)×\(k)·\(k)×\(n) exceeds 32-bit sizes")
        let tf32 = precision == .tf32 || (precision == .tf32Convolutions && convolution)
        let blas = libraries.cublas
        var alpha = alpha, beta = beta
        var status: Int32 = 0
        bind()
        timed("sgemm") {
            _ = blas.setMathMode(cublas, tf32 ? SBCL_CUBLAS_TF32_TENSOR_OP_MATH : SBCL_CUBLAS_DEFAULT_MATH)
            status = blas.sgemm(cublas, transposeB ? SBCL_CUBLAS_OP_T : SBCL_CUBLAS_OP_N,
                                transposeA ? SBCL_CUBLAS_OP_T : SBCL_CUBLAS_OP_N, Int32(n), Int32(m), Int32(k), &alpha,
                                hb.assumingMemoryBound(to: Float.self), Int32(ldb), ha.assumingMemoryBound(to: Float.self),
                                Int32(lda), &beta, hc.assumingMemoryBound(to: Float.self), Int32(ldc))
        }
        guard status != 0 else { return }
        state.withLock { s in
            guard s.pendingError == nil else { return }
            if status == SBCL_CUBLAS_STATUS_ALLOC_FAILED {
                s.pendingError = .outOfMemory(device: name, requestedBytes: nil, inUseBytes: s.allocatedBytes,
                                              capacityBytes: memoryLimit, stage: nil)
            } else {
                s.pendingError = .failure(device: name, message: "cublasSgemm(\(m)×\(k)·\(k)×\(n)) failed with status \(status)")
            }
        }
    }
}
