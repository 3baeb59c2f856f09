/// The running statistics a batch-norm layer keeps, updated in place by training-mode passes
/// exactly as PyTorch does (momentum 0.1, unbiased variance, `num_batches_tracked` + 1).
public final class BatchNormStatistics {
    /// Per-channel running mean and running (unbiased) variance.
    public var runningMean: Tensor
    public var runningVariance: Tensor
    /// Training-mode passes seen (PyTorch's `num_batches_tracked`).
    public var batchesTracked: Int64 = 0

    public init(channels: Int) {
        runningMean = .zeros([channels])
        runningVariance = Tensor(repeating: 1, shape: [channels])
    }
}

extension Tensor {
    /// Batch normalisation of NHWC `input` over its last axis, optionally fused with ReLU.
    ///
    /// Training: normalises with the batch's mean and biased variance and updates `statistics`
    /// (momentum, unbiased variance). Evaluation: uses the running statistics.
    public static func batchNorm2d(_ input: Tensor, gamma: Tensor, beta: Tensor, statistics: BatchNormStatistics,
                                   training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5, relu: Bool = false) -> Tensor {
        let c = input.shape.last ?? 0
        precondition(input.rank == 4 && gamma.shape == [c] && beta.shape == [c] && statistics.runningMean.shape == [c],
                     "batchNorm2d: input NHWC \(input.shape), gamma \(gamma.shape), beta \(beta.shape), running \(statistics.runningMean.shape) do not match")
        let rows = input.count / Swift.max(c, 1)
        let x = input.storage.floats
        var mean: [Float], invStd: [Float]
        if training {
            precondition(rows > 1, "batchNorm2d: training needs more than one value per channel, got input \(input.shape)")
            let m = BatchNormLoops.channelMoments(x, rows: rows, channels: c)
            mean = m.mean.map { Float($0) }
            invStd = m.variance.map { Float(1 / ($0 + Double(epsilon)).squareRoot()) }
            let rm = statistics.runningMean.storage.floats, rv = statistics.runningVariance.storage.floats
            let unbias = Double(rows) / Double(rows - 1)
            for j in 0..<c {
                rm[j] = (1 - momentum) * rm[j] + momentum * Float(m.mean[j])
                rv[j] = (1 - momentum) * rv[j] + momentum * Float(m.variance[j] * unbias)
            }
            statistics.batchesTracked += 1
        } else {
            mean = statistics.runningMean.scalars
            invStd = statistics.runningVariance.scalars.map { 1 / ($0 + epsilon).squareRoot() }
        }
        let gm = gamma.scalars, bt = beta.scalars
        let scale = (0..<c).map { gm[$0] * invStd[$0] }
        let shift = (0..<c).map { bt[$0] - mean[$0] * scale[$0] }
        let out = Tensor(uninitializedShape: input.shape, on: input.backend)
        BatchNormLoops.normalize(x, out.storage.floats, rows: rows, channels: c, scale: scale, shift: shift, relu: relu)
        let op: PrimitiveOp = relu ? .batchNormReLU2d : .batchNorm2d
        return recorded(out, op: op, inputs: [input, gamma, beta]) { g, _ in
            let y = out.storage.floats, dy = g.storage.floats
            // Per-channel Σdy' and Σdy'·x̂, where dy' is dy masked by the ReLU.
            var sums = [Double](repeating: 0, count: 2 * c)
            for i in 0..<rows {
                for j in 0..<c {
                    let d = relu && y[i * c + j] <= 0 ? 0 : dy[i * c + j]
                    let xhat = (x[i * c + j] - mean[j]) * invStd[j]
                    sums[j] += Double(d); sums[c + j] += Double(d * xhat)
                }
            }
            let dgamma = Tensor((0..<c).map { Float(sums[c + $0]) }, shape: [c], on: g.backend)
            let dbeta = Tensor((0..<c).map { Float(sums[$0]) }, shape: [c], on: g.backend)
            let dx = Tensor(uninitializedShape: input.shape, on: g.backend)
            let dxp = dx.storage.floats
            let n = Float(rows)
            for i in 0..<rows {
                for j in 0..<c {
                    let d = relu && y[i * c + j] <= 0 ? 0 : dy[i * c + j]
                    if training {
                        let xhat = (x[i * c + j] - mean[j]) * invStd[j]
                        dxp[i * c + j] = gm[j] * invStd[j] * (d - Float(sums[j]) / n - xhat * Float(sums[c + j]) / n)
                    } else {
                        dxp[i * c + j] = gm[j] * invStd[j] * d
                    }
                }
            }
            return [dx, dgamma, dbeta]
        }
    }
}
