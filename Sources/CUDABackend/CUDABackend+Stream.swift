import CCUDA
import Dispatch
import DeviceKernelSource
import Engine

// Transfers, copies, kernel launches and the sticky error: everything that queues work.

extension CUDABackend {
    typealias Argument = KernelArgument

    package func copy(from source: TensorStorage, to destination: TensorStorage, byteCount: Int) {
        guard byteCount > 0, !hasPendingError, let s = source.deviceBuffer.handle, let d = destination.deviceBuffer.handle else { return }
        bind()
        record(api.memcpyDtoDAsync(Self.address(d), Self.address(s), byteCount, stream), "cuMemcpyDtoDAsync")
    }

    /// An upload on the stream: the driver copies pageable memory to its own staging area before
    /// it returns, so the host memory may be reused at once; the copy runs after the queued work.
    package func upload(_ source: UnsafeRawBufferPointer, to destination: TensorStorage) {
        precondition(source.count <= destination.byteCount, "CUDABackend.upload: \(source.count) bytes into \(destination.byteCount)")
        guard source.count > 0, let base = source.baseAddress else { return }
        guard !hasPendingError, let d = destination.deviceBuffer.handle else { return }
        state.withLock {
            $0.transfers.uploads += 1
            $0.transfers.uploadedBytes += source.count
        }
        bind()
        record(api.memcpyHtoDAsync(Self.address(d), base, source.count, stream), "cuMemcpyHtoDAsync")
    }

