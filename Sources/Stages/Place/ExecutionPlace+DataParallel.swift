import Foundation
import Engine
import PipelineDSL

/// Data parallelism as the reference's `torch.nn.DataParallel` does it: every rank forwards its
/// contiguous slice of the global batch, the outputs are gathered, every rank computes the same
/// loss of the whole global batch, back-propagates the gradient of its own rows through its
/// slice, and the parameter gradients are summed over the ranks.
///
/// Why a sum and not a mean: the loss L is a function of all ranks' outputs, so
/// dL/dθ = Σ_r (dL/dz_r)(dz_r/dθ) — each rank's backward yields exactly one term of that sum, and
/// their sum is the single-process gradient (DataParallel's `reduce_add` onto device 0). A mean
/// would divide it by N; DDP averages only because there each rank's loss is a mean over its own
/// slice. On one rank every function here is the identity and costs nothing.
///
/// On a device the exchanges are staged through the host (docs/cuda.md, "Several ranks"): the local
/// outputs come down, are gathered, and the global batch goes up so the loss runs on the device;
/// this rank's rows of its gradient go up as the backward's seed; all gradients and the running
/// statistics come down into one flat buffer, one all-reduce sums it, and the sums go up. The sums
/// are the CPU's: the same buffer in the same order, whatever backend the tensors live on.
extension ExecutionPlace {
    /// The loss `loss` of the global batch's outputs, and the gradients of this rank's part of it.
    ///
    /// - Parameters:
    ///   - local: this rank's outputs `[blocks · b_r, D]`, block-major (views of a contrastive batch).
    ///   - blocks: blocks per batch (2 views, or 1).
    ///   - batchSize: the global batch's images B; rank r holds the rows `ranks.slice(of: B)` of each block.
    ///   - loss: the loss of the global outputs `[blocks · B, D]` (block-major, rank order within a block).
    /// - Returns: the loss (the same on every rank) and, when it is finite, this rank's gradients.
    public func gradients(of local: Tensor, blocks: Int, batchSize: Int,
                          loss: (Tensor) -> Tensor) -> (value: Float, gradients: Gradients?) {
        guard ranks.size > 1 else {
            let value = loss(local)
            // The backward is queued before the loss is read (on a GPU the host issues it while the
            // device runs the forward); a non-finite loss discards it.
            let gradients = value.gradients()
            let scalar = value.item
            return (scalar, scalar.isFinite ? gradients : nil)
        }
        let width = local.shape[1]
        // On a device: one download of the local rows, one upload of the global batch.
        let global = Tensor(gatherRows(local.scalars, width: width, blocks: blocks, batchSize: batchSize),
                            shape: [blocks * batchSize, width], on: backend).trackingGradients()
        let value = loss(global)
        let scalar = value.item
        guard scalar.isFinite, let dGlobal = value.gradients()[global] else { return (scalar, nil) }
        // One download of the global gradient, one upload of this rank's rows as the seed.
        let own = ownRows(dGlobal.scalars, width: width, blocks: blocks, batchSize: batchSize)
        return (scalar, local.gradients(seed: Tensor(own, shape: local.shape, on: local.backend)))
    }

    /// Every rank's rows `[blocks · b_r, width]` gathered into the global batch's order
    /// `[blocks · B, width]` (block-major; within a block, rank 0's rows first).
    public func gatherRows(_ local: [Float], width: Int, blocks: Int, batchSize: Int) -> [Float] {
        guard let communicator, ranks.size > 1 else { return local }
        let sizes = (0..<ranks.size).map { rankSlice(of: batchSize, rank: $0, size: ranks.size).count }
        let parts = communicator.allGather(local, counts: sizes.map { blocks * $0 * width })
        var global = [Float](repeating: 0, count: blocks * batchSize * width)
        var offset = 0
        for r in 0..<ranks.size {
            let rows = rankSlice(of: batchSize, rank: r, size: ranks.size)
            for block in 0..<blocks {
                let target = (block * batchSize + rows.lowerBound) * width
                global[target..<(target + rows.count * width)] = parts[offset..<(offset + rows.count * width)]
                offset += rows.count * width
            }
        }
        return global
    }

    /// This rank's rows of a global `[blocks · B, width]` array, in its local order.
    public func ownRows(_ global: [Float], width: Int, blocks: Int, batchSize: Int) -> [Float] {
        guard ranks.size > 1 else { return global }
        let rows = ranks.slice(of: batchSize)
        var own = [Float]()
        own.reserveCapacity(blocks * rows.count * width)
        for block in 0..<blocks {
            let start = (block * batchSize + rows.lowerBound) * width
            own += global[start..<(start + rows.count * width)]
        }
        return own
    }

