import CCUDA
import DeviceKernelSource
import Engine
import Foundation
import Synchronization

/// A backend on one CUDA GPU: tensors in device memory, the engine's element-wise ops, reductions
/// and layers as the kernels of `KernelSource` compiled by NVRTC for this GPU, matrix products
/// and convolution GEMMs through cuBLAS.
///
/// Work goes into one stream (in order); a call returns once its work is queued. Reading values
/// back (`download`, `Tensor.scalars`, `item`) waits for the stream, and so does `synchronize`,
/// which also throws the first error the device reported (out of memory, a failed launch) — errors
/// are sticky: after one, further work is skipped until it is taken.
///
/// Freed memory is kept in size-keyed free lists (as `CPUBackend` and `OpenCLBackend`) so a
/// training loop reaches a steady state without driver allocations. Every transfer between host
/// and device is counted in `transfers`.
package final class CUDABackend: Backend, DeviceKernels, @unchecked Sendable {
    // @unchecked Sendable: the driver handles below are immutable after init, and every mutable
    // field (pool, counters, pending error, pinned staging buffers) is behind `state`'s lock.

    /// The arithmetic of matrix products and convolutions.
    package enum Precision: String, Sendable, CaseIterable {
        /// IEEE float32 everywhere (cuBLAS's default math: no TF32). The parity tests run here.
        case float32
        /// TF32 tensor-core math in convolutions only, float32 in other matrix products:
        /// PyTorch's defaults (`cudnn.allow_tf32` on, `cuda.matmul.allow_tf32` off).
        case tf32Convolutions = "tf32-convolutions"
        /// TF32 tensor-core math in every matrix product and convolution.
        case tf32
    }

    /// How convolutions run.
    package enum ConvolutionPath: String, Sendable, CaseIterable {
        /// cuDNN's measured algorithms where cuDNN is loaded, im2col + cuBLAS elsewhere.
        case cudnn
        /// im2col + cuBLAS always (a comparison, or a cuDNN that misbehaves).
        case im2col
    }

    /// The GPU this backend drives.
    package let cudaDevice: CUDADevice
    /// The arithmetic of its matrix products.
    package let precision: Precision
    let libraries: CUDALibraries
    var api: sbcl_cuda_driver_api { libraries.driver }
    let context: UnsafeMutableRawPointer
    /// The stream every kernel, GEMM and synchronous transfer runs on.
    let stream: UnsafeMutableRawPointer
    /// A second stream for background uploads (the copy engine runs it beside the kernels).
    let transferStream: UnsafeMutableRawPointer
    let module: UnsafeMutableRawPointer
    let functions: [String: UnsafeMutableRawPointer]
    let cublas: UnsafeMutableRawPointer
    /// cuDNN's convolutions, when cuDNN is loaded with its convolution API and not turned off.
    let convolutions: CuDNNConvolutions?
    /// The most bytes this backend keeps allocated at once (the device's free memory unless lowered).
    package let memoryLimit: Int
    /// The versions in `name`: cuBLAS (e.g. 130100), NVRTC, cuDNN when loaded.
    package let cublasVersion: Int, nvrtcVersion: (major: Int, minor: Int), cudnnVersion: Int?

    struct State {
        var pool = FreeLists()
        var allocatedBytes = 0
        var transfers = TransferCount()
        /// Seconds the host spent blocked waiting for the stream (downloads and `synchronize`).
        var waitSeconds = 0.0
        var pendingError: DeviceError?
        /// Pinned host buffers for background uploads, by size, free for reuse.
        var pinned: [Int: [UnsafeMutableRawPointer]] = [:]
        /// Seconds and calls per kernel when `profiling` (CUDABackend+Profile.swift).
        var profile: [String: (seconds: Double, calls: Int, items: Int)] = [:]
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

    /// Seconds the host has spent blocked on the device so far (in downloads and `synchronize`):
    /// a step that spends nearly none of its time here is bound by the host issuing its work,
    /// one that spends most of it here by the device.
    package var hostWaitSeconds: Double { state.withLock { $0.waitSeconds } }

    package var name: String {
        let cudnn = cudnnVersion.map { ", cuDNN \($0 / 10000).\($0 / 100 % 100)" } ?? ""
        return "cuda (\(cudaDevice.name), cc \(cudaDevice.computeCapability.major).\(cudaDevice.computeCapability.minor), "
            + "driver \(CUDADevice.version(cudaDevice.driverVersion)), cuBLAS \(cublasVersion / 10000).\(cublasVersion / 100 % 100), "
            + "NVRTC \(nvrtcVersion.major).\(nvrtcVersion.minor)\(cudnn), \(precision.rawValue))"
    }
    package var device: DeviceKind { .cuda }

    /// Opens `device`: its primary context (shared with cuBLAS), two streams, the kernels compiled
    /// by NVRTC for its architecture, a cuBLAS handle on the stream. `memoryLimit` lowers the bytes
    /// this backend may hold (tests of the out-of-memory path).
    package init(device: CUDADevice, configuration: CUDALibraryConfiguration, precision: Precision = .float32,
                convolutionPath: ConvolutionPath = .cudnn, memoryLimit: Int? = nil) throws(CUDAError) {
        let libraries = try CUDALibraries.all(configuration)
        let api = libraries.driver
        var context: UnsafeMutableRawPointer?
        try check(api, api.devicePrimaryCtxRetain(&context, device.handle), "cuDevicePrimaryCtxRetain(\(device.ordinal))")
        guard let context else { throw .noDevice("no context on \(device.name)") }
        try check(api, api.ctxSetCurrent(context), "cuCtxSetCurrent")
        var stream: UnsafeMutableRawPointer?, transferStream: UnsafeMutableRawPointer?
        try check(api, api.streamCreate(&stream, 0), "cuStreamCreate")
        try check(api, api.streamCreate(&transferStream, 0), "cuStreamCreate")
        let compiler = NVRTCCompiler(api: libraries.nvrtc)
        let module = try Self.loadKernels(api: api, compiler: compiler, device: device)
        var functions: [String: UnsafeMutableRawPointer] = [:]
        for kernel in KernelSource.kernelNames {
            var function: UnsafeMutableRawPointer?
            try check(api, api.moduleGetFunction(&function, module, kernel), "cuModuleGetFunction(\(kernel))")
            functions[kernel] = function
        }
        var handle: UnsafeMutableRawPointer?
        let created = libraries.cublas.create(&handle)
        guard created == 0, let handle else { throw .cublas("cublasCreate", status: created) }
        let bound = libraries.cublas.setStream(handle, stream)
        guard bound == 0 else { throw .cublas("cublasSetStream", status: bound) }
        var version: Int32 = 0
        _ = libraries.cublas.getVersion(handle, &version)
        var free = 0, total = 0
        _ = api.memGetInfo(&free, &total)
        self.cudaDevice = device
        self.precision = precision
        self.libraries = libraries
        self.context = context
        self.stream = stream!
        self.transferStream = transferStream!
        self.module = module
        self.functions = functions
        self.cublas = handle
        let limit = memoryLimit ?? Swift.max(free, 1 << 20)
        self.memoryLimit = limit
        // Workspace: up to 1 GiB, and no more than an eighth of what the backend may hold.
        self.convolutions = convolutionPath == .im2col ? nil : libraries.cudnn.flatMap {
            CuDNNConvolutions(api: $0, stream: stream!, tf32: precision != .float32, workspaceLimit: Swift.min(1 << 30, limit / 8))
        }
        self.cublasVersion = Int(version)
        self.nvrtcVersion = compiler.version
        self.cudnnVersion = libraries.cudnn.map { Int($0.getVersion()) }
    }

    /// The kernels for `device`: a CUBIN for its exact architecture (`sm_XY`, no PTX JIT, and no
    /// PTX newer than the driver), else PTX for `compute_XY` that the driver compiles.
    private static func loadKernels(api: sbcl_cuda_driver_api, compiler: NVRTCCompiler,
                                    device: CUDADevice) throws(CUDAError) -> UnsafeMutableRawPointer {
        let (major, minor) = device.computeCapability
        var failures: [String] = []
        for architecture in ["sm_\(major)\(minor)", "compute_\(major)\(minor)"] {
            let output: NVRTCCompiler.Output
            do {
                output = try compiler.compile(architecture: architecture)
            } catch {
                // An NVRTC that does not know the GPU's machine code may still emit PTX for it.
                if architecture.hasPrefix("sm_"), case .compile(_, let log) = error, log.contains("invalid value for --gpu-architecture") {
                    failures.append("\(architecture): not supported by NVRTC")
                    continue
                }
                throw error
            }
            var module: UnsafeMutableRawPointer?
            let result: Int32 = switch output {
            case .cubin(let bytes): bytes.withUnsafeBytes { api.moduleLoadData(&module, $0.baseAddress) }
            case .ptx(let text): text.withCString { api.moduleLoadData(&module, $0) }
            }
            if result == 0, let module { return module }
            failures.append("\(architecture): \(errorText(api, result)) (\(result))")
        }
        throw .call("cuModuleLoadData", result: -1, text: failures.joined(separator: "; "))
    }

    /// Makes this backend's context current on the calling thread (cheap; every entry point calls it).
    @inline(__always) func bind() { _ = api.ctxSetCurrent(context) }

    // MARK: Memory

    package func allocate(byteCount: Int) -> TensorStorage {
        let size = Self.rounded(byteCount)
        let reused = state.withLock { $0.pool.take(size: size) }
        let handle = reused ?? allocateDevice(size: size, requested: byteCount)
        return TensorStorage(memory: .device(DeviceBuffer(handle: handle)), byteCount: byteCount, backend: self)
    }

    /// New device memory, or nil with the out-of-memory error recorded: over `memoryLimit`, or
    /// refused by the driver (after the pool's memory was given back and the call retried once).
    private func allocateDevice(size: Int, requested: Int) -> UnsafeMutableRawPointer? {
        bind()
        for attempt in 0..<2 {
            if attempt == 1 { releasePool() }
            let fits = state.withLock { s -> Bool in
                guard s.allocatedBytes + size <= memoryLimit else { return false }
                s.allocatedBytes += size
                return true
            }
            guard fits else { continue }
            var pointer: UInt64 = 0
            if api.memAlloc(&pointer, size) == 0, let handle = UnsafeMutableRawPointer(bitPattern: UInt(pointer)) {
                return handle
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

    /// Gives every pooled block back to the driver (after the stream's work, which may still use them).
    private func releasePool() {
        let blocks = state.withLock { s in
            let all = s.pool.removeAll()
            s.allocatedBytes -= all.reduce(0) { $0 + $1.size }
            return all
        }
        guard !blocks.isEmpty else { return }
        _ = api.streamSynchronize(stream)
        for (block, _) in blocks { _ = api.memFree(Self.address(block)) }
    }

    package func release(_ memory: TensorStorage.Memory, byteCount: Int) {
        guard case .device(let buffer) = memory else { preconditionFailure("CUDABackend.release: host memory handed to \(name)") }
        guard let handle = buffer.handle else { return }
        let size = Self.rounded(byteCount)
        let kept = state.withLock { s -> Bool in
            guard s.pool.keep(handle, size: size, limit: memoryLimit / 4) else { s.allocatedBytes -= size; return false }
            return true
        }
        if !kept {
            // cuMemFree waits for the device to finish with the memory (it synchronizes implicitly).
            bind()
            _ = api.memFree(Self.address(handle))
        }
    }

    /// A device pointer as the driver's integer.
    @inline(__always) static func address(_ handle: UnsafeMutableRawPointer) -> UInt64 { UInt64(UInt(bitPattern: handle)) }

    /// Bytes rounded up to 256 (blocks of nearby sizes share free lists; never 0 bytes).
    private static func rounded(_ n: Int) -> Int { Swift.max(256, (n + 255) & ~255) }

    deinit {
        bind()
        _ = api.streamSynchronize(stream)
        _ = api.streamSynchronize(transferStream)
        releasePool()
        let pinned = state.withLock { s in defer { s.pinned = [:] }; return s.pinned.values.flatMap { $0 } }
        for block in pinned { _ = api.memFreeHost(block) }
        convolutions?.close()
        _ = libraries.cublas.destroy(cublas)
        _ = api.moduleUnload(module)
        _ = api.streamDestroy(stream)
        _ = api.streamDestroy(transferStream)
        _ = api.devicePrimaryCtxRelease(cudaDevice.handle)
    }
}
