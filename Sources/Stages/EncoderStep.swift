import Engine
import Datasets

/// One optimisation step of the first stage — forward the batch's views, the loss, backward, SGD
/// at a given rate — and nothing else: the training loop runs it for every batch, and the
/// trajectory-parity test (Tests/StagesTests/TrajectoryParityTests.swift) replays the reference's
/// batches through it, so what the test checks is what training does.
struct EncoderStep {
    /// What the step minimises.
    enum Objective {
        /// A contrastive loss of the L2-normalised projections of both views. `subclasses` holds
        /// the subclass of every image of the data set (by index; empty when `loss` needs none),
        /// `temperatures` the class temperatures (empty when `loss` needs none).
        case contrastive(ContrastiveLoss, subclasses: [Int32], temperatures: [Float])
        /// Cross-entropy of the encoder's linear classifier on every view (the `ce` baseline).
        case crossEntropy
    }

    let model: SupConResNet
    let optimizer: SGD
    /// Where the step runs; its gradients go through `place.synchronize` before SGD.
    let place: ExecutionPlace

    /// Runs one step on `batch` at learning rate `rate` and returns the loss before the update.
    /// A NaN or infinite loss leaves the model and the optimiser untouched (the caller stops).
    func callAsFunction(_ batch: Batch, rate: Float, objective: Objective) -> Float {
        let value: Tensor
        switch objective {
        case let .contrastive(loss, subclasses, temperatures):
            value = contrastiveLoss(batch, loss, subclasses, temperatures)
        case .crossEntropy:
            value = classificationLoss(batch)
        }
        let scalar = value.item
        guard scalar.isFinite else { return scalar }
        optimizer.learningRate = rate
        optimizer.step(place.synchronize(value.gradients()))
        return scalar
    }

    /// The contrastive loss of one batch of two views per image.
    private func contrastiveLoss(_ batch: Batch, _ loss: ContrastiveLoss, _ subclasses: [Int32], _ temperatures: [Float]) -> Tensor {
        let z = model(Tensor(batch.images, shape: batch.shape), training: true)
        let targets = ContrastiveTargets(labels: batch.labels,
                                         subclasses: loss.kind.usesSubclasses ? batch.indices.map { subclasses[$0] } : [],
                                         classTemperatures: loss.kind.usesClassTemperatures ? temperatures : [])
        return Tensor.contrastiveLoss(z, loss, targets)
    }

    /// The cross-entropy baseline: the encoder's linear classifier on every view (views are
    /// view-major, so the B labels repeat once per view).
    private func classificationLoss(_ batch: Batch) -> Tensor {
        let logits = model.classify(model.features(Tensor(batch.images, shape: batch.shape), training: true))
        let labels = Array(repeating: batch.labels, count: batch.views).flatMap { $0 }
        return Tensor.crossEntropy(logits: logits, labels: Tensor(int32: labels, shape: [labels.count]))
    }
}
