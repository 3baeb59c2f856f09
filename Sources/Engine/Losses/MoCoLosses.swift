import Foundation

/// The labels a MoCo loss reads beside the logits: the batch's, and the queue's as they were
/// before this step's keys were enqueued (what `moco.py` returns with the logits).
public struct MoCoTargets {
    /// The B class labels of the queries (≥ 0).
    public var labels: [Int32]
    /// The B subclass ids of the queries (≥ 0, unique across classes, as main.py's `cluster()`
    /// makes them); ignored by KCL.
    public var subclasses: [Int32]
    /// The K class labels of the queue (`queue_t`); −1 marks an empty slot.
    public var queueLabels: [Int32]
    /// The K subclass ids of the queue (`queue_l`); −1 marks an empty slot. Ignored by KCL.
    public var queueSubclasses: [Int32]
    /// KCL's uniforms in [0, 1), k × B, draw-major (`uniforms[d·B + i]` is draw d of query i, the
    /// order the reference's `torch.rand(B)` per draw consumes them); nil: the loss draws them
    /// from its own `generator`. Ignored by `rank` and `ccl`.
    public var uniforms: [Float]?

    public init(labels: [Int32], subclasses: [Int32] = [], queueLabels: [Int32], queueSubclasses: [Int32] = [],
                uniforms: [Float]? = nil) {
        self.labels = labels
        self.subclasses = subclasses
        self.queueLabels = queueLabels
        self.queueSubclasses = queueSubclasses
        self.uniforms = uniforms
    }
}

/// Value and d loss / d logits of a MoCo loss (`MoCoLossKind`) on logits B × (1 + K), one pass
/// per row with the row maximum subtracted before exp; rows are split over threads. Beyond the
/// gradient (B × (1 + K)) it keeps one row of scratch per thread and KCL's sampled columns.
///
/// Not thread-safe (it owns the KCL generator and its buffers): give each training loop its own.
public final class MoCoLoss {
    /// The loss computed.
    public let kind: MoCoLossKind
    /// Upper bound on worker threads for the row pass.
    public var maxThreads: Int
    /// KCL's source of uniforms when the targets carry none: 24-bit floats as `torch.rand` makes
    /// them. A value type, so a checkpoint saves and restores it.
    public var generator: MT19937

    private var rowLoss: [Double] = []
    private var scratch: [Float] = []
    /// KCL's sampled queue indices of the last `prepare`, B × draws, `sampledCount[i]` of them from
    /// `i · draws` on (deduplicated, in draw order).
    private(set) var sampled: [Int32] = []
    /// How many of query i's draws are distinct queue entries.
    private(set) var sampledCount: [Int32] = []

    /// Creates a loss of `kind`; `seed` seeds KCL's generator.
    public init(_ kind: MoCoLossKind, seed: UInt32 = 0, maxThreads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.kind = kind
        self.generator = MT19937(seed: seed)
        self.maxThreads = max(1, maxThreads)
    }

    /// `count` uniforms in [0, 1) with 24 random bits each (k · 2⁻²⁴, as `torch.rand` in float32),
    /// so that u · n never rounds up to n.
    public static func uniforms(_ count: Int, from generator: inout MT19937) -> [Float] {
        (0..<count).map { _ in Float(generator.nextUInt32() >> 8) * 0x1p-24 }
    }

    /// The loss value only.
    public func value(logits: [Float], targets: MoCoTargets) -> Float {
        logits.withUnsafeBufferPointer { evaluate(logits: $0, targets: targets, gradient: nil) }
    }

    /// The loss value and d loss / d logits (same layout as `logits`).
    public func valueAndGradient(logits: [Float], targets: MoCoTargets) -> (loss: Float, gradient: [Float]) {
        var gradient = [Float](repeating: 0, count: logits.count)
        let loss = logits.withUnsafeBufferPointer { x in
            gradient.withUnsafeMutableBufferPointer { evaluate(logits: x, targets: targets, gradient: $0) }
        }
        return (loss, gradient)
    }

