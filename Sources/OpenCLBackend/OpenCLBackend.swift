import COpenCL
import DeviceKernelSource
import Engine
import Foundation
import Synchronization

/// A backend on one OpenCL device: tensors in device buffers, the engine's element-wise ops and
/// reductions as the kernels of `KernelSource`, matrix products through CLBlast.
///
/// Work goes into one in-order command queue; a call returns once its work is queued. Reading
/// values back (`download`, `Tensor.scalars`, `item`) waits for the queue, and so does
/// `synchronize`, which also throws the first error the device reported (out of memory, a failed
/// launch) — errors are sticky, as in CUDA: after one, further work is skipped until it is taken.
///
/// Freed buffers are kept in size-keyed free lists (as `CPUBackend`) so a training loop reaches a
/// steady state without driver allocations. Every transfer between host and device is counted in
/// `transfers`, so tests can assert that a training step makes none it does not need.
package final class OpenCLBackend: Backend, DeviceKernels, @unchecked Sendable {
    // @unchecked Sendable: the driver handles below are immutable after init, and every mutable
    // field (pool, counters, pending error, kernel arguments) is behind `state`'s lock.

    /// The device this backend drives.
    package let openCLDevice: OpenCLDevice
    let api: sbcl_opencl_api
    let context: UnsafeMutableRawPointer
    let queue: UnsafeMutableRawPointer
    /// A second in-order queue for background uploads (a GPU's copy engine runs it beside the kernels).
    let transferQueue: UnsafeMutableRawPointer
    let program: UnsafeMutableRawPointer
    let kernels: [String: UnsafeMutableRawPointer]
    /// The most bytes this backend keeps allocated at once (the device's memory unless lowered).
    package let memoryLimit: Int
    /// Whether every launch is timed into `profile` (serialises the device; see OpenCLBackend+Profile.swift).
    package let profiling: Bool

    struct State {
        var pool = FreeLists()
        var allocatedBytes = 0
        var transfers = TransferCount()
        var pendingError: DeviceError?
        /// Seconds and calls per kernel when `profiling` (OpenCLBackend+Profile.swift).
        var profile: [String: (seconds: Double, calls: Int)] = [:]
    }
    let state = Mutex(State())

    /// Host↔device transfers made so far.
    package struct TransferCount: Equatable, Sendable {
        /// Host-to-device copies, and their bytes.
        package var uploads = 0, uploadedBytes = 0
        /// Device-to-host copies, and their bytes.
        package var downloads = 0, downloadedBytes = 0
        /// All copies in both directions.
        package var total: Int { uploads + downloads }
    }

    /// The transfers so far.
    package var transfers: TransferCount { state.withLock { $0.transfers } }

    package var name: String { "opencl (\(openCLDevice.name), \(openCLDevice.platform))" }
    package var device: DeviceKind { .opencl }

    /// Opens `device`: a context, a queue and the kernels compiled for it (PoCL compiles them in
    /// a few seconds the first time and caches them). `memoryLimit` lowers the bytes this backend
    /// may hold (tests of the out-of-memory path); by default it is the device's global memory.
    /// `profiling` times every launch into `profile`.
    package init(device: OpenCLDevice, memoryLimit: Int? = nil, profiling: Bool = false) throws(OpenCLError) {
        let api = try OpenCLLibrary.api(library: device.library)
        var status: Int32 = 0
        var ids: [UnsafeMutableRawPointer?] = [device.id]
        guard let context = api.createContext(nil, 1, &ids, nil, nil, &status), status == 0 else {
            throw .call("clCreateContext on \(device.name)", status: status)
        }
        guard let queue = api.createCommandQueue(context, device.id, 0, &status), status == 0,
              let transferQueue = api.createCommandQueue(context, device.id, 0, &status), status == 0 else {
            throw .call("clCreateCommandQueue on \(device.name)", status: status)
        }
        let program = try Self.build(KernelSource.openCLSource, api: api, context: context, device: device)
        var kernels: [String: UnsafeMutableRawPointer] = [:]
        for name in KernelSource.kernelNames {
            guard let kernel = api.createKernel(program, name, &status), status == 0 else {
                throw .call("clCreateKernel(\(name))", status: status)
            }
            kernels[name] = kernel
        }
        self.openCLDevice = device
        self.api = api
        self.context = context
        self.queue = queue
        self.transferQueue = transferQueue
        self.program = program
        self.kernels = kernels
        self.memoryLimit = memoryLimit ?? device.globalMemoryBytes
        self.profiling = profiling
    }

    /// Compiles `source` for `device`; a failure carries the compiler's log.
    private static func build(_ source: String, api: sbcl_opencl_api, context: UnsafeMutableRawPointer,
                              device: OpenCLDevice) throws(OpenCLError) -> UnsafeMutableRawPointer {
        var status: Int32 = 0
        let made: UnsafeMutableRawPointer? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            return api.createProgramWithSource(context, 1, &pointer, nil, &status)
        }
        guard let program = made, status == 0 else { throw .call("clCreateProgramWithSource", status: status) }
        var ids: [UnsafeMutableRawPointer?] = [device.id]
        // No fast-math flags: the kernels must match the CPU to 1e-5 (see OpenCLBackendTests).
        let built = api.buildProgram(program, 1, &ids, "-cl-std=CL1.2", nil, nil)
        if built != 0 {
            var size = 0
            _ = api.getProgramBuildInfo(program, device.id, UInt32(SBCL_CL_PROGRAM_BUILD_LOG), 0, nil, &size)
            var log = [CChar](repeating: 0, count: size + 1)
            _ = api.getProgramBuildInfo(program, device.id, UInt32(SBCL_CL_PROGRAM_BUILD_LOG), size, &log, nil)
            throw .build(device: device.name, log: String(cString: log))
        }
        return program
    }

    // MARK: Memory

    package func allocate(byteCount: Int) -> TensorStorage {
        let size = Self.rounded(byteCount)
        let reused = state.withLock { $0.pool.take(size: size) }
        let handle = reused ?? createBuffer(size: size, requested: byteCount)
        return TensorStorage(memory: .device(DeviceBuffer(handle: handle)), byteCount: byteCount, backend: self)
    }

    /// A new buffer, or nil with the out-of-memory error recorded: over `memoryLimit`, or refused
    /// by the driver (after the pool's buffers were given back and the call retried once).
    private func createBuffer(size: Int, requested: Int) -> UnsafeMutableRawPointer? {
        for attempt in 0..<2 {
            if attempt == 1 { releasePool() }
            let fits = state.withLock { s -> Bool in
                guard s.allocatedBytes + size <= memoryLimit else { return false }
                s.allocatedBytes += size
                return true
            }
            guard fits else { continue }
            var status: Int32 = 0
            if let buffer = api.createBuffer(context, UInt64(SBCL_CL_MEM_READ_WRITE), size, nil, &status), status == 0 {
                return buffer
            }
            state.withLock { $0.allocatedBytes -= size }
        }
        state.withLock { s in
            if s.pendingError == nil {
                s.pendingError = .outOfMemory(device: name, requestedBytes: requested, inUseBytes: s.allocatedBytes,
                                              capacityBytes: memoryLimit, stage: nil)
            }
        }
        return nil
    }

    /// Gives every pooled buffer back to the driver.
    private func releasePool() {
        let buffers = state.withLock { s in
            let all = s.pool.removeAll()
            s.allocatedBytes -= all.reduce(0) { $0 + $1.size }
            return all
        }
        for (buffer, _) in buffers { _ = api.releaseMemObject(buffer) }
    }

    package func release(_ memory: TensorStorage.Memory, byteCount: Int) {
        guard case .device(let buffer) = memory else { preconditionFailure("OpenCLBackend.release: host memory handed to \(name)") }
        guard let handle = buffer.handle else { return }
        let size = Self.rounded(byteCount)
        let kept = state.withLock { s -> Bool in
            guard s.pool.keep(handle, size: size, limit: memoryLimit / 4) else { s.allocatedBytes -= size; return false }
            return true
        }
        if !kept { _ = api.releaseMemObject(handle) }
    }

    /// Bytes rounded up to 256 (buffers of nearby sizes share free lists; never 0 bytes).
    private static func rounded(_ n: Int) -> Int { Swift.max(256, (n + 255) & ~255) }

    deinit {
        releasePool()
        for kernel in kernels.values { _ = api.releaseKernel(kernel) }
        _ = api.releaseProgram(program)
        _ = api.releaseCommandQueue(queue)
        _ = api.releaseCommandQueue(transferQueue)
        _ = api.releaseContext(context)
    }
}
