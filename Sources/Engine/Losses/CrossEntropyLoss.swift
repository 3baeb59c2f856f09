import Foundation

/// Softmax cross-entropy on logits with optional LDAM margins, scale and per-class weights: the
/// second-stage losses (`LDAMLoss` of the authors' `loss.py`, and `nn.CrossEntropyLoss`).
///
/// For sample i with target y: z = s · (x_i − m_y e_y), loss_i = −log softmax(z)_y, and the
/// result is Σ_i w_{y_i} loss_i / Σ_i w_{y_i} (PyTorch's weighted mean), or the plain mean when
/// there are no weights.
public struct CrossEntropyLoss: Equatable, Sendable {
    /// m_c subtracted from the target logit (empty: no margins).
    public var margins: [Float]
    /// s multiplying the logits after the margin.
    public var scale: Float
    /// w_c per class (empty: unweighted).
    public var weights: [Float]

    /// A loss with explicit margins, scale and weights (each array empty or one value per class).
    public init(margins: [Float] = [], scale: Float = 1, weights: [Float] = []) {
        precondition(scale > 0, "CrossEntropyLoss: scale \(scale) is not positive")
        self.margins = margins
        self.scale = scale
        self.weights = weights
    }

    /// The reference's LDAM loss: margins from `classCounts` (largest `maxMargin`), scale `s`, and
    /// effective-number weights (β) when `reweighted` (train_rule `DRW`), none otherwise.
    public static func ldam(classCounts: [Int], maxMargin: Double = 0.5, scale: Float = 30,
                            reweighted: Bool = true, beta: Double = 0.9999) -> CrossEntropyLoss {
        CrossEntropyLoss(margins: ClassWeights.ldamMargins(classCounts: classCounts, maxMargin: maxMargin), scale: scale,
                         weights: reweighted ? ClassWeights.effectiveNumber(classCounts: classCounts, beta: beta) : [])
    }

    /// Loss value and d loss / d logits.
    /// - Parameters:
    ///   - logits: N × C row-major (before margin and scale).
    ///   - targets: N class indices in 0..<C.
    public func valueAndGradient(logits: [Float], targets: [Int32]) -> (loss: Float, gradient: [Float]) {
        let n = targets.count
        precondition(n > 0 && logits.count % n == 0, "CrossEntropyLoss: \(logits.count) logits for \(n) targets")
        let classes = logits.count / n
        precondition(margins.isEmpty || margins.count == classes, "CrossEntropyLoss: \(margins.count) margins for \(classes) classes")
        precondition(weights.isEmpty || weights.count == classes, "CrossEntropyLoss: \(weights.count) weights for \(classes) classes")
        var gradient = [Float](repeating: 0, count: logits.count)
        var totalWeight = 0.0
        for y in targets {
            precondition(y >= 0 && Int(y) < classes, "CrossEntropyLoss: target \(y) outside 0..<\(classes)")
            totalWeight += weights.isEmpty ? 1.0 : Double(weights[Int(y)])
        }
        let inverse = 1 / totalWeight
        var weightedLoss = 0.0
        var z = [Double](repeating: 0, count: classes)
        for i in 0..<n {
            let y = Int(targets[i])
            for c in 0..<classes {
                var x = Double(logits[i * classes + c])
                if c == y, !margins.isEmpty { x -= Double(margins[y]) }
                z[c] = Double(scale) * x
            }
            let zMax = z.max()!
            var sum = 0.0
            for c in 0..<classes { sum += exp(z[c] - zMax) }
            let logSum = log(sum) + zMax
            let w = weights.isEmpty ? 1.0 : Double(weights[y])
            weightedLoss += w * (logSum - z[y])
            for c in 0..<classes {
                let p = exp(z[c] - logSum)
                gradient[i * classes + c] = Float(w * inverse * Double(scale) * (p - (c == y ? 1 : 0)))
            }
        }
        return (Float(weightedLoss * inverse), gradient)
    }
}
