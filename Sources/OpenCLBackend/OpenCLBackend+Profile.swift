import Foundation

// Per-kernel time, for choosing kernels ("measure and pick"): with `profiling` (the executables
// set it from SBCL_OPENCL_PROFILE=1) every
// launch and CLBlast call waits for the queue and adds its wall time to its kernel's total. This
// serialises the device (no overlap), so it is a tool, never on in a measured run.

extension OpenCLBackend {
    /// Seconds and calls per kernel (`sgemm` for CLBlast) since the backend opened, most time first.
    package var profile: [(kernel: String, seconds: Double, calls: Int)] {
        state.withLock { s in s.profile.map { ($0.key, $0.value.seconds, $0.value.calls) } }.sorted { $0.seconds > $1.seconds }
    }

    /// Runs `body` (an enqueue), then, when profiling, waits for the queue and books the time to `kernel`.
    @inline(__always)
    func timed(_ kernel: String, _ body: () -> Void) {
        guard profiling else { return body() }
        _ = api.finish(queue)
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        _ = api.finish(queue)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        state.withLock { s in
            s.profile[kernel, default: (0, 0)].seconds += seconds
            s.profile[kernel, default: (0, 0)].calls += 1
        }
    }
}
