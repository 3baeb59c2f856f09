import Foundation
import Engine

/// The second-stage classifier on top of the frozen encoder's 64-d features.
///
/// `cosine` is the reference's `NormedLinear` (weight `[features, classes]`, state name `weight`):
/// logits = normalize(x) · normalize(W, columns), values in [−1, 1] that the LDAM loss scales by s.
/// `linear` is the reference's `LinearClassifier` (`fc.weight` `[classes, features]`, `fc.bias`).
public final class ClassifierHead: Module {
    /// The two classifier forms of `linear_classify.py`.
    public enum Form: String, Sendable, Codable {
        /// `NormedLinear`: cosine similarity between the feature and each class's weight column.
        case cosine
        /// `nn.Linear(features, classes)` with bias.
        case linear
    }

    /// Which form this head is.
    public let form: Form
    /// Feature size (64 for the CIFAR ResNets).
    public let featureCount: Int
    /// Number of classes C.
    public let classCount: Int
    /// The cosine head's weight, `[features, classes]`; nil for a linear head.
    public let cosineWeight: Parameter?
    /// The linear head's layer; nil for a cosine head.
    public let fc: Linear?

    /// A freshly initialised head: the cosine weight uniform in [−1, 1] with unit columns (what
    /// `uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)` yields), the linear layer PyTorch's default.
    /// `linearStd`: the linear layer's weights N(0, std²) and zero bias instead (the ImageNet-LT
    /// linear stage, `moco/linear_classify.py`: std 0.01).
    public init(form: Form, featureCount: Int, classCount: Int, seed: UInt32, linearStd: Float? = nil) {
        precondition(featureCount > 0 && classCount > 0, "ClassifierHead: bad size \(featureCount)×\(classCount)")
        self.form = form
        self.featureCount = featureCount
        self.classCount = classCount
        var rng = MT19937(seed: seed)
        switch form {
        case .cosine:
            var w = Initialization.uniform([featureCount, classCount], bound: 1, &rng).scalars
            for c in 0..<classCount {
                var norm: Float = 0
                for f in 0..<featureCount { norm += w[f * classCount + c] * w[f * classCount + c] }
                let inverse = 1 / max(norm.squareRoot(), 1e-12)
                for f in 0..<featureCount { w[f * classCount + c] *= inverse }
            }
            cosineWeight = Parameter(Tensor(w, shape: [featureCount, classCount]))
            fc = nil
        case .linear:
            cosineWeight = nil
            let layer = Linear(inFeatures: featureCount, outFeatures: classCount, rng: &rng)
            if let std = linearStd {
                layer.weight.assign(Tensor((0..<(featureCount * classCount)).map { _ in std * Initialization.standardNormal(&rng) },
                                           shape: [classCount, featureCount]))
                layer.bias.assign(Tensor.zeros([classCount]))
            }
            fc = layer
        }
    }

    /// Logits `[N, classes]` of features `[N, featureCount]`; differentiable in the head's weights.
    public func logits(_ features: Tensor) -> Tensor {
        precondition(features.rank == 2 && features.shape[1] == featureCount,
                     "ClassifierHead.logits: features \(features.shape) do not have \(featureCount) columns")
        switch form {
        case .cosine:
            let normalizedColumns = cosineWeight!.value.transposed().l2Normalized()  // [classes, features]
            return Tensor.matmul(features.l2Normalized(), normalizedColumns, transposeB: true)
        case .linear:
            return fc!(features)
        }
    }

    /// State names as the reference's modules: `weight` (cosine) or `fc.weight`, `fc.bias` (linear).
    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        switch form {
        case .cosine: return [(prefix + "weight", .parameter(cosineWeight!))]
        case .linear: return fc!.namedState(prefix: prefix + "fc.")
        }
    }
}

/// One optimisation step of a classifier head on a batch of features, with a loss from
/// `CrossEntropyLoss` (LDAM margins and class weights, or plain cross-entropy).
public enum ClassifierStep {
    /// Computes the loss and its gradient with respect to the logits, back-propagates it through
    /// the head, and lets `optimizer` update the head. Returns the batch loss and its correct count.
    ///
    /// `labels` are the whole (global) batch's; `features` this rank's slice of it
    /// (`place.ranks.slice(of: labels.count)`, all of them on one process). The logits are gathered
    /// so every rank computes the global batch's loss, as in `ExecutionPlace.gradients(of:…)`.
    @discardableResult
    public static func train(head: ClassifierHead, optimizer: SGD, loss: CrossEntropyLoss,
                             features: Tensor, labels: [Int32], place: ExecutionPlace) -> (loss: Float, correct: Int) {
        precondition(features.shape.first == place.ranks.slice(of: labels.count).count,
                     "ClassifierStep.train: \(features.shape) features for rank \(place.ranks.rank) of \(place.ranks.size) and \(labels.count) labels")
        // On a device the batch's features go up; the loss (LDAM or cross-entropy, on the host
        // like the gathered logits) comes back as the logits' gradient: one download, two uploads.
        let logits = head.logits(features.moved(to: place.backend))
        let classes = head.classCount
        let values = place.gatherRows(logits.scalars, width: classes, blocks: 1, batchSize: labels.count)
        let (value, gradient) = loss.valueAndGradient(logits: values, targets: labels)
        let own = place.ownRows(gradient, width: classes, blocks: 1, batchSize: labels.count)
        let grads = logits.gradients(seed: Tensor(own, shape: logits.shape, on: logits.backend))
        optimizer.step(place.synchronize(grads, parameters: optimizer.parameters))
        return (value, ClassifierPredictions.correctCount(logits: values, classCount: classes, labels: labels))
    }
}

/// Helpers turning logits into predictions.
public enum ClassifierPredictions {
    /// The class with the largest logit of each row (the first on ties, as `torch.max`).
    public static func argmax(logits: [Float], classCount: Int) -> [Int] {
        precondition(classCount > 0 && logits.count % classCount == 0, "argmax: \(logits.count) logits for \(classCount) classes")
        return (0..<(logits.count / classCount)).map { row in
            var best = 0
            for c in 1..<classCount where logits[row * classCount + c] > logits[row * classCount + best] { best = c }
            return best
        }
    }

    /// How many rows' argmax equals the label.
    public static func correctCount(logits: [Float], classCount: Int, labels: [Int32]) -> Int {
        zip(argmax(logits: logits, classCount: classCount), labels).filter { $0 == Int($1) }.count
    }
}
