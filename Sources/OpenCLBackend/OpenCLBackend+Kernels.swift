import COpenCL
import Engine

// The engine's device kernels (`DeviceKernels`) on OpenCL: the element-wise families and the
// axis sum of `KernelSource`, and CLBlast's sgemm.

extension OpenCLBackend {
    /// Work items per group for the element-wise kernels (a multiple of every GPU's warp/wavefront).
    static let elementwiseGroup = 64

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
        precondition(shape.count <= 8, "OpenCL zip: rank \(shape.count) above 8 (shape \(shape))")
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
        guard m > 0, n > 0 else { return }
        guard !hasPendingError, let ha = a.deviceBuffer.handle, let hb = b.deviceBuffer.handle,
              let hc = c.deviceBuffer.handle else { return }
        var queue: UnsafeMutableRawPointer? = self.queue
        var status: Int32 = 0
        timed("sgemm") {
            status = api.clblastSgemm(SBCL_CLBLAST_ROW_MAJOR, transposeA ? SBCL_CLBLAST_TRANSPOSE_YES : SBCL_CLBLAST_TRANSPOSE_NO,
                                      transposeB ? SBCL_CLBLAST_TRANSPOSE_YES : SBCL_CLBLAST_TRANSPOSE_NO,
                                      m, n, k, alpha, ha, 0, lda, hb, 0, ldb, beta, hc, 0, ldc, &queue, nil)
        }
        if status != 0 {
            // CLBlast returns OpenCL's own codes for driver errors (allocation failures included).
            record(status, "CLBlastSgemm(\(m)×\(k)·\(k)×\(n))")
        }
    }
}
