import Engine
import Foundation

/// Where a benchmark ran (issue 11): the convolution kernel set in use and the CPU model, printed
/// by every benchmark (JSON fields `kernel_set` and `cpu`, and the first line of the readable
/// output), and the machine's peak for the benchmarks that report GFLOP/s.
enum BenchMachine {
    /// `Conv2D.kernelSet`'s name (`portable`, `avx2`, …).
    static var kernelSet: String { Conv2D.kernelSet.rawValue }

    /// The CPU model from `/proc/cpuinfo`.
    static var cpu: String { CPUInfo.model }

    /// The `kernel_set` and `cpu` fields.
    static var fields: [(String, Any)] { [("kernel_set", kernelSet), ("cpu", cpu)] }

    /// For the first line of readable output: `kernels avx2, CPU AMD EPYC 7B13`.
    static var summary: String { "kernels \(kernelSet), CPU \(cpu)" }

    /// Peak GFLOP/s of `threads` threads with the kernel set's vector width (`CPUInfo.peakGFLOPS`:
    /// cores × GHz × 2 FMA pipes × lanes × 2). Threads beyond the logical processors add no compute,
    /// so at most that many count; with SMT siblings sharing FMA pipes the peak is still overstated.
    /// nil when the clock is unknown.
    static func peakGFLOPS(threads: Int) -> Double? {
        CPUInfo.peakGFLOPS(cores: cores(threads: threads), floatLanes: CPUInfo.floatLanes(forKernelSet: kernelSet))
    }

    /// The cores the peak counts for `threads` threads.
    static func cores(threads: Int) -> Int { min(threads, ProcessInfo.processInfo.activeProcessorCount) }

    /// The peak's arithmetic for readable output: `2 cores × 2.60 GHz × 2 FMA × 8 lanes × 2 = 166.15 GFLOP/s`.
    static func peakDescription(threads: Int) -> String? {
        guard let mhz = CPUInfo.megahertz, let peak = peakGFLOPS(threads: threads) else { return nil }
        return String(format: "%d cores × %.2f GHz × 2 FMA × %d lanes × 2 = %.2f GFLOP/s", cores(threads: threads), mhz / 1000,
                      CPUInfo.floatLanes(forKernelSet: kernelSet), peak)
    }

    /// `peak_gflops` and `fraction_of_peak` for a measured GFLOP/s on `threads` threads; empty
    /// when the peak is unknown.
    static func peakFields(gflops: Double, threads: Int) -> [(String, Any)] {
        guard let peak = peakGFLOPS(threads: threads), peak > 0 else { return [] }
        return [("peak_gflops", peak), ("fraction_of_peak", gflops / peak)]
    }

    /// `text` as a JSON string literal, quotes included.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
