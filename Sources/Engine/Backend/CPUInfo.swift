import Foundation

/// What this machine's CPU is, read once from Linux's `/proc/cpuinfo` and `/sys`:
/// recorded with cache entries (results differ by rounding between CPUs and kernel sets) and
/// printed by `sbcl-bench` next to its GFLOP/s. Every field has a fallback, so a system without
/// these files (macOS, a locked-down container) gets `unknown`, no flags and no clock, not a crash.
public enum CPUInfo {
    /// The first processor's `model name` (e.g. `AMD EPYC 7B13`), or `unknown`.
    public static let model: String = {
        let name = field("model name")?.trimmingCharacters(in: .whitespaces) ?? ""
        return name.isEmpty ? "unknown" : name
    }()

    /// The first processor's feature flags (`avx2`, `fma`, `avx512f`, …); empty when unreadable.
    public static let flags: Set<String> = Set((field("flags") ?? "").split(separator: " ").map(String.init))

    /// The nominal clock in MHz: the kernel's maximum frequency (`cpufreq/cpuinfo_max_freq`, in
    /// kHz) where the kernel exposes it, else the first processor's `cpu MHz` (the clock when read,
    /// which virtual machines usually report as the nominal one); nil when neither is readable.
    public static let megahertz: Double? = {
        let maximum = "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"
        if let text = try? String(contentsOfFile: maximum, encoding: .utf8),
           let kilohertz = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), kilohertz > 0 {
            return kilohertz / 1000
        }
        guard let text = field("cpu MHz"), let mhz = Double(text.trimmingCharacters(in: .whitespaces)), mhz > 0 else { return nil }
        return mhz
    }()

    /// The machine's peak single-precision GFLOP/s on `cores` cores: cores × GHz × `fmaUnits` ×
    /// `floatLanes` × 2 (a fused multiply-add is two flops). Assumes two FMA pipes per core (the
    /// default `fmaUnits`), true of the x86-64 server cores since Haswell and Zen 2 for AVX2 (some
    /// Xeons have one 512-bit pipe: pass 1 there). nil when the clock is unknown.
    public static func peakGFLOPS(cores: Int, floatLanes: Int, fmaUnits: Int = 2) -> Double? {
        guard let megahertz else { return nil }
        return peakGFLOPS(cores: cores, gigahertz: megahertz / 1000, floatLanes: floatLanes, fmaUnits: fmaUnits)
    }

    /// The same arithmetic for a given clock (what `peakGFLOPS(cores:floatLanes:fmaUnits:)` uses).
    public static func peakGFLOPS(cores: Int, gigahertz: Double, floatLanes: Int, fmaUnits: Int = 2) -> Double {
        Double(cores) * gigahertz * Double(fmaUnits) * Double(floatLanes) * 2
    }

    /// Floats per vector of a convolution kernel set, by its `ConvKernelSet` raw value: `portable`
    /// 4 (SSE), `avx2` (and the older name `wide`) 8, `avx512` 16; 4 for a name not known here.
    public static func floatLanes(forKernelSet name: String) -> Int {
        switch name {
        case "avx512": return 16
        case "avx2", "wide": return 8
        default: return 4
        }
    }

    /// The value of `key` in the first processor's block of `/proc/cpuinfo`.
    static func field(_ key: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { return nil }  // the end of the first processor's block
            let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == key else { continue }
            return String(parts[1])
        }
        return nil
    }
}
