/// The kernels a backend with its own memory (a GPU) runs for the engine's ops.
///
/// The engine's ops check `tensor.backend as? any DeviceKernels` and `supports(_:)` at their
/// start and call these; everything else about the op (shapes, autodiff, the pullback) stays in
/// `Ops/`, shared with the CPU. Storage handed in belongs to the conforming backend; outputs are
/// fresh storage the op just allocated. Work is queued in order and may still be running when a
/// call returns: `Backend.download` and `Backend.synchronize` wait for it.
public protocol DeviceKernels: Backend {
    /// `out[i] = f(x[i])` for `count` Float32 elements.
    func map(_ kernel: UnaryKernel, _ x: TensorStorage, count: Int, into out: TensorStorage)
    /// `out[i] = f(a[ia], b[ib])` over `shape` in row-major order, the offsets following the
    /// element strides `stridesA` and `stridesB` (0 along broadcast dimensions; rank ≤ 8).
    func zip(_ kernel: BinaryKernel, _ a: TensorStorage, strides stridesA: [Int], _ b: TensorStorage,
             strides stridesB: [Int], shape: [Int], into out: TensorStorage)
    /// `out[o, i] = Σ_k x[o, k, i]` for x of shape [outer, size, inner] (row-major).
    func sum(_ x: TensorStorage, outer: Int, size: Int, inner: Int, into out: TensorStorage)
    /// Sets `count` Float32 elements to `value`.
    func fill(_ value: Float, count: Int, into out: TensorStorage)
    /// Int32 elements as Float32.
    func convertToFloat(_ x: TensorStorage, count: Int, into out: TensorStorage)
    /// `C = α·op(A)·op(B) + β·C`, row-major, `op(A)` m × k, `op(B)` k × n (as `GEMM.sgemm`).
    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: TensorStorage, lda: Int, b: TensorStorage, ldb: Int, beta: Float, c: TensorStorage, ldc: Int)
}

/// Element-wise functions of one Float32 tensor that a device kernel implements.
public enum UnaryKernel: Equatable, Sendable {
    case negate, exp, log, sqrt, relu
    /// x·s
    case scale(Float)
    /// x + s
    case addScalar(Float)
    /// x^p
    case pow(Float)
}

/// Element-wise functions of two broadcast Float32 tensors that a device kernel implements: the
/// four arithmetic ops and the pullbacks of the unary ops, named after what they compute.
public enum BinaryKernel: Equatable, Sendable {
    case add, subtract, multiply, divide
    /// a if b > 0, else 0 (the pullback of relu, b the input).
    case reluBackward
    /// a·0.5 / b (the pullback of sqrt, b its output).
    case sqrtBackward
    /// −a / b (with a = g·out, the pullback of a quotient's divisor).
    case negatedQuotient
    /// a·p·b^(p−1) (the pullback of x^p, b the input).
    case powBackward(Float)
    /// v where b ≠ 0, else a (masked fill, b the mask).
    case maskedFill(Float)
}

extension Tensor {
    /// This tensor's backend as a device backend that runs `op`, or nil when the op runs on the CPU.
    /// A device tensor whose backend lacks the op stops at a precondition naming both (no silent
    /// host round trip).
    func deviceKernels(for op: PrimitiveOp) -> (any DeviceKernels)? {
        guard !storage.isHost else { return nil }
        guard let device = backend as? any DeviceKernels, device.supports(op) else {
            preconditionFailure("\(op.rawValue): no kernel on \(backend.name); move the tensors to the CPU first")
        }
        return device
    }

    /// Moves the values to `target` (no graph link): a transfer when one side is a device,
    /// a plain copy otherwise; `self` when already there.
    public func moved(to target: any Backend) -> Tensor {
        if target === backend { return self }
        let out = Tensor(uninitializedShape: shape, dtype: dtype, on: target)
        let bytes = count * dtype.byteSize
        switch (storage.isHost, out.storage.isHost) {
        case (true, _):
            target.upload(UnsafeRawBufferPointer(start: storage.raw, count: bytes), to: out.storage)
        case (false, true):
            backend.download(storage, into: UnsafeMutableRawBufferPointer(start: out.storage.raw, count: bytes))
        case (false, false):
            var host = [UInt8](repeating: 0, count: bytes)
            host.withUnsafeMutableBytes { backend.download(storage, into: $0) }
            host.withUnsafeBytes { target.upload($0, to: out.storage) }
        }
        return out
    }
}
