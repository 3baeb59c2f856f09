import Engine
import Datasets

/// One optimisation step of the first stage — forward the batch's views, the loss, backward, SGD
/// at a given rate — and nothing else: the training loop runs it for every batch, and the
/// trajectory-parity test (Tests/StagesTests/TrajectoryParityTests.swift) replays the reference's
/// batches through it, so what the test checks is what training does.
public struct EncoderStep {
    /// What the step minimises.
    public enum Objective {
        /// A contrastive loss of the L2-normalised projections of both views. `subclasses` holds
        /// the subclass of every image of the data set (by index; empty when `loss` needs none),
        /// `temperatures` the class temperatures (empty when `loss` needs none).
        case contrastive(ContrastiveLoss, subclasses: [Int32], temperatures: [Float])
        /// Cross-entropy of the encoder's linear classifier on every view (the `ce` baseline).
        case crossEntropy
    }

    public let model: SupConResNet
    public let optimizer: SGD
    /// Where the step runs; its gradients go through `place.synchronize` before SGD.
    public let place: ExecutionPlace
    /// Batch-norm groups of the forward pass (`batch_norm_groups`; docs/batch-norm-groups.md):
    /// the view-major rows of this process cut into G contiguous groups, each normalised alone —
    /// 2 is the reference's `DataParallel` on 2 GPUs, one view per GPU. 1: the whole batch.
    public let batchNormGroups: Int

    /// A step of `model` by `optimizer` at `place` (the bench and tests make one; training does).
    public init(model: SupConResNet, optimizer: SGD, place: ExecutionPlace, batchNormGroups: Int = 1) {
        self.model = model
        self.optimizer = optimizer
        self.place = place
        self.batchNormGroups = batchNormGroups
    }

    /// Runs one step on `batch` at learning rate `rate` and returns the loss before the update.
    /// A NaN or infinite loss leaves the model and the optimiser untouched (the caller stops).
    ///
    /// Data-parallel (see `ExecutionPlace+DataParallel.swift`): `batch` holds this rank's slice
    /// of the global batch's views, and its labels and indices are the global batch's; the loss
    /// is the global batch's, the same on every rank, as on one process.
    /// `input` is the batch's images already on the place's backend (`ExecutionPlace.prepare`),
    /// or nil to upload them here.
    public func callAsFunction(_ batch: Batch, input: Tensor? = nil, rate: Float, objective: Objective) -> Float {
        let (scalar, gradients) = gradients(batch, input: input, objective: objective)
        guard let gradients else { return scalar }
        optimizer.learningRate = rate
        optimizer.step(gradients)
        return scalar
    }

    /// The loss of `batch` and the gradients every rank steps with (summed over the ranks); nil
    /// gradients when the loss is not finite. Changes no weights (running statistics do change).
    public func gradients(_ batch: Batch, input prepared: Tensor? = nil, objective: Objective) -> (loss: Float, gradients: Gradients?) {
        // The training forward with the place's batch-norm group across ranks and this step's groups.
        func forward(_ body: () -> Tensor) -> Tensor {
            BatchNormGroups.split(into: batchNormGroups) { BatchNormSync.across(place.batchNormGroup, body) }
        }
        let input = prepared ?? place.input(batch.images, shape: batch.shape)
        let outputs: Tensor
        let loss: (Tensor) -> Tensor
        switch objective {
        case let .contrastive(contrastive, subclasses, temperatures):
            outputs = forward { model(input, training: true) }
            let targets = ContrastiveTargets(labels: batch.labels,
                                             subclasses: contrastive.kind.usesSubclasses ? batch.indices.map { subclasses[$0] } : [],
                                             classTemperatures: contrastive.kind.usesClassTemperatures ? temperatures : [])
            loss = { Tensor.contrastiveLoss($0, contrastive, targets) }
        case .crossEntropy:
            // The encoder's linear classifier on every view (views are view-major, so the B labels
            // repeat once per view).
            outputs = forward { model.classify(model.features(input, training: true)) }
            let labels = Array(repeating: batch.labels, count: batch.views).flatMap { $0 }
            loss = { Tensor.crossEntropy(logits: $0, labels: Tensor(int32: labels, shape: [labels.count])) }
        }
        let (scalar, gradients) = place.gradients(of: outputs, blocks: batch.views, batchSize: batch.batchSize, loss: loss)
        guard let gradients else { return (scalar, nil) }
        return (scalar, place.synchronize(gradients, parameters: optimizer.parameters, statistics: model.batchNormStatistics))
    }
}

extension Module {
    /// The batch-norm layers' running statistics, in state order.
    var batchNormStatistics: [BatchNormStatistics] {
        state.compactMap { entry in
            if case .runningMean(let statistics) = entry.item { return statistics }
            return nil
        }
    }
}
