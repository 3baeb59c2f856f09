import CCUDA
import Engine

// The engine's device kernels (`DeviceKernels`) on CUDA: the element-wise families and the axis
// sum of `KernelSource` (launched as OpenCLBackend+Kernels launches them), and cuBLAS's sgemm.

extension CUDABackend {
    /// Threads per block for the element-wise kernels.
    static let elementwiseGroup = 256

    /// `count` rounded up to whole groups.
    static func groups(_ count: Int, of size: Int) -> Int { (count + size - 1) / size * size }

    package func map(_ kernel: UnaryKernel, _ x: TensorStorage, count: Int, into out: TensorStorage) {
        let (code, s): (Int, Float) = switch kernel {
        case .negate: (0, 0)
        case .exp: (1, 0)
        case .log: (2, 0)
        case .sqrt: (3, 0)
        case .relu: (4, 0)
        case .scale(let v): (5, v)
        case .addScalar(let v): (6, v)
        case .pow(let p): (7, p)
        }
        launch("sbcl_map", global: Self.groups(count, of: Self.elementwiseGroup), local: Self.elementwiseGroup,
               [.buffer(x), .buffer(out), .int(count), .int(code), .float(s)])
    }

    package func zip(_ kernel: BinaryKernel, _ a: TensorStorage, strides stridesA: [Int], _ b: TensorStorage,
                    strides stridesB: [Int], shape: [Int], into out: TensorStorage) {
        precondition(shape.count <= 8, "CUDA zip: rank \(shape.count) above 8 (shape \(shape))")
        let (code, s): (Int, Float) = switch kernel {
        case .add: (0, 0)
        case .subtract: (1, 0)
        case .multiply: (2, 0)
        case .divide: (3, 0)
        case .reluBackward: (4, 0)
        case .sqrtBackward: (5, 0)
        case .negatedQuotient: (6, 0)
        case .powBackward(let p): (7, p)
        case .maskedFill(let v): (8, v)
        }
        let count = shape.reduce(1, *)
        let dense = Self.denseStrides(shape)
        let contiguous = stridesA == dense && stridesB == dense
        let scalarB = stridesA == dense && stridesB.allSatisfy { $0 == 0 }
        // ZipGeometry in KernelSource: rank, contiguous, scalarB, pad, shape[8], strideA[8], strideB[8].
        var geometry = [Int32(shape.count), contiguous ? 1 : 0, scalarB ? 1 : 0, 0]
        for list in [shape, stridesA, stridesB] {
            geometry += list.map { Int32($0) } + [Int32](repeating: 1, count: 8 - list.count)
        }
        launch("sbcl_zip", global: Self.groups(count, of: Self.elementwiseGroup), local: Self.elementwiseGroup,
               [.buffer(a), .buffer(b), .buffer(out), .int(count), .int(code), .float(s), .bytes(geometry)])
    }

    /// Row-major element strides of `shape`.
    static func denseStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = shape[d] == 1 ? 0 : s
            s *= shape[d]
        }
        return strides
    }

    package func sum(_ x: TensorStorage, outer: Int, size: Int, inner: Int, into out: TensorStorage) {
        let outputs = outer * inner
        guard outputs > 0 else { return }
        if size == 0 { fill(0, count: outputs, into: out); return }
        // One group per output: a power of two up to 256 threads, no wider than the axis needs.
        let width = rowWidth(size)
        launch("sbcl_sum", global: outputs * width, local: width,
               [.buffer(x), .buffer(out), .int(outer), .int(size), .int(inner), .local(width * 4)])
    }

    package func fill(_ value: Float, count: Int, into out: TensorStorage) {
        launch("sbcl_fill", global: Self.groups(count, of: Self.elementwiseGroup), local: Self.elementwiseGroup,
               [.buffer(out), .int(count), .float(value)])
    }

    package func convertToFloat(_ x: TensorStorage, count: Int, into out: TensorStorage) {
        launch("sbcl_int_to_float", global: Self.groups(count, of: Self.elementwiseGroup), local: Self.elementwiseGroup,
               [.buffer(x), .buffer(out), .int(count)])
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
