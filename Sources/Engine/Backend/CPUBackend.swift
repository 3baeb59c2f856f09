import Foundation
import Synchronization
import CBLAS

/// The CPU backend: OpenBLAS for matrix products, Swift kernels over both cores for the rest.
///
/// Freed memory is kept in size-keyed free lists and handed out again, so a training loop that
/// allocates the same shapes every step reaches a steady state with no calls to `malloc`.
public final class CPUBackend: Backend {
    /// The process-wide CPU backend.
    public static let shared = CPUBackend()

    private let pool = Mutex(FreeLists())
    private let kernels: Mutex<ConvKernels>

    /// A CPU backend running `convKernels` (the widest set this CPU runs, `auto`, by default).
    public init(convKernels: ConvKernels = ConvKernels()) {
        kernels = Mutex(convKernels)
    }

    /// The convolution kernels this backend's convolutions run: a value the executable gives it
    /// once at start (from `SBCL_KERNELS` and `SBCL_CONV`); the engine never reads the environment.
    public var convKernels: ConvKernels {
        get { kernels.withLock { $0 } }
        set { kernels.withLock { $0 = newValue } }
    }
    /// The most bytes kept for reuse; memory released beyond it goes back to the system.
    private let poolLimit = 8 << 30

    public var name: String { "cpu (OpenBLAS, \(CPUThreads.count) threads)" }
    public var device: DeviceKind { .cpu }

    public func allocate(byteCount: Int) -> TensorStorage {
        let size = Self.rounded(byteCount)
        let reused = pool.withLock { $0.take(size: size) }
        let raw = reused ?? UnsafeMutableRawPointer.allocate(byteCount: max(size, 64), alignment: 64)
        return TensorStorage(raw: raw, byteCount: byteCount, backend: self)
    }

    public func release(_ memory: TensorStorage.Memory, byteCount: Int) {
        guard case .host(let raw) = memory else { preconditionFailure("CPUBackend.release: device memory handed to the CPU backend") }
        let size = Self.rounded(byteCount)
        let kept = pool.withLock { $0.keep(raw, size: size, limit: poolLimit) }
        if !kept { raw.deallocate() }
    }

    public func copy(from source: TensorStorage, to destination: TensorStorage, byteCount: Int) {
        destination.raw.copyMemory(from: source.raw, byteCount: byteCount)
    }

    public func upload(_ source: UnsafeRawBufferPointer, to destination: TensorStorage) {
        precondition(source.count <= destination.byteCount, "CPUBackend.upload: \(source.count) bytes into \(destination.byteCount)")
        if let base = source.baseAddress { destination.raw.copyMemory(from: base, byteCount: source.count) }
    }

    public func download(_ source: TensorStorage, into destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count <= source.byteCount, "CPUBackend.download: \(destination.count) bytes from \(source.byteCount)")
        if let base = destination.baseAddress { base.copyMemory(from: source.raw, byteCount: destination.count) }
    }

    /// Host work is done when a kernel returns; nothing can fail later.
    public func synchronize() throws {}

    /// The CPU runs every primitive op.
    public func supports(_ op: PrimitiveOp) -> Bool { true }

    private static func rounded(_ n: Int) -> Int { (n + 63) & ~63 }
}

/// The number of threads CPU kernels (and OpenBLAS) use.
public enum CPUThreads {
    nonisolated(unsafe) private static var current = ProcessInfo.processInfo.activeProcessorCount

    /// The thread count in force.
    public static var count: Int { current }

    /// Sets the thread count for the engine's kernels. OpenBLAS stays single-threaded: `GEMM`
    /// splits products over the engine's threads itself, in chunks that do not depend on `n`.
    public static func set(_ n: Int) {
        precondition(n >= 1, "CPUThreads.set: thread count must be at least 1, got \(n)")
        current = n
        ThreadPool.shared.threadCount = n
        GEMM.singleThreaded()
    }
}
