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
    /// (momentum, unbiased variance); inside `BatchNormSync.across` the batch is every rank's rows;
    /// inside `BatchNormGroups.split(into: G)` each of G contiguous row groups is a batch of its
    /// own and only group 0 updates `statistics`. Evaluation: uses the running statistics.
    public static func batchNorm2d(_ input: Tensor, gamma: Tensor, beta: Tensor, statistics: BatchNormStatistics,
                                   training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5, relu: Bool = false) -> Tensor {
        let c = input.shape.last ?? 0
        precondition(input.rank == 4 && gamma.shape == [c] && beta.shape == [c] && statistics.runningMean.shape == [c],
                     "batchNorm2d: input NHWC \(input.shape), gamma \(gamma.shape), beta \(beta.shape), running \(statistics.runningMean.shape) do not match")
        let op: PrimitiveOp = relu ? .batchNormReLU2d : .batchNorm2d
        let groups = training ? BatchNormGroups.active : 1
        if groups > 1 {
            precondition(input.shape[0] % groups == 0,
                         "batchNorm2d: a batch of \(input.shape[0]) rows (input \(input.shape)) does not split into \(groups) batch-norm groups")
            precondition(BatchNormSync.active == nil, "batchNorm2d: batch-norm groups and sync_batchnorm across ranks do not combine")
            if input.deviceKernels(for: op) != nil {
                return batchNorm2dByGroups(input, groups: groups, gamma: gamma, beta: beta, statistics: statistics,
                                           momentum: momentum, epsilon: epsilon, relu: relu)
            }
        }
        let out = Tensor(uninitializedShape: input.shape, on: input.backend)
        if let device = input.deviceKernels(for: op) {
            return deviceBatchNorm2d(device, input, gamma: gamma, beta: beta, statistics: statistics, training: training,
                                     momentum: momentum, epsilon: epsilon, relu: relu, into: out)
        }
        if training {
            precondition(input.count / Swift.max(c * groups, 1) > 1,
                         "batchNorm2d: training needs more than one value per channel\(groups > 1 ? " in each of \(groups) groups" : ""), got input \(input.shape)")
            // Groups are consecutive blocks of `span` floats; each has its own saved statistics
            // (G × c), and groups 1… update a scratch copy of the running statistics.
            let span = input.count / groups
            let savedMean = Tensor(uninitializedShape: [groups * c], on: input.backend)
            let savedInverseStd = Tensor(uninitializedShape: [groups * c], on: input.backend)
            let scratch = groups > 1 ? BatchNormStatistics(channels: c) : statistics
            let sync = BatchNormSync.active
            WorkspacePool.with { ws in
                for group in 0..<groups {
                    let kept = group == 0 ? statistics : scratch
                    BatchNorm2D.trainingForward(input: input.floatBuffer.group(group, span), channels: c, gamma: gamma.floatBuffer, beta: beta.floatBuffer,
                                                runningMean: kept.runningMean.mutableFloatBuffer,
                                                runningVariance: kept.runningVariance.mutableFloatBuffer,
                                                momentum: momentum, epsilon: epsilon, fuseReLU: relu, output: out.mutableFloatBuffer.group(group, span),
                                                savedMean: savedMean.mutableFloatBuffer.group(group, c),
                                                savedInverseStd: savedInverseStd.mutableFloatBuffer.group(group, c),
                                                workspace: ws, sync: sync)
                }
            }
            statistics.batchesTracked += 1
            return recorded(out, op: op, inputs: [input, gamma, beta]) { g, _ in
                let dx = Tensor(uninitializedShape: input.shape, on: g.backend)
                let dgamma = Tensor(uninitializedShape: [c], on: g.backend), dbeta = Tensor(uninitializedShape: [c], on: g.backend)
                // γ's and β's gradients are the groups' sums, added in group order.
                let partGamma = groups > 1 ? Tensor(uninitializedShape: [c], on: g.backend) : dgamma
                let partBeta = groups > 1 ? Tensor(uninitializedShape: [c], on: g.backend) : dbeta
                WorkspacePool.with { ws in
                    for group in 0..<groups {
                        BatchNorm2D.trainingBackward(input: input.floatBuffer.group(group, span), outputGradient: g.floatBuffer.group(group, span),
                                                     channels: c, gamma: gamma.floatBuffer, beta: beta.floatBuffer,
                                                     savedMean: savedMean.floatBuffer.group(group, c),
                                                     savedInverseStd: savedInverseStd.floatBuffer.group(group, c), fuseReLU: relu,
                                                     inputGradient: dx.mutableFloatBuffer.group(group, span),
                                                     gammaGradient: (group == 0 ? dgamma : partGamma).mutableFloatBuffer,
                                                     betaGradient: (group == 0 ? dbeta : partBeta).mutableFloatBuffer, workspace: ws, sync: sync)
                        guard group > 0 else { continue }
                        let sumGamma = dgamma.mutableFloatBuffer, sumBeta = dbeta.mutableFloatBuffer
                        let addGamma = partGamma.floatBuffer, addBeta = partBeta.floatBuffer
                        for j in 0..<c {
                            sumGamma[j] += addGamma[j]
                            sumBeta[j] += addBeta[j]
                        }
                    }
                }
                return [dx, dgamma, dbeta]
            }
        }
        // Evaluation: the running statistics as they are now (later updates do not change the pullback).
        let runningMean = statistics.runningMean.copied(), runningVariance = statistics.runningVariance.copied()
        WorkspacePool.with { ws in
            BatchNorm2D.inferenceForward(input: input.floatBuffer, channels: c, gamma: gamma.floatBuffer, beta: beta.floatBuffer,
                                         runningMean: runningMean.floatBuffer, runningVariance: runningVariance.floatBuffer,
                                         epsilon: epsilon, fuseReLU: relu, output: out.mutableFloatBuffer, workspace: ws)
        }
        return recorded(out, op: op, inputs: [input, gamma, beta]) { g, _ in
            let dx = Tensor(uninitializedShape: input.shape, on: g.backend)
            let dgamma = Tensor(uninitializedShape: [c], on: g.backend), dbeta = Tensor(uninitializedShape: [c], on: g.backend)
            WorkspacePool.with { ws in
                BatchNorm2D.inferenceBackward(input: input.floatBuffer, outputGradient: g.floatBuffer, channels: c,
                                              gamma: gamma.floatBuffer, beta: beta.floatBuffer, runningMean: runningMean.floatBuffer,
                                              runningVariance: runningVariance.floatBuffer, epsilon: epsilon, fuseReLU: relu,
                                              inputGradient: dx.mutableFloatBuffer, gammaGradient: dgamma.mutableFloatBuffer,
                                              betaGradient: dbeta.mutableFloatBuffer, workspace: ws)
            }
            return [dx, dgamma, dbeta]
        }
    }
}

