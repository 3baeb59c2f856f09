import CBLAS
import Foundation

/// Value and gradient of a first-stage contrastive loss on L2-normalised projections, computed on
/// raw `Float` arrays with OpenBLAS: the 2B × 2B similarity matrix by one sgemm, a row-parallel
/// pass for the softmaxes, and one more sgemm for the gradient.
///
/// Layout: `features` is 2B × D row-major; rows 0..<B are the first view of the B images and rows
/// B..<2B the second view, in the same image order (the reference's
/// `torch.cat(torch.unbind(features, dim=1))`). Labels and subclasses are per image (B each);
/// subclass ids must be unique across classes. The loss is the mean over the 2B anchors.
///
/// The object keeps its buffers between calls (no allocation in steady state for a fixed batch);
/// it is not thread-safe — give each training loop its own.
public final class ContrastiveLoss {
    /// The loss computed.
    public let kind: ContrastiveLossKind
    /// Upper bound on worker threads for the row pass.
    public var maxThreads: Int

    private var similarity: [Float] = []
    private var coefficients: [Float] = []
    private var rowLoss: [Double] = []
    private var scratch: [Float] = []
    private var anchorLabel: [Int32] = []
    private var anchorSubclass: [Int32] = []
    private var anchorTemperature: [Float] = []

    /// Creates a loss of `kind`; `maxThreads` defaults to the machine's active cores.
    public init(_ kind: ContrastiveLossKind, maxThreads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.kind = kind
        self.maxThreads = max(1, maxThreads)
    }

    /// The loss value only.
    /// - Parameters:
    ///   - features: 2B × D, row-major, view-major (see the type's documentation).
    ///   - labels: the B class labels in 0..<C.
    ///   - subclasses: the B subclass ids (ignored by `.supCon`; pass `[]`).
    ///   - classTemperatures: τ_c for each class (read by `.sbclRank` only; pass `[]` otherwise).
    public func value(features: [Float], labels: [Int32], subclasses: [Int32] = [], classTemperatures: [Float] = []) -> Float {
        features.withUnsafeBufferPointer {
            evaluate(features: $0, labels: labels, subclasses: subclasses, classTemperatures: classTemperatures, gradient: nil)
        }
    }

    /// The loss value and d loss / d features (2B × D, same layout as `features`).
    public func valueAndGradient(features: [Float], labels: [Int32], subclasses: [Int32] = [],
                                 classTemperatures: [Float] = []) -> (loss: Float, gradient: [Float]) {
        var gradient: [Float] = []
        let loss = valueAndGradient(features: features, labels: labels, subclasses: subclasses,
                                    classTemperatures: classTemperatures, gradient: &gradient)
        return (loss, gradient)
    }

    /// The loss value; writes d loss / d features into `gradient`, resized to `features.count`
    /// (reusing its storage, so a training loop allocates nothing per step).
    public func valueAndGradient(features: [Float], labels: [Int32], subclasses: [Int32] = [],
                                 classTemperatures: [Float] = [], gradient: inout [Float]) -> Float {
        if gradient.count != features.count { gradient = [Float](repeating: 0, count: features.count) }
        return features.withUnsafeBufferPointer { f in
            gradient.withUnsafeMutableBufferPointer { g in
                evaluate(features: f, labels: labels, subclasses: subclasses, classTemperatures: classTemperatures, gradient: g)
            }
        }
    }

    /// Reorders features from the reference's sample-major layout [B, 2, D] to the view-major
    /// 2B × D layout used here (and back with `sampleMajor`).
    public static func viewMajor(fromSampleMajor x: [Float], batchSize: Int, dimension: Int) -> [Float] {
        precondition(x.count == 2 * batchSize * dimension, "ContrastiveLoss.viewMajor: \(x.count) values for [\(batchSize), 2, \(dimension)]")
        var out = [Float](repeating: 0, count: x.count)
        for b in 0..<batchSize {
            for v in 0..<2 {
                for d in 0..<dimension { out[(v * batchSize + b) * dimension + d] = x[(b * 2 + v) * dimension + d] }
            }
        }
        return out
    }

    /// Reorders view-major 2B × D values to the reference's sample-major layout [B, 2, D].
    public static func sampleMajor(fromViewMajor x: [Float], batchSize: Int, dimension: Int) -> [Float] {
        precondition(x.count == 2 * batchSize * dimension, "ContrastiveLoss.sampleMajor: \(x.count) values for [2·\(batchSize), \(dimension)]")
        var out = [Float](repeating: 0, count: x.count)
        for b in 0..<batchSize {
            for v in 0..<2 {
                for d in 0..<dimension { out[(b * 2 + v) * dimension + d] = x[(v * batchSize + b) * dimension + d] }
            }
        }
        return out
    }

