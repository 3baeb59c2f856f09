/// Memory owned by a backend, shared by the tensors that view it.
///
/// Storage is a final class so that tensors (structs) can share it without copying. It is
/// `@unchecked Sendable` because the engine never mutates storage that another tensor can
/// observe: ops write only into storage they just allocated (or that a caller owns exclusively,
/// such as parameter updates done by an optimiser between steps).
public final class TensorStorage: @unchecked Sendable {
    /// The raw memory, `byteCount` bytes, 64-byte aligned.
    public let raw: UnsafeMutableRawPointer
    /// The number of bytes.
    public let byteCount: Int
    /// The backend that allocated the memory and receives it back.
    public let backend: any Backend

    init(raw: UnsafeMutableRawPointer, byteCount: Int, backend: any Backend) {
        self.raw = raw
        self.byteCount = byteCount
        self.backend = backend
    }

    deinit { backend.release(raw, byteCount: byteCount) }

    /// The memory as Float32 elements.
    @inline(__always) public var floats: UnsafeMutablePointer<Float> {
        raw.assumingMemoryBound(to: Float.self)
    }

    /// The memory as Int32 elements.
    @inline(__always) public var int32s: UnsafeMutablePointer<Int32> {
        raw.assumingMemoryBound(to: Int32.self)
    }
}