extension Tensor {
    /// `batchNorm2d` on a device backend: the same arithmetic in the device's kernels.
    private static func deviceBatchNorm2d(_ device: any DeviceKernels, _ input: Tensor, gamma: Tensor, beta: Tensor,
                                          statistics: BatchNormStatistics, training: Bool, momentum: Float, epsilon: Float,
                                          relu: Bool, into out: Tensor) -> Tensor {
        precondition(BatchNormSync.active == nil, "batchNorm2d: sync_batchnorm across ranks is not supported on \(device.name)")
        let c = input.shape[3], rows = input.count / Swift.max(c, 1)
        let op: PrimitiveOp = relu ? .batchNormReLU2d : .batchNorm2d
        let mean: Tensor, inverseStd: Tensor
        if training {
            precondition(rows > 1, "batchNorm2d: training needs more than one value per channel, got input \(input.shape)")
            mean = Tensor(uninitializedShape: [c], on: input.backend)
            inverseStd = Tensor(uninitializedShape: [c], on: input.backend)
            device.batchNormStatistics(input.storage, rows: rows, channels: c, runningMean: statistics.runningMean.storage,
                                       runningVariance: statistics.runningVariance.storage, momentum: momentum, epsilon: epsilon,
                                       savedMean: mean.storage, savedInverseStd: inverseStd.storage)
            statistics.batchesTracked += 1
        } else {
            // The running statistics as they are now (later updates do not change the pullback).
            mean = statistics.runningMean.copied()
            inverseStd = withoutGradients { Tensor(repeating: 1, shape: [c], on: input.backend) / (statistics.runningVariance + epsilon).sqrt() }
        }
        device.batchNormNormalize(input.storage, rows: rows, channels: c, mean: mean.storage, inverseStd: inverseStd.storage,
                                  gamma: gamma.storage, beta: beta.storage, relu: relu, into: out.storage)
        return recorded(out, op: op, inputs: [input, gamma, beta]) { g, _ in
            let dx = Tensor(uninitializedShape: input.shape, on: g.backend)
            let dgamma = Tensor(uninitializedShape: [c], on: g.backend), dbeta = Tensor(uninitializedShape: [c], on: g.backend)
            device.batchNormBackward(training: training, input: input.storage, outputGradient: g.storage, rows: rows, channels: c,
                                     mean: mean.storage, inverseStd: inverseStd.storage, gamma: gamma.storage, beta: beta.storage,
                                     relu: relu, inputGradient: dx.storage, gammaGradient: dgamma.storage,
                                     betaGradient: dbeta.storage)
            return [dx, dgamma, dbeta]
        }
    }
}

extension UnsafeBufferPointer {
    /// Elements `index·span ..< (index + 1)·span`: one batch-norm group's block.
    @inline(__always) fileprivate func group(_ index: Int, _ span: Int) -> UnsafeBufferPointer {
        UnsafeBufferPointer(rebasing: self[(index * span)..<((index + 1) * span)])
    }
}

extension UnsafeMutableBufferPointer {
    /// Elements `index·span ..< (index + 1)·span`: one batch-norm group's block.
    @inline(__always) fileprivate func group(_ index: Int, _ span: Int) -> UnsafeMutableBufferPointer {
        UnsafeMutableBufferPointer(rebasing: self[(index * span)..<((index + 1) * span)])
    }
}
