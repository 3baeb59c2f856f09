import Engine

/// One optimisation step of the MoCo first stage — the query and key crops through the model
/// (momentum update, logits against the queue, enqueue), the MoCo loss, backward, SGD on the
/// query encoder — and nothing else: the training loop runs it for every batch and
/// `sbcl-bench step --moco` times it, so the bench measures what training does.
public struct MoCoStep {
    public let model: MoCo
    public let optimizer: SGD

    /// A step of `model` by `optimizer` (over `model.queryParameters`).
    public init(model: MoCo, optimizer: SGD) {
        self.model = model
        self.optimizer = optimizer
    }

    /// Runs one step and returns the loss before the update; a NaN or infinite loss leaves the
    /// weights as they were (the queue has taken the keys, as the reference's forward does).
    ///
    /// - Parameters:
    ///   - query, key: NHWC crops [B, H, W, C] of the same B images.
    ///   - labels: their classes; `subclasses`: their subclasses (−1 before the first clustering).
    ///   - loss: KCL (which ignores subclasses) or the SBCL-MoCo loss.
    public func callAsFunction(query: Tensor, key: Tensor, labels: [Int32], subclasses: [Int32], loss: MoCoLoss) -> Float {
        let output = model.forward(query: query, key: key, subclassLabels: subclasses.map(Int.init), classLabels: labels.map(Int.init),
                                   training: true)
        let uses = loss.kind.usesSubclasses
        let targets = MoCoTargets(labels: labels, subclasses: uses ? subclasses : [],
                                  queueLabels: output.queueClass.map(Int32.init),
                                  queueSubclasses: uses ? output.queueSubclass.map(Int32.init) : [])
        let value = Tensor.mocoLoss(output.logits, loss, targets)
        let scalar = value.item
        guard scalar.isFinite else { return scalar }
        optimizer.step(value.gradients())
        return scalar
    }
}
