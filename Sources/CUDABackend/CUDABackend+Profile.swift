import Foundation

// Per-kernel time, for choosing kernels: when `profiling` every launch and cuBLAS call waits for
// the stream and adds its wall time to its kernel's total. This serialises the device, so it is a
// tool, never on in a measured run.

extension CUDABackend {
    /// Whether launches are timed (set once, before the first launch; the executables set it from
    /// `SBCL_CUDA_PROFILE=1`).
    nonisolated(unsafe) package static var profiling = false

    /// Seconds, calls and work items (threads launched; 0 for library calls) per kernel (`sgemm`
    /// for cuBLAS, `cudnn_…` for cuDNN) since the backend opened, most time first.
    package var profile: [(kernel: String, seconds: Double, calls: Int, items: Int)] {
        state.withLock { s in s.profile.map { ($0.key, $0.value.seconds, $0.value.calls, $0.value.items) } }
            .sorted { $0.seconds > $1.seconds }
    }

    /// Runs `body` (a launch), then, when profiling, waits for the stream and books the time to `kernel`.
    @inline(__always)
    func timed(_ kernel: String, items: Int = 0, _ body: () -> Void) {
        guard Self.profiling else { return body() }
        _ = api.streamSynchronize(stream)
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        _ = api.streamSynchronize(stream)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        state.withLock { s in
            s.profile[kernel, default: (0, 0, 0)].seconds += seconds
            s.profile[kernel, default: (0, 0, 0)].calls += 1
            s.profile[kernel, default: (0, 0, 0)].items += items
        }
    }
}