    /// The gradients every rank steps with: on several ranks each parameter's gradient is summed
    /// over them (one all-reduce of all of them, packed in `parameters` order), and `statistics`'
    /// running mean and variance become rank 0's — DataParallel keeps device 0's, as only its
    /// replica updates the module's buffers — so that every rank holds the same state. (Rank 0
    /// packs its statistics, the others zeros: x + 0 = x exactly, so one reduction does both.)
    /// On a device each gradient and statistic comes down into the one buffer and its sum goes up
    /// to where the gradient lived.
    public func synchronize(_ gradients: Gradients, parameters: [(name: String, parameter: Engine.Parameter)],
                            statistics: [BatchNormStatistics] = []) -> Gradients {
        guard let communicator, ranks.size > 1 else { return gradients }
        let present = parameters.compactMap { entry in gradients[entry.parameter.value].map { (entry.parameter, $0) } }
        var packed = [Float]()
        packed.reserveCapacity(present.reduce(0) { $0 + $1.1.count } + statistics.reduce(0) { $0 + 2 * $1.runningMean.count })
        for (_, gradient) in present { packed += gradient.scalars }
        for item in statistics {
            for buffer in [item.runningMean, item.runningVariance] {
                packed += ranks.rank == 0 ? buffer.scalars : [Float](repeating: 0, count: buffer.count)
            }
        }
        communicator.allReduceSum(&packed)
        var summed = gradients
        var offset = 0
        for (parameter, gradient) in present {
            summed[parameter.value] = Tensor(Array(packed[offset..<(offset + gradient.count)]), shape: gradient.shape, on: gradient.backend)
            offset += gradient.count
        }
        for item in statistics {
            let c = item.runningMean.count
            item.runningMean = Tensor(Array(packed[offset..<(offset + c)]), shape: [c], on: item.runningMean.backend)
            item.runningVariance = Tensor(Array(packed[(offset + c)..<(offset + 2 * c)]), shape: [c], on: item.runningVariance.backend)
            offset += 2 * c
        }
        return summed
    }

    /// Throws unless every rank holds the same bits of `module`'s state and `optimizer`'s momentum
    /// (compared by a 64-bit digest, once per epoch: any drift — a reduction that differed between
    /// ranks — would otherwise grow silently).
    public func verifyIdentical(_ module: any Module, optimizer: SGD, after epoch: Int, stage: String) throws {
        guard let communicator, ranks.size > 1 else { return }
        // On a device the live momentum is on the device; the host copy is only as fresh as the
        // last checkpoint, which rank 0 alone writes.
        if isDevice { optimizer.downloadMomentumBuffers() }
        let digest = StateDigest.of(module, optimizer: optimizer)
        let all = communicator.allGather([digest])
        if let other = all.firstIndex(where: { $0 != all[0] }) {
            throw RunError("stage '\(stage)': after epoch \(epoch) rank \(other) holds different weights than rank 0 "
                           + "(state digest \(String(all[other][0], radix: 16)) against \(String(all[0][0], radix: 16))); "
                           + "the ranks must run the same build on the same kind of CPU (SBCL_KERNELS, SBCL_CONV unset or equal)")
        }
    }

    /// Throws when a global batch of the epoch has fewer images than there are ranks (a rank
    /// would get an empty slice): only an epoch's last batch can, when `drop_last` is off.
    public func checkDivisible(samples: Int, batchSize: Int, dropLast: Bool, stage: String) throws {
        let last = samples % batchSize
        guard ranks.size > 1, !dropLast, last > 0, last < ranks.size else { return }
        throw RunError("stage '\(stage)': each epoch's last batch has \(last) image\(last == 1 ? "" : "s") (\(samples) images in batches of \(batchSize)), "
                       + "fewer than the \(ranks.size) ranks; set drop_last: true, or change batch_size or the number of ranks")
    }
}

/// 64-bit FNV-1a digests: of a module's state (parameters, running statistics, batch counts) and
/// an optimiser's momentum buffers in their fixed order, or of any 32-bit words (benchmarks
/// compare runs by them).
public enum StateDigest {
    /// The digest of `module`'s state and `optimizer`'s momentum buffers.
    public static func of(_ module: any Module, optimizer: SGD?) -> UInt64 {
        var words: [UInt32] = []
        for (_, item) in module.state {
            switch item {
            case .parameter(let p): words += p.value.scalars.map(\.bitPattern)
            case .runningMean(let s): words += s.runningMean.scalars.map(\.bitPattern)
            case .runningVariance(let s): words += s.runningVariance.scalars.map(\.bitPattern)
            case .batchesTracked(let s): words.append(UInt32(truncatingIfNeeded: s.batchesTracked))
            }
        }
        if let optimizer {
            for (name, _) in optimizer.parameters { words += (optimizer.momentumBuffers[name] ?? []).map(\.bitPattern) }
        }
        return of(words)
    }

    /// The digest of `words`, each taken as 4 little-endian bytes.
    public static func of(_ words: [UInt32]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for word in words {
            var bits = word
            for _ in 0..<4 {
                hash = (hash ^ UInt64(bits & 0xFF)) &* 0x100_0000_01b3
                bits >>= 8
            }
        }
        return hash
    }
}
