import Engine
import PipelineDSL

extension Stages {
    /// What a real run computes its entries with, for `ExecutorOptions.environment` (and so the
    /// manifest of every entry it computes): the convolution kernel set and how the 3×3 stride-1
    /// convolutions are computed (the CPU backend's `convKernels`: `auto` = Winograd where it applies),
    /// the CPU model and the worker thread count. Provenance only: results computed on
    /// another CPU or with other kernels differ by rounding, so none of this enters a hash.
    public static func runEnvironment(threads: Int, ranks: Int = 1) -> [String: String] {
        ["kernel_set": CPUBackend.shared.convKernels.set.rawValue, "conv_algorithm": CPUBackend.shared.convKernels.algorithm.rawValue, "cpu": CPUInfo.model,
         "threads": String(threads)].merging(ranks > 1 ? ["ranks": String(ranks)] : [:]) { old, _ in old }
    }
}
