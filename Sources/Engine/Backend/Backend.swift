/// A place where tensors live and ops run: the CPU, or a GPU through a backend module loaded at
/// run time (`OpenCLBackend`).
///
/// Backends are runtime values (`any Backend`) chosen with `--device`, not generic parameters.
/// A backend whose memory is not host memory also conforms to `DeviceKernels`; the engine's ops
/// dispatch to it for the ops it `supports(_:)` and stop at a precondition for the others.
public protocol Backend: AnyObject, Sendable {
    /// A short name for logs and manifests, e.g. `cpu (OpenBLAS, 2 threads)`.
    var name: String { get }
    /// The device kind this backend drives.
    var device: DeviceKind { get }
    /// Memory for `byteCount` bytes; a backend may hand back memory released earlier.
    func allocate(byteCount: Int) -> TensorStorage
    /// Takes back memory from a storage that is being freed.
    func release(_ memory: TensorStorage.Memory, byteCount: Int)
    /// Copies `byteCount` bytes between storages of this backend.
    func copy(from source: TensorStorage, to destination: TensorStorage, byteCount: Int)
    /// Copies `source.count` bytes from host memory into `destination` (a host-to-device transfer
    /// on a device backend).
    func upload(_ source: UnsafeRawBufferPointer, to destination: TensorStorage)
    /// Copies `destination.count` bytes of `source` into host memory (a device-to-host transfer
    /// on a device backend); returns when the bytes are there.
    func download(_ source: TensorStorage, into destination: UnsafeMutableRawBufferPointer)
    /// Whether this backend has its own kernel for `op`.
    func supports(_ op: PrimitiveOp) -> Bool
    /// Waits for the work queued so far and throws the first error a device reported since the
    /// last call (device out of memory, a failed launch). The CPU backend never throws.
    func synchronize() throws
}

/// The kinds of device a recipe or the CLI can ask for.
public enum DeviceKind: String, Sendable, CaseIterable {
    case cpu
    case cuda
    case opencl
}
