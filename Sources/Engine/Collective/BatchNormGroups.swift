/// Batch-norm groups on one process: while a forward pass runs inside
/// `BatchNormGroups.split(into:_:)`, every training-mode batch-norm layer cuts its batch into G
/// contiguous row groups and normalises each with its own batch statistics — what G GPUs do when
/// `DataParallel` or `DistributedDataParallel` hands each its chunk of the batch
/// (docs/batch-norm-groups.md).
///
/// The result equals G separate `Tensor.batchNorm2d` calls on the slices, concatenated: the same
/// values and the same input, γ and β gradients (γ's and β's summed over the groups). The running
/// statistics and `num_batches_tracked` are updated from group 0 alone, as the reference keeps
/// the buffers of GPU 0 (`DataParallel`'s first replica, DDP's rank 0 broadcast). Evaluation mode
/// is unaffected: it normalises with the running statistics, row by row.
///
/// The grouping is read when a layer runs forward; the pullback keeps it, whenever it runs.
public enum BatchNormGroups {
    nonisolated(unsafe) private static var current = 1

    /// The groups of the forward pass running now (1: the whole batch, as without a scope).
    public static var active: Int { current }

    /// Runs `body` (a training forward pass) with batch norm over `groups` contiguous row groups
    /// of every batch-norm input; 1 leaves batch norm over the whole batch. Every batch-norm input
    /// inside must have a batch that `groups` divides (a precondition naming the shapes).
    public static func split<R>(into groups: Int, _ body: () throws -> R) rethrows -> R {
        precondition(groups >= 1, "BatchNormGroups.split: \(groups) groups; need at least 1")
        let saved = current
        current = groups
        defer { current = saved }
        return try body()
    }
}

extension Tensor {
    /// Grouped training-mode batch norm built from `sliced`, `batchNorm2d` per group and `concat`:
    /// the form device backends run (no kernel of their own), and the reference the CPU kernel's
    /// grouped path is tested against. Groups 1… update a scratch copy of the running statistics.
    static func batchNorm2dByGroups(_ input: Tensor, groups: Int, gamma: Tensor, beta: Tensor, statistics: BatchNormStatistics,
                                    momentum: Float, epsilon: Float, relu: Bool) -> Tensor {
        let n = input.shape[0], size = n / groups
        let scratch = BatchNormStatistics(channels: gamma.shape[0])
        scratch.runningMean = statistics.runningMean.copied()
        scratch.runningVariance = statistics.runningVariance.copied()
        let parts = (0..<groups).map { g in
            BatchNormGroups.split(into: 1) {
                batchNorm2d(input.sliced(axis: 0, (g * size)..<((g + 1) * size)), gamma: gamma, beta: beta,
                            statistics: g == 0 ? statistics : scratch, training: true, momentum: momentum, epsilon: epsilon, relu: relu)
            }
        }
        return concat(parts, axis: 0)
    }
}
