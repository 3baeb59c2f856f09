import COpenCL
import DeviceKernelSource
import Engine

// Transfers, copies, kernel launches and the sticky error: everything that enqueues work.

extension OpenCLBackend {
    /// An argument of a kernel launch.
    typealias Argument = KernelArgument

    package func copy(from source: TensorStorage, to destination: TensorStorage, byteCount: Int) {
        guard byteCount > 0, !hasPendingError, let s = source.deviceBuffer.handle, let d = destination.deviceBuffer.handle else { return }
        record(api.enqueueCopyBuffer(queue, s, d, 0, 0, byteCount, 0, nil, nil), "clEnqueueCopyBuffer")
    }

    /// A blocking write: the host memory may be reused as soon as this returns.
    package func upload(_ source: UnsafeRawBufferPointer, to destination: TensorStorage) {
        precondition(source.count <= destination.byteCount, "OpenCLBackend.upload: \(source.count) bytes into \(destination.byteCount)")
        guard source.count > 0, let base = source.baseAddress else { return }
        guard !hasPendingError, let d = destination.deviceBuffer.handle else { return }
        state.withLock {
            $0.transfers.uploads += 1
            $0.transfers.uploadedBytes += source.count
        }
        record(api.enqueueWriteBuffer(queue, d, 1, 0, source.count, base, 0, nil, nil), "clEnqueueWriteBuffer")
    }