    /// A read after the work queued before it; returns when the bytes are there. On a pending
    /// error the bytes are zeros.
    package func download(_ source: TensorStorage, into destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count <= source.byteCount, "CUDABackend.download: \(destination.count) bytes from \(source.byteCount)")
        guard destination.count > 0, let base = destination.baseAddress else { return }
        base.initializeMemory(as: UInt8.self, repeating: 0, count: destination.count)
        guard !hasPendingError, let s = source.deviceBuffer.handle else { return }
        state.withLock {
            $0.transfers.downloads += 1
            $0.transfers.downloadedBytes += destination.count
        }
        bind()
        record(api.memcpyDtoHAsync(base, Self.address(s), destination.count, stream), "cuMemcpyDtoHAsync")
        waited { record(api.streamSynchronize(stream), "cuStreamSynchronize") }
    }

    /// Runs `body` (a wait for the stream) and adds its wall time to `hostWaitSeconds`.
    func waited<T>(_ body: () -> T) -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            state.withLock { $0.waitSeconds += seconds }
        }
        return body()
    }

    /// A pinned host buffer of `size` bytes, reused from earlier uploads when one is free.
    private func pinnedBuffer(size: Int) -> UnsafeMutableRawPointer? {
        if let block = state.withLock({ s -> UnsafeMutableRawPointer? in s.pinned[size]?.popLast() }) { return block }
        var block: UnsafeMutableRawPointer?
        guard api.memHostAlloc(&block, size, SBCL_CU_MEMHOSTALLOC_PORTABLE) == 0 else { return nil }
        return block
    }

    /// A non-blocking upload on `transferStream` from a pinned staging copy: the copy waits for
    /// the work queued on the compute stream so far (the destination may be a pooled block still
    /// in use), and `ready()` makes the compute stream wait for the copy.
    package func uploadInBackground(_ values: [Float], to destination: TensorStorage) -> BackgroundUpload {
        precondition(values.count * 4 <= destination.byteCount, "CUDABackend.uploadInBackground: \(values.count) floats into \(destination.byteCount) bytes")
        guard !values.isEmpty, !hasPendingError, let d = destination.deviceBuffer.handle else {
            return BackgroundUpload(ready: {}, complete: {})
        }
        bind()
        let byteCount = values.count * 4
        guard let staging = pinnedBuffer(size: byteCount) else {
            // No pinned memory: the plain (staged by the driver) upload.
            values.withUnsafeBytes { upload($0, to: destination) }
            return BackgroundUpload(ready: {}, complete: {})
        }
        state.withLock {
            $0.transfers.uploads += 1
            $0.transfers.uploadedBytes += byteCount
        }
        values.withUnsafeBytes { staging.copyMemory(from: $0.baseAddress!, byteCount: byteCount) }
        var queued: UnsafeMutableRawPointer?, copied: UnsafeMutableRawPointer?
        record(api.eventCreate(&queued, SBCL_CU_EVENT_DISABLE_TIMING), "cuEventCreate")
        record(api.eventCreate(&copied, SBCL_CU_EVENT_DISABLE_TIMING), "cuEventCreate")
        guard let queued, let copied else {
            state.withLock { $0.pinned[byteCount, default: []].append(staging) }
            return BackgroundUpload(ready: {}, complete: {})
        }
        record(api.eventRecord(queued, stream), "cuEventRecord")
        record(api.streamWaitEvent(transferStream, queued, 0), "cuStreamWaitEvent")
        record(api.memcpyHtoDAsync(Self.address(d), staging, byteCount, transferStream), "cuMemcpyHtoDAsync (background)")
        record(api.eventRecord(copied, transferStream), "cuEventRecord")
        let api = self.api, stream = self.stream, context = self.context
        return BackgroundUpload(ready: { [weak self] in
            _ = api.ctxSetCurrent(context)
            self?.record(api.streamWaitEvent(stream, copied, 0), "cuStreamWaitEvent")
        }, complete: { [weak self] in
            _ = api.ctxSetCurrent(context)
            _ = api.eventSynchronize(copied)
            _ = api.eventDestroy(queued)
            _ = api.eventDestroy(copied)
            if let self {
                self.state.withLock { $0.pinned[byteCount, default: []].append(staging) }
            } else {
                _ = api.memFreeHost(staging)
            }
        })
    }

    /// Whether an error waits to be thrown by `synchronize` (work is skipped meanwhile).
    var hasPendingError: Bool { state.withLock { $0.pendingError != nil } }

    package func synchronize() throws {
        bind()
        let finished = waited { api.streamSynchronize(stream) }
        let error = state.withLock { s -> DeviceError? in
            if finished != 0 { note(&s, finished, "cuStreamSynchronize") }
            defer { s.pendingError = nil }
            return s.pendingError
        }
        if let error { throw error }
    }

    /// Every primitive op runs here: a device kernel (the losses' row passes in
    /// KernelLaunching+ContrastiveLoss.swift and KernelLaunching+MoCoLoss.swift).
    package func supports(_ op: PrimitiveOp) -> Bool {
        switch op {
        case .add, .subtract, .multiply, .divide, .negate, .exp, .log, .sqrt, .relu, .scale, .addScalar, .powScalar,
             .matmul, .linear, .sum, .mean, .maskedFill, .reshape, .transpose2D, .l2Normalize,
             .conv2d, .batchNorm2d, .batchNormReLU2d, .shortcutA, .globalAvgPool, .maxPool2d, .addReLU, .nchwToNHWC,
             .max, .softmax, .logSoftmax, .crossEntropy, .concat, .slice:
            return true
        case .contrastiveLoss, .mocoLoss:
            return true
        }
    }

    /// Launches `kernel` over `global` threads in blocks of `local` (OpenCL's global and local
    /// work sizes: `global` is a multiple of `local`), with the `.local` arguments' bytes as
    /// dynamic shared memory.
    package func launch(_ kernel: String, global: Int, local: Int, _ arguments: [KernelArgument]) {
        guard global > 0 else { return }
        timed(kernel, items: global) { enqueue(kernel, blocks: (global + local - 1) / local, threads: local, arguments) }
    }

    private func enqueue(_ kernel: String, blocks: Int, threads: Int, _ arguments: [Argument]) {
        guard let function = functions[kernel] else { preconditionFailure("CUDABackend: no kernel \(kernel)") }
        guard !hasPendingError else { return }
        // Each argument's bytes in a 16-byte slot; cuLaunchKernel copies them before it returns.
        var sizes: [Int] = []
        var shared = 0
        for argument in arguments {
            switch argument {
            case .buffer, .local: sizes.append(8)
            case .int, .float: sizes.append(4)
            case .bytes(let words): sizes.append(words.count * 4)
            }
            if case .local(let count) = argument { shared += count }
        }
        let offsets = sizes.reduce(into: [0]) { $0.append($0.last! + ($1 + 15) / 16 * 16) }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(16, offsets.last!), alignment: 16)
        defer { storage.deallocate() }
        for (index, argument) in arguments.enumerated() {
            let slot = storage + offsets[index]
            switch argument {
            case .buffer(let tensor):
                guard let handle = tensor.deviceBuffer.handle else { return }
                slot.storeBytes(of: Self.address(handle), as: UInt64.self)
            case .local:
                slot.storeBytes(of: UInt64(0), as: UInt64.self)
            case .int(let value):
                precondition(value <= Int(Int32.max), "\(kernel): \(value) does not fit a 32-bit kernel argument")
                slot.storeBytes(of: Int32(value), as: Int32.self)
            case .float(let value):
                slot.storeBytes(of: value, as: Float.self)
            case .bytes(let words):
                words.withUnsafeBytes { slot.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
        }
        var pointers: [UnsafeMutableRawPointer?] = offsets.dropLast().map { storage + $0 }
        bind()
        let result = pointers.withUnsafeMutableBufferPointer { list in
            api.launchKernel(function, UInt32(blocks), 1, 1, UInt32(threads), 1, 1, UInt32(shared), stream,
                             list.baseAddress, nil)
        }
        record(result, "cuLaunchKernel(\(kernel), \(blocks)×\(threads))")
    }

    /// Records a failed call's result as the pending error (the first one wins).
    func record(_ result: Int32, _ call: @autoclosure () -> String) {
        guard result != 0 else { return }
        state.withLock { note(&$0, result, call()) }
    }

    /// Sets the pending error for `result`: CUDA_ERROR_OUT_OF_MEMORY becomes an out-of-memory error.
    func note(_ s: inout State, _ result: Int32, _ call: String) {
        guard s.pendingError == nil else { return }
        if Int(result) == SBCL_CUDA_ERROR_OUT_OF_MEMORY {
            s.pendingError = .outOfMemory(device: name, requestedBytes: nil, inUseBytes: s.allocatedBytes,
                                          capacityBytes: memoryLimit, stage: nil)
        } else {
            s.pendingError = .failure(device: name, message: "\(call) failed with CUDA error \(result) (\(errorText(api, result)))")
        }
    }
}
