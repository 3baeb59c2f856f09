import Engine

/// One optimisation step of the MoCo first stage — the query and key crops through the model
/// (momentum update, logits against the queue, enqueue), the MoCo loss, backward, SGD on the
/// query encoder — and nothing else: the training loop runs it for every batch and
/// `sbcl-bench step --moco` times it, so the bench measures what training does.
///
/// Data-parallel (the reference's DistributedDataParallel): each rank holds its slice of the
/// global batch; the model gathers every rank's keys and labels for the queue and shuffles the
/// key batch across ranks (shuffle BN); each rank's loss is weighted by its share of the batch,
/// so the summed gradients are the global mean's (DDP's averaged gradients), and rank 0's
/// batch-norm statistics go to every rank (DDP's `broadcast_buffers`).
public struct MoCoStep {
    public let model: MoCo
    public let optimizer: SGD
    /// Where the step runs; with several ranks its gradients go through `place.synchronize`.
    public let place: ExecutionPlace

    /// A step of `model` by `optimizer` (over `model.queryParameters`) at `place`.
    public init(model: MoCo, optimizer: SGD, place: ExecutionPlace) {
        self.model = model
        self.optimizer = optimizer
        self.place = place
    }

    /// Runs one step and returns the global batch's loss before the update; a NaN or infinite
    /// loss leaves the weights as they were (the queue has taken the keys, as the reference's
    /// forward does).
    ///
    /// - Parameters:
    ///   - query, key: NHWC crops [b, H, W, C] of this rank's b images of a global batch of
    ///     `globalBatch` (b = `globalBatch` on one process).
    ///   - labels: their classes; `subclasses`: their subclasses (−1 before the first clustering).
    ///   - loss: KCL (which ignores subclasses) or the SBCL-MoCo loss.
    ///   - uniforms: KCL's draws for these b queries (k × b, draw-major), or nil for the loss's generator.
    ///   - keyPermutation: shuffle BN's order of the key crops (`MoCo.keyPermutation`): over the
    ///     global batch across ranks, or over this process's crops with `model.batchNormGroups` > 1
    ///     on one; nil: as given on one process, a draw on rank 0 across ranks.
    public func callAsFunction(query: Tensor, key: Tensor, labels: [Int32], subclasses: [Int32], loss: MoCoLoss,
                               globalBatch: Int? = nil, uniforms: [Float]? = nil, keyPermutation: [Int]? = nil) -> Float {
        let output = model.forward(query: query, key: key, subclassLabels: subclasses.map(Int.init), classLabels: labels.map(Int.init),
                                   training: true, keyPermutation: keyPermutation)
        let uses = loss.kind.usesSubclasses
        let targets = MoCoTargets(labels: labels, subclasses: uses ? subclasses : [],
                                  queueLabels: output.queueClass.map(Int32.init),
                                  queueSubclasses: uses ? output.queueSubclass.map(Int32.init) : [], uniforms: uniforms)
        let value = Tensor.mocoLoss(output.logits, loss, targets)
        guard let communicator = place.communicator, place.ranks.size > 1 else {
            // The backward is queued before the loss is read, so that on a GPU the host issues it
            // while the device still runs the forward (reading the loss first would make the host
            // wait for the forward, then the device for the backward's launches).
            let gradients = value.gradients()
            let scalar = value.item
            guard scalar.isFinite else { return scalar }
            optimizer.step(gradients)
            return scalar
        }
        let share = Float(labels.count) / Float(globalBatch ?? labels.count * place.ranks.size)
        var global = [value.item * share]
        communicator.allReduceSum(&global)
        guard global[0].isFinite else { return global[0] }
        let gradients = value.gradients(seed: Tensor([share], shape: value.shape))
        optimizer.step(place.synchronize(gradients, parameters: optimizer.parameters, statistics: model.batchNormStatistics))
        return global[0]
    }
}
