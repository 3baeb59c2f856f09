import Engine
import Foundation

/// Where a benchmark ran: the convolution kernel set in use and the CPU model, printed
/// by every benchmark (JSON fields `kernel_set` and `cpu`, and the first line of the readable
/// output), and the machine's peak for the benchmarks that report GFLOP/s.
enum BenchMachine {
    /// The name of the CPU backend's kernel set (`portable`, `avx2`, …).
    static var kernelSet: String { CPUBackend.shared.convKernels.set.rawValue }

    /// The CPU model from `/proc/cpuinfo`.
    static var cpu: String { CPUInfo.model }

    /// The `kernel_set` and `cpu` fields.
    static var fields: [(String, Any)] { [("kernel_set", kernelSet), ("cpu", cpu)] }

    /// For the first line of readable output: `kernels avx2, CPU AMD EPYC 7B13`.
    static var summary: String { "kernels \(kernelSet), CPU \(cpu)" }

    /// One core's measured multiply-add peak with the kernel set in use (`measuredCorePeakGFLOPS`),
    /// measured once per process.
    static let corePeak: Double = CPUBackend.shared.convKernels.set.measuredCorePeakGFLOPS()

    /// Peak GFLOP/s of `threads` threads with the kernel set in use: cores × one core's measured
    /// multiply-add peak. Measured rather than cores × GHz × 2 FMA pipes × lanes × 2, because a
    /// VM's /proc/cpuinfo gives the nominal clock (2.6 GHz on the Zen 5 of docs/performance.md,
    /// whose cores ran the loop at the equivalent of ~3.7 GHz). Threads beyond the logical
    /// processors add no compute, so at most that many count; SMT siblings sharing a core's pipes
    /// would still overstate it. nil when the loop could not run.
    static func peakGFLOPS(threads: Int) -> Double? {
        corePeak > 0 ? Double(cores(threads: threads)) * corePeak : nil
    }

    /// The cores the peak counts for `threads` threads.
    static func cores(threads: Int) -> Int { min(threads, ProcessInfo.processInfo.activeProcessorCount) }

    /// The clock at which two FMA pipes of the set's width would give the measured core peak.
    static var equivalentGHz: Double { corePeak / (2 * Double(CPUInfo.floatLanes(forKernelSet: kernelSet)) * 2) }

    /// The peak's arithmetic for readable output:
    /// `2 cores × 237.10 GFLOP/s (measured avx512 multiply-add loop; ≈ 3.70 GHz × 2 FMA × 16 lanes × 2) = 474.20 GFLOP/s`.
    static func peakDescription(threads: Int) -> String? {
        guard let peak = peakGFLOPS(threads: threads) else { return nil }
        return String(format: "%d cores × %.2f GFLOP/s (measured %@ multiply-add loop; ≈ %.2f GHz × 2 FMA × %d lanes × 2) = %.2f GFLOP/s",
                      cores(threads: threads), corePeak, kernelSet, equivalentGHz,
                      CPUInfo.floatLanes(forKernelSet: kernelSet), peak)
    }

    /// `peak_gflops` and `fraction_of_peak` for a measured GFLOP/s on `threads` threads; empty
    /// when the peak is unknown.
    static func peakFields(gflops: Double, threads: Int) -> [(String, Any)] {
        guard let peak = peakGFLOPS(threads: threads), peak > 0 else { return [] }
        return [("peak_gflops", peak), ("fraction_of_peak", gflops / peak)]
    }
}
