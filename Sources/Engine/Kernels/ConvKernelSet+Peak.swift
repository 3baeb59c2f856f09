import CKernels
import Dispatch

extension ConvKernelSet {
    /// One core's multiply-add throughput with this set's instructions, in GFLOP/s, measured by
    /// timing a register-only loop (`sbcl_fma_loop_*`, about 0.1 s in all): the best of three runs
    /// after a warm-up, so it reflects the clock the core actually runs at (virtual machines report
    /// only a nominal MHz). The portable set's loop is SSE multiplies and adds. 0 where the set is
    /// not supported or has no loop on this architecture.
    public func measuredCorePeakGFLOPS() -> Double {
        guard isSupported else { return 0 }
        let loop: (Int) -> Double
        switch self {
        case .avx512: loop = { sbcl_fma_loop_avx512($0) }
        case .avx2: loop = { sbcl_fma_loop_avx2($0) }
        case .portable: loop = { sbcl_fma_loop_sse($0) }
        }
        _ = loop(2_000_000)
        var best = 0.0
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            let flops = loop(10_000_000)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if seconds > 0 { best = max(best, flops / seconds / 1e9) }
        }
        return best
    }
}