    /// The loss value of logits held in a buffer (B × (1 + K), row-major); when `gradient` is given
    /// (same count) it receives d loss / d logits. KCL consumes `kind.uniformCount(batch:)` uniforms
    /// of `targets.uniforms`, or of `generator` when those are nil.
    public func evaluate(logits: UnsafeBufferPointer<Float>, targets: MoCoTargets, gradient: UnsafeMutableBufferPointer<Float>?) -> Float {
        let batch = targets.labels.count, queue = targets.queueLabels.count, n = queue + 1
        precondition(gradient == nil || gradient!.count == logits.count,
                     "MoCoLoss(\(kind)): gradient has \(gradient!.count) values for \(logits.count) logits")
        prepare(targets: targets, logitCount: logits.count)
        if rowLoss.count != batch { rowLoss = [Double](repeating: 0, count: batch) }
        let chunks = min(maxThreads, batch, max(1, batch * n / 32768))
        if scratch.count < chunks * n { scratch = [Float](repeating: 0, count: chunks * n) }
        let draws: Int
        if case let .kcl(k, _) = kind { draws = k } else { draws = 0 }

        rowLoss.withUnsafeMutableBufferPointer { losses in
            scratch.withUnsafeMutableBufferPointer { scratchAll in
                targets.labels.withUnsafeBufferPointer { labels in
                    targets.subclasses.withUnsafeBufferPointer { subclasses in
                        targets.queueLabels.withUnsafeBufferPointer { queueLabels in
                            targets.queueSubclasses.withUnsafeBufferPointer { queueSubclasses in
                                sampled.withUnsafeBufferPointer { sampled in
                                    sampledCount.withUnsafeBufferPointer { sampledCount in
                                        let rows = MoCoLossRows(batch: batch, columns: n, logits: logits, gradient: gradient,
                                                                labels: labels, subclasses: subclasses, queueLabels: queueLabels,
                                                                queueSubclasses: queueSubclasses, draws: draws,
                                                                sampled: sampled, sampledCount: sampledCount)
                                        DispatchQueue.concurrentPerform(iterations: chunks) { c in
                                            let mine = UnsafeMutableBufferPointer(rebasing: scratchAll[(c * n)..<(c * n + n)])
                                            for i in (c * batch / chunks)..<((c + 1) * batch / chunks) {
                                                losses[i] = rows.loss(row: i, kind: kind, scratch: mine)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var total = 0.0
        for l in rowLoss { total += l }
        return Float(total / Double(batch))
    }

    /// What the CPU row pass and a device's (`Tensor.mocoLoss`) both do first: checks the targets
    /// against `logitCount` logits (B × (1 + K)) and, for KCL, samples the positives into
    /// `sampled`/`sampledCount`, consuming the uniforms as `evaluate` documents.
    func prepare(targets: MoCoTargets, logitCount: Int) {
        let batch = targets.labels.count, queue = targets.queueLabels.count
        precondition(batch > 0, "MoCoLoss(\(kind)): empty batch")
        precondition(logitCount == batch * (queue + 1),
                     "MoCoLoss(\(kind)): logits have \(logitCount) values, not B × (1 + K) = \(batch) × \(queue + 1)")
        precondition(targets.labels.allSatisfy { $0 >= 0 }, "MoCoLoss(\(kind)): a query's class label is negative")
        if kind.usesSubclasses {
            precondition(targets.subclasses.count == batch && targets.queueSubclasses.count == queue,
                         "MoCoLoss(\(kind)): \(targets.subclasses.count) subclasses for \(batch) queries and "
                         + "\(targets.queueSubclasses.count) for a queue of \(queue)")
            precondition(targets.subclasses.allSatisfy { $0 >= 0 }, "MoCoLoss(\(kind)): a query's subclass id is negative")
        }
        if case let .kcl(draws, _) = kind { sampleKCL(targets: targets, draws: draws, queue: queue) }
    }

    /// KCL's positives from the queue: for each draw d and query i, the ⌊u·n_i⌋-th (in column
    /// order) of the n_i queue entries of i's class, as the reference's cumsum/floor index does;
    /// queries with n_i = 0 consume their uniform too. Written deduplicated to `sampled`
    /// (B × draws queue indices) and `sampledCount`.
    private func sampleKCL(targets: MoCoTargets, draws: Int, queue: Int) {
        let batch = targets.labels.count
        let count = draws * batch
        let uniforms: [Float]
        if let given = targets.uniforms {
            precondition(given.count == count, "MoCoLoss(\(kind)): \(given.count) uniforms for \(draws) draws × \(batch) queries")
            uniforms = given
        } else {
            uniforms = MoCoLoss.uniforms(count, from: &generator)
        }
        // The queue positions of each class present in the batch, in column order, by one scan.
        var slot: [Int32: Int] = [:]
        for label in targets.labels where slot[label] == nil { slot[label] = slot.count }
        var positions = [[Int32]](repeating: [], count: slot.count)
        for (j, label) in targets.queueLabels.enumerated() {
            if let s = slot[label] { positions[s].append(Int32(j)) }
        }
        if sampled.count != count { sampled = [Int32](repeating: 0, count: count) }
        if sampledCount.count != batch { sampledCount = [Int32](repeating: 0, count: batch) }
        for i in 0..<batch {
            let mine = positions[slot[targets.labels[i]]!]
            var taken = 0
            for d in 0..<draws {
                let u = uniforms[d * batch + i]
                precondition(u >= 0 && u < 1, "MoCoLoss(\(kind)): uniform \(u) (draw \(d), query \(i)) is outside [0, 1)")
                guard !mine.isEmpty else { continue }
                // In float32, as the reference multiplies: (1 − 2⁻²⁴)·n stays below n.
                let index = min(mine.count - 1, Int((u * Float(mine.count)).rounded(.down)))
                let column = mine[index]
                if !sampled[(i * draws)..<(i * draws + taken)].contains(column) {
                    sampled[i * draws + taken] = column
                    taken += 1
                }
            }
            sampledCount[i] = Int32(taken)
        }
    }
}
