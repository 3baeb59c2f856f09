/// Memory owned by a backend, shared by the tensors that view it: host memory (the CPU backend),
/// or a buffer in a device's memory (a GPU backend such as OpenCL).
///
/// Storage is a final class so that tensors (structs) can share it without copying. It is
/// `@unchecked Sendable` because the engine never mutates storage that another tensor can
/// observe: ops write only into storage they just allocated (or that a caller owns exclusively,
/// such as parameter updates done by an optimiser between steps).
///
/// The CPU kernels read `raw`, `floats` and `int32s`, which exist only for host memory: handing a
/// device tensor to a kernel without a device version stops at a precondition naming the backend,
/// never reads a device handle as data. Moving values across is explicit (`Tensor.moved(to:)`,
/// `scalars`), and a device backend counts each such transfer.
public final class TensorStorage: @unchecked Sendable {
    /// Where the bytes are.
    public enum Memory {
        /// Host memory, 64-byte aligned.
        case host(UnsafeMutableRawPointer)
        /// A device buffer: an opaque handle only its backend interprets (an OpenCL `cl_mem`).
        case device(DeviceBuffer)
    }

    /// The memory.
    public let memory: Memory
    /// The number of bytes.
    public let byteCount: Int
    /// The backend that allocated the memory and receives it back.
    public let backend: any Backend

    init(raw: UnsafeMutableRawPointer, byteCount: Int, backend: any Backend) {
        self.memory = .host(raw)
        self.byteCount = byteCount
        self.backend = backend
    }

    /// Storage over memory a backend allocated (a device backend's buffers).
    public init(memory: Memory, byteCount: Int, backend: any Backend) {
        self.memory = memory
        self.byteCount = byteCount
        self.backend = backend
    }

    deinit { backend.release(memory, byteCount: byteCount) }

    /// Whether the bytes are in host memory (CPU kernels can read them).
    @inline(__always) public var isHost: Bool {
        if case .host = memory { return true }
        return false
    }

    /// The host memory, `byteCount` bytes. A precondition stops a CPU kernel handed device memory.
    @inline(__always) public var raw: UnsafeMutableRawPointer {
        guard case .host(let pointer) = memory else {
            preconditionFailure("TensorStorage: this tensor lives on \(backend.name); a CPU kernel cannot read it. "
                                + "The op has no kernel on that device: move the tensor with moved(to: CPUBackend.shared)")
        }
        return pointer
    }

    /// The device buffer. A precondition stops a device kernel handed host memory.
    @inline(__always) public var deviceBuffer: DeviceBuffer {
        guard case .device(let buffer) = memory else {
            preconditionFailure("TensorStorage: this tensor is in host memory, not on a device (\(backend.name))")
        }
        return buffer
    }

    /// The memory as Float32 elements.
    @inline(__always) public var floats: UnsafeMutablePointer<Float> {
        raw.assumingMemoryBound(to: Float.self)
    }

    /// The memory as Int32 elements.
    @inline(__always) public var int32s: UnsafeMutablePointer<Int32> {
        raw.assumingMemoryBound(to: Int32.self)
    }
}

/// A buffer in a device's memory: the handle its backend made (for OpenCL a `cl_mem`).
///
/// `@unchecked Sendable`: an immutable handle; the backend serialises the work on it (one queue).
public struct DeviceBuffer: @unchecked Sendable, Equatable {
    /// The backend's handle; nil only for the placeholder of an allocation that failed (the
    /// backend then holds the out-of-memory error and skips work on it, see `Backend.synchronize`).
    public let handle: UnsafeMutableRawPointer?

    /// Wraps a backend's handle.
    public init(handle: UnsafeMutableRawPointer?) { self.handle = handle }
}
