/// Synchronised batch normalisation (PyTorch's `SyncBatchNorm`): while a forward pass runs inside
/// `BatchNormSync.across(_:_:)`, every training-mode batch-norm layer normalises with the mean and
/// variance of the whole global batch — all ranks' rows — and its backward uses the global sums
/// Σ dz and Σ dz·x̂, so N ranks compute the single-process gradients up to rounding.
///
/// The group is captured when a layer runs forward, so its pullback exchanges with the same ranks
/// whenever the backward runs. Without a group (the default) batch norm is per rank, as DDP does
/// it per GPU; `BatchNormGroups` cuts a rank's batch further (as `DataParallel` does per GPU).
public struct BatchNormSync {
    /// The ranks whose rows form the batch.
    public let communicator: any Communicator

    nonisolated(unsafe) private static var current: BatchNormSync?

    /// The group of the forward pass running now, if any.
    static var active: BatchNormSync? { current }

    /// Runs `body` (a training forward pass) with batch statistics over `communicator`'s ranks;
    /// nil, or a single rank, leaves batch norm per process.
    public static func across<R>(_ communicator: (any Communicator)?, _ body: () throws -> R) rethrows -> R {
        let saved = current
        current = communicator.flatMap { $0.size > 1 ? BatchNormSync(communicator: $0) : nil }
        defer { current = saved }
        return try body()
    }

    /// Per-channel count, mean and Σ(x − mean)² of the rows of every rank, from this rank's
    /// (Chan et al.'s pairwise combination, applied in rank order so every rank gets the same bits).
    func combine(count: Double, mean: [Double], squares: [Double]) -> (count: Double, mean: [Double], squares: [Double]) {
        let c = mean.count
        let parts = communicator.allGather([count] + mean + squares)
        var total = 0.0, m = [Double](repeating: 0, count: c), s = [Double](repeating: 0, count: c)
        for part in parts {
            let n = part[0]
            guard n > 0 else { continue }
            let combined = total + n
            for j in 0..<c {
                let delta = part[1 + j] - m[j]
                m[j] += delta * n / combined
                s[j] += part[1 + c + j] + delta * delta * total * n / combined
            }
            total = combined
        }
        return (total, m, s)
    }

    /// The element-wise sums of every rank's `values`, added in rank order.
    func sum(_ values: [Double]) -> [Double] {
        var total = [Double](repeating: 0, count: values.count)
        for part in communicator.allGather(values) {
            for j in 0..<values.count { total[j] += part[j] }
        }
        return total
    }
}