    /// A blocking read, after the work queued before it. On a pending error the bytes are zeros.
    package func download(_ source: TensorStorage, into destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count <= source.byteCount, "OpenCLBackend.download: \(destination.count) bytes from \(source.byteCount)")
        guard destination.count > 0, let base = destination.baseAddress else { return }
        base.initializeMemory(as: UInt8.self, repeating: 0, count: destination.count)
        guard !hasPendingError, let s = source.deviceBuffer.handle else { return }
        state.withLock {
            $0.transfers.downloads += 1
            $0.transfers.downloadedBytes += destination.count
        }
        record(api.enqueueReadBuffer(queue, s, 1, 0, destination.count, base, 0, nil, nil), "clEnqueueReadBuffer")
    }

    /// A non-blocking write on `transferQueue`; `ready()` puts a barrier on the compute queue that
    /// waits for it, and the upload's end waits for the write and releases `values` and the event.
    package func uploadInBackground(_ values: [Float], to destination: TensorStorage) -> BackgroundUpload {
        precondition(values.count * 4 <= destination.byteCount, "OpenCLBackend.uploadInBackground: \(values.count) floats into \(destination.byteCount) bytes")
        guard !values.isEmpty, !hasPendingError, let d = destination.deviceBuffer.handle else {
            return BackgroundUpload(ready: {}, complete: {})
        }
        state.withLock {
            $0.transfers.uploads += 1
            $0.transfers.uploadedBytes += values.count * 4
        }
        // A staging copy the driver reads from after this returns; freed once the write completed.
        let byteCount = values.count * 4
        let staging = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        values.withUnsafeBytes { staging.copyMemory(from: $0.baseAddress!, byteCount: byteCount) }
        // The buffer may come from the pool, released by a tensor whose kernels are still queued
        // on the compute queue: the write waits for the work queued there so far (a marker), and
        // runs beside the work queued after it — the step that is about to be enqueued.
        var queued: UnsafeMutableRawPointer?
        record(api.enqueueBarrierWithWaitList(queue, 0, nil, &queued), "clEnqueueBarrierWithWaitList")
        _ = api.flush(queue)
        let waitList: [UnsafeMutableRawPointer?] = queued.map { [$0] } ?? []
        var event: UnsafeMutableRawPointer?
        let status = waitList.withUnsafeBufferPointer { wait in
            self.api.enqueueWriteBuffer(transferQueue, d, 0, 0, byteCount, staging, UInt32(wait.count),
                                   wait.isEmpty ? nil : wait.baseAddress, &event)
        }
        if let queued { _ = api.releaseEvent(queued) }
        _ = api.flush(transferQueue)
        guard status == 0, let event else {
            _ = api.finish(transferQueue)
            staging.deallocate()
            record(status, "clEnqueueWriteBuffer (background)")
            return BackgroundUpload(ready: {}, complete: {})
        }
        let api = self.api, queue = self.queue
        return BackgroundUpload(ready: { [weak self] in
            var events: [UnsafeMutableRawPointer?] = [event]
            self?.record(api.enqueueBarrierWithWaitList(queue, 1, &events, nil), "clEnqueueBarrierWithWaitList")
        }, complete: {
            var events: [UnsafeMutableRawPointer?] = [event]
            _ = api.waitForEvents(1, &events)
            _ = api.releaseEvent(event)
            staging.deallocate()
        })
    }

    /// Whether an error waits to be thrown by `synchronize` (work is skipped meanwhile).
    var hasPendingError: Bool { state.withLock { $0.pendingError != nil } }

    package func synchronize() throws {
        let finished = api.finish(queue)
        let error = state.withLock { s -> DeviceError? in
            if s.pendingError == nil && finished != 0 {
                s.pendingError = .failure(device: name, message: "clFinish failed with OpenCL status \(finished)")
            }
            defer { s.pendingError = nil }
            return s.pendingError
        }
        if let error { throw error }
    }

    /// Every primitive op runs here: a device kernel, or for the MoCo loss the documented host
    /// fallback (docs/opencl.md has the table).
    package func supports(_ op: PrimitiveOp) -> Bool {
        switch op {
        case .add, .subtract, .multiply, .divide, .negate, .exp, .log, .sqrt, .relu, .scale, .addScalar, .powScalar,
             .matmul, .linear, .sum, .mean, .maskedFill, .reshape, .transpose2D, .l2Normalize,
             .conv2d, .batchNorm2d, .batchNormReLU2d, .shortcutA, .globalAvgPool, .maxPool2d, .addReLU, .nchwToNHWC,
             .max, .softmax, .logSoftmax, .crossEntropy, .concat, .slice:
            return true
        case .contrastiveLoss:
            // On the device (KernelLaunching+ContrastiveLoss.swift): only the anchors go up.
            return true
        case .mocoLoss:
            // On the device (KernelLaunching+MoCoLoss.swift): one upload of the per-query data.
            return true
        }
    }

    /// Enqueues `kernel` over `global` work items in groups of `local`.
    package func launch(_ kernel: String, global: Int, local: Int, _ arguments: [KernelArgument]) {
        guard global > 0 else { return }
        timed(kernel) { enqueue(kernel, global: global, local: local, arguments) }
    }

    private func enqueue(_ kernel: String, global: Int, local: Int, _ arguments: [Argument]) {
        let handle = kernels[kernel]!
        state.withLock { s in
            guard s.pendingError == nil else { return }
            for (index, argument) in arguments.enumerated() {
                let i = UInt32(index)
                var status: Int32 = 0
                switch argument {
                case .buffer(let storage):
                    guard var buffer = storage.deviceBuffer.handle else { return }
                    status = api.setKernelArg(handle, i, MemoryLayout<UnsafeMutableRawPointer>.size, &buffer)
                case .int(let value):
                    precondition(value <= Int(Int32.max), "\(kernel): \(value) does not fit a 32-bit kernel argument")
                    var v = Int32(value)
                    status = api.setKernelArg(handle, i, 4, &v)
                case .float(let value):
                    var v = value
                    status = api.setKernelArg(handle, i, 4, &v)
                case .bytes(let words):
                    status = words.withUnsafeBytes { api.setKernelArg(handle, i, $0.count, $0.baseAddress) }
                case .local(let count):
                    status = api.setKernelArg(handle, i, count, nil)
                }
                guard status == 0 else { note(&s, status, "clSetKernelArg(\(kernel), \(index))"); return }
            }
            var globalSize = global, localSize = local
            let status = api.enqueueNDRangeKernel(queue, handle, 1, nil, &globalSize, &localSize, 0, nil, nil)
            if status != 0 { note(&s, status, "clEnqueueNDRangeKernel(\(kernel))") }
        }
    }

    /// Records a failed call's status as the pending error (the first one wins).
    func record(_ status: Int32, _ call: @autoclosure () -> String) {
        guard status != 0 else { return }
        state.withLock { note(&$0, status, call()) }
    }

    /// Sets the pending error for `status`: allocation failures (which drivers that allocate
    /// lazily report at first use) become out-of-memory errors.
    func note(_ s: inout State, _ status: Int32, _ call: String) {
        guard s.pendingError == nil else { return }
        // CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_RESOURCES, CL_OUT_OF_HOST_MEMORY.
        if status == -4 || status == -5 || status == -6 {
            s.pendingError = .outOfMemory(device: name, requestedBytes: nil, inUseBytes: s.allocatedBytes,
                                          capacityBytes: memoryLimit, stage: nil)
        } else {
            s.pendingError = .failure(device: name, message: "\(call) failed with OpenCL status \(status)")
        }
    }
}
