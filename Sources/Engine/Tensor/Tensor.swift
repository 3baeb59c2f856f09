/// An n-dimensional array of Float32 (or Int32) values on a backend.
///
/// A struct over a shared `TensorStorage`. Tensors are immutable values as far as the engine is
/// concerned: every op allocates its result. A tensor that takes part in differentiation carries
/// a `GradNode`, the link to the op that made it.
public struct Tensor: @unchecked Sendable {
    /// Dimensions, outermost first. A scalar has shape `[]`.
    public let shape: [Int]
    /// The element type.
    public let dtype: DType
    /// The memory holding `count` contiguous elements in row-major order.
    public let storage: TensorStorage
    /// The op that produced this tensor, when gradients flow through it.
    public internal(set) var node: GradNode?

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The backend holding the storage.
    public var backend: any Backend { storage.backend }
    /// Whether gradients flow back through this tensor.
    public var requiresGrad: Bool { node != nil }

    /// Wraps existing storage (no copy).
    public init(shape: [Int], dtype: DType = .float32, storage: TensorStorage, node: GradNode? = nil) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        precondition(dtype == .float32 || dtype == .int32, "Tensor: element type \(dtype) is not supported; tensors hold float32 or int32")
        precondition(storage.byteCount >= shape.reduce(1, *) * dtype.byteSize,
                     "Tensor: storage of \(storage.byteCount) bytes is too small for shape \(shape)")
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.node = node
    }

    /// A new, uninitialised tensor.
    public init(uninitializedShape shape: [Int], dtype: DType = .float32, on backend: any Backend = CPUBackend.shared) {
        let n = shape.reduce(1, *)
        self.init(shape: shape, dtype: dtype, storage: backend.allocate(byteCount: n * dtype.byteSize))
    }

    /// A Float32 tensor holding `values` in row-major order.
    public init(_ values: [Float], shape: [Int], on backend: any Backend = CPUBackend.shared) {
        precondition(values.count == shape.reduce(1, *),
                     "Tensor(_:shape:): \(values.count) values do not fill shape \(shape)")
        self.init(uninitializedShape: shape, on: backend)
        values.withUnsafeBytes { backend.upload($0, to: storage) }
    }

    /// An Int32 tensor (labels, indices).
    public init(int32 values: [Int32], shape: [Int], on backend: any Backend = CPUBackend.shared) {
        precondition(values.count == shape.reduce(1, *),
                     "Tensor(int32:shape:): \(values.count) values do not fill shape \(shape)")
        self.init(uninitializedShape: shape, dtype: .int32, on: backend)
        values.withUnsafeBytes { backend.upload($0, to: storage) }
    }

    /// A Float32 scalar.
    public init(scalar: Float, on backend: any Backend = CPUBackend.shared) {
        self.init([scalar], shape: [], on: backend)
    }

    /// A tensor filled with `value`.
    public init(repeating value: Float, shape: [Int], on backend: any Backend = CPUBackend.shared) {
        self.init(uninitializedShape: shape, on: backend)
        if storage.isHost {
            storage.floats.update(repeating: value, count: count)
        } else if let device = backend as? any DeviceKernels {
            device.fill(value, count: count, into: storage)
        } else {
            preconditionFailure("Tensor(repeating:): \(backend.name) has device memory but no kernels")
        }
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], on backend: any Backend = CPUBackend.shared) -> Tensor {
        Tensor(repeating: 0, shape: shape, on: backend)
    }

    /// The values, copied out (Float32 tensors); a device-to-host transfer for a device tensor.
    public var scalars: [Float] {
        precondition(dtype == .float32, "Tensor.scalars: tensor is \(dtype), not float32")
        if storage.isHost { return Array(UnsafeBufferPointer(start: storage.floats, count: count)) }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            backend.download(storage, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// The values, copied out (Int32 tensors).
    public var int32Scalars: [Int32] {
        precondition(dtype == .int32, "Tensor.int32Scalars: tensor is \(dtype), not int32")
        if storage.isHost { return Array(UnsafeBufferPointer(start: storage.int32s, count: count)) }
        return [Int32](unsafeUninitializedCapacity: count) { buffer, initialized in
            backend.download(storage, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1 && dtype == .float32, "Tensor.item: needs one float32 element, shape is \(shape)")
        return storage.isHost ? storage.floats[0] : scalars[0]
    }

    /// The same values with no link to the graph: gradients stop here.
    public var detached: Tensor { Tensor(shape: shape, dtype: dtype, storage: storage) }

    /// A copy in fresh storage (no graph link).
    public func copied() -> Tensor {
        let out = Tensor(uninitializedShape: shape, dtype: dtype, on: backend)
        backend.copy(from: storage, to: out.storage, byteCount: count * dtype.byteSize)
        return out
    }

    /// Read-only access to the Float32 elements.
    @inline(__always)
    public func withFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(dtype == .float32, "Tensor.withFloats: tensor is \(dtype), not float32")
        return try body(UnsafeBufferPointer(start: storage.floats, count: count))
    }

    /// Write access to the Float32 elements. Only for tensors the caller owns exclusively (fresh
    /// results, parameters between steps).
    @inline(__always)
    public func withMutableFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(dtype == .float32, "Tensor.withMutableFloats: tensor is \(dtype), not float32")
        return try body(UnsafeMutableBufferPointer(start: storage.floats, count: count))
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = dtype == .float32 ? scalars.prefix(8).map { "\($0)" } : int32Scalars.prefix(8).map { "\($0)" }
        return "Tensor(\(shape), \(dtype): [\(shown.joined(separator: ", "))\(count > 8 ? ", ..." : "")])"
    }
}
