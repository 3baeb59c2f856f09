/// A place where tensors live and ops run: the CPU today, a GPU later.
///
/// Backends are runtime values (`any Backend`) chosen with `--device`, not generic parameters.
/// The engine's ops ask `supports(_:)` before dispatching and run the CPU kernels otherwise.
public protocol Backend: AnyObject, Sendable {
    /// A short name for logs and manifests, e.g. `cpu (OpenBLAS, 2 threads)`.
    var name: String { get }
    /// The device kind this backend drives.
    var device: DeviceKind { get }
    /// Memory for `byteCount` bytes; a backend may hand back memory released earlier.
    func allocate(byteCount: Int) -> TensorStorage
    /// Takes back memory from a storage that is being freed.
    func release(_ raw: UnsafeMutableRawPointer, byteCount: Int)
    /// Copies `byteCount` bytes between storages of this backend.
    func copy(from source: TensorStorage, to destination: TensorStorage, byteCount: Int)
    /// Whether this backend has its own kernel for `op`.
    func supports(_ op: PrimitiveOp) -> Bool
}

/// The kinds of device a recipe or the CLI can ask for.
public enum DeviceKind: String, Sendable, CaseIterable {
    case cpu
    case cuda
}