    /// The loss value on features held in a buffer (a tensor's storage); when `gradient` is given
    /// (same count as `features`) it receives d loss / d features. Arguments as in `value`.
    public func evaluate(features: UnsafeBufferPointer<Float>, labels: [Int32], subclasses: [Int32] = [],
                         classTemperatures: [Float] = [], gradient: UnsafeMutableBufferPointer<Float>?) -> Float {
        let wantGradient = gradient != nil
        let batch = labels.count
        let n = 2 * batch
        precondition(batch > 0, "ContrastiveLoss: empty batch")
        precondition(features.count % n == 0 && features.count > 0,
                     "ContrastiveLoss: features has \(features.count) values, not a multiple of 2B = \(n)")
        let dimension = features.count / n
        if kind.usesSubclasses {
            precondition(subclasses.count == batch, "ContrastiveLoss(\(kind)): \(subclasses.count) subclasses for \(batch) labels")
        }
        prepareAnchors(labels: labels, subclasses: subclasses, classTemperatures: classTemperatures)
        if similarity.count != n * n { similarity = [Float](repeating: 0, count: n * n) }
        if wantGradient, coefficients.count != n * n { coefficients = [Float](repeating: 0, count: n * n) }
        if rowLoss.count != n { rowLoss = [Double](repeating: 0, count: n) }

        similarity.withUnsafeMutableBufferPointer { s in
            GEMM.sgemm(transposeA: false, transposeB: true, m: n, n: n, k: dimension, a: features.baseAddress!, lda: dimension,
                       b: features.baseAddress!, ldb: dimension, beta: 0, c: s.baseAddress!, ldc: n)
        }
        let terms = kind.terms
        let scale = 1 / Float(n)
        let chunks = min(maxThreads, max(1, n / 64))
        if scratch.count < chunks * n { scratch = [Float](repeating: 0, count: chunks * n) }
        similarity.withUnsafeBufferPointer { s in
            coefficients.withUnsafeMutableBufferPointer { g in
                rowLoss.withUnsafeMutableBufferPointer { losses in
                    anchorLabel.withUnsafeBufferPointer { lab in
                        anchorSubclass.withUnsafeBufferPointer { sub in
                            anchorTemperature.withUnsafeBufferPointer { temp in
                                let rows = ContrastiveRows(n: n, batch: batch, similarity: s, labels: lab, subclasses: sub,
                                                           classTemperature: temp, coefficients: wantGradient ? g : nil, scale: scale)
                                scratch.withUnsafeMutableBufferPointer { scratchAll in
                                    DispatchQueue.concurrentPerform(iterations: chunks) { c in
                                        let mine = UnsafeMutableBufferPointer(rebasing: scratchAll[(c * n)..<(c * n + n)])
                                        for i in stride(from: c * n / chunks, to: (c + 1) * n / chunks, by: 1) {
                                            losses[i] = rows.anchorLoss(i, terms: terms, scratch: mine)
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
        guard wantGradient else { return Float(total / Double(n)) }

        // d loss / d F = (G + Gᵀ) F, since s_ij = f_i · f_j.
        coefficients.withUnsafeMutableBufferPointer { g in ContrastiveLoss.symmetrize(g, n: n) }
        let out = gradient!
        precondition(out.count == features.count, "ContrastiveLoss.evaluate: gradient has \(out.count) values for \(features.count) features")
        coefficients.withUnsafeBufferPointer { g in
            GEMM.sgemm(transposeA: false, transposeB: false, m: n, n: dimension, k: n, a: g.baseAddress!, lda: n,
                       b: features.baseAddress!, ldb: dimension, beta: 0, c: out.baseAddress!, ldc: dimension)
        }
        return Float(total / Double(n))
    }

    /// G ← G + Gᵀ in place, in 8 × 8 tiles. A tile's column walk touches one cache line per row,
    /// rows 4 n bytes apart; for n a multiple of 1024 every such line falls in the same L1 set, so
    /// the tile must have no more rows than L1 has ways (8 ≤ 12 on Zen and recent Intel cores; 64
    /// rows thrashed and took a fifth of the loss's time at n = 2048).
    static func symmetrize(_ g: UnsafeMutableBufferPointer<Float>, n: Int) {
        let tile = 8
        for bi in stride(from: 0, to: n, by: tile) {
            for bj in stride(from: bi, to: n, by: tile) {
                for i in bi..<min(bi + tile, n) {
                    let jStart = bi == bj ? i : bj
                    for j in jStart..<min(bj + tile, n) {
                        let sum = g[i * n + j] + g[j * n + i]
                        g[i * n + j] = sum
                        g[j * n + i] = sum
                    }
                }
            }
        }
    }

    private func prepareAnchors(labels: [Int32], subclasses: [Int32], classTemperatures: [Float]) {
        let batch = labels.count
        if anchorLabel.count != 2 * batch {
            anchorLabel = [Int32](repeating: 0, count: 2 * batch)
            anchorSubclass = [Int32](repeating: 0, count: 2 * batch)
            anchorTemperature = [Float](repeating: 0, count: 2 * batch)
        }
        for b in 0..<batch {
            anchorLabel[b] = labels[b]
            anchorLabel[b + batch] = labels[b]
            let sub = kind.usesSubclasses ? subclasses[b] : 0
            anchorSubclass[b] = sub
            anchorSubclass[b + batch] = sub
            let t = kind.anchorTemperature(label: labels[b], classTemperatures: classTemperatures)
            anchorTemperature[b] = t
            anchorTemperature[b + batch] = t
        }
    }
}
