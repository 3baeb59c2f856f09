/// MoCo v2 (He et al.; the SBCL authors' `moco/moco.py` with `mlp=True`): a query encoder trained
/// by gradient, a key encoder that follows it by momentum, and a queue of K past keys with their
/// subclass and class labels.
///
/// Each `forward(query:key:subclassLabels:classLabels:training:)` is one step of the reference's
/// `MoCo.forward(im_q, im_k, labels, true_labels)`: query projections, the momentum update of the
/// key encoder's parameters, key projections without gradient, logits `[l_pos | l_neg]`, then the
/// keys and labels enqueued. State names are the reference's (`encoder_q.*`, `encoder_k.*`);
/// `queue`, `queue_l`, `queue_t` and `queue_ptr` are plain buffers (see MoCo+Checkpoint.swift).
public final class MoCo: Module {
    /// The query encoder `encoder_q` (a ResNet whose `fc` is the MLP head).
    public let encoderQuery: ResNetImageNet
    /// The key encoder `encoder_k`: never given gradients, only momentum updates.
    public let encoderKey: ResNetImageNet
    /// The projection size (`dim`, 128).
    public let dimension: Int
    /// The number of queued keys (`K`).
    public let queueSize: Int
    /// The key encoder's momentum (`m`, 0.999).
    public let momentum: Float
    /// The queued keys, [dimension, K], each column L2-normalised (`queue`).
    public internal(set) var queue: Tensor
    /// The queued keys' subclass labels (`queue_l`), −1 where no key has been queued yet.
    public internal(set) var queueSubclass: [Int64]
    /// The queued keys' class labels (`queue_t`), −1 where no key has been queued yet.
    public internal(set) var queueClass: [Int64]
    /// The next column to overwrite (`queue_ptr`).
    public internal(set) var queuePointer: Int
    /// Data-parallel ranks: with more than one, keys and labels are gathered before they are
    /// enqueued (`concat_all_gather`) and the key encoder runs on a shuffled batch (shuffle BN).
    /// `nil` (or one rank): a single process, where the shuffle would change nothing.
    public var communicator: (any Communicator)?
    /// Draws the shuffle-BN permutations when the caller gives none (on rank 0 only; broadcast to
    /// the others). The training loop gives them, from the seed and the step (`keyPermutation`).
    var shuffleGenerator: MT19937
    /// Batch-norm groups per process in training passes (docs/batch-norm-groups.md): the query
    /// batch in G contiguous groups, the key batch permuted, run in G groups and un-permuted (one
    /// process's shuffle BN). 1: batch norm over the whole batch.
    public var batchNormGroups = 1

    /// A MoCo model with fresh encoders drawn from `seed`: the key encoder's parameters are a copy
    /// of the query encoder's (its batch-norm buffers start at their defaults, like the query's),
    /// the queue holds standard normal columns normalised to unit length, the labels are −1.
    public init(_ architecture: ResNetImageNet.Architecture, dimension: Int = 128, queueSize: Int = 65536,
                momentum: Float = 0.999, seed: UInt32 = 0) {
        precondition(dimension > 0 && queueSize > 0 && momentum >= 0 && momentum <= 1,
                     "MoCo: dimension \(dimension), queueSize \(queueSize) and momentum \(momentum) are out of range")
        var rng = MT19937(seed: seed)
        encoderQuery = ResNetImageNet(architecture, classCount: dimension, mlpHead: true, rng: &rng)
        encoderKey = ResNetImageNet(architecture, classCount: dimension, mlpHead: true, rng: &rng)
        for ((_, k), (_, q)) in zip(encoderKey.namedParameters, encoderQuery.namedParameters) { k.assign(q.value) }
        self.dimension = dimension
        self.queueSize = queueSize
        self.momentum = momentum
        let normals = Tensor((0..<(dimension * queueSize)).map { _ in Initialization.standardNormal(&rng) }, shape: [dimension, queueSize])
        queue = withoutGradients { normals.transposed().l2Normalized().transposed() }
        queueSubclass = Array(repeating: -1, count: queueSize)
        queueClass = Array(repeating: -1, count: queueSize)
        queuePointer = 0
        shuffleGenerator = MT19937(seed: seed &+ 0x5EED)
    }

    /// The parameters the optimiser trains: the query encoder's, named `encoder_q.*` (the key
    /// encoder's have `requires_grad=False` in the reference, so its SGD skips them).
    public var queryParameters: [(name: String, parameter: Parameter)] {
        encoderQuery.namedParameters.map { ("encoder_q." + $0.name, $0.parameter) }
    }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        encoderQuery.namedState(prefix: prefix + "encoder_q.") + encoderKey.namedState(prefix: prefix + "encoder_k.")
    }

    /// k ← m·k + (1 − m)·q for every parameter pair (`_momentum_update_key_encoder`). Batch-norm
    /// buffers are not touched: the reference zips `parameters()`, which holds none.
    public func momentumUpdate() {
        let m = momentum, rest = 1 - momentum
        withoutGradients {
            for ((_, k), (_, q)) in zip(encoderKey.namedParameters, encoderQuery.namedParameters) {
                if k.value.storage.isHost && q.value.storage.isHost {
                    let source = q.value.storage.floats, target = k.value.storage.floats
                    for i in 0..<k.value.count { target[i] = target[i] * m + source[i] * rest }
                } else {
                    k.assign(k.value.detached * m + q.value.detached * rest)
                }
            }
        }
    }

    /// Replaces the queue (e.g. with the reference's draws, or a checkpoint's); [dimension, K].
    public func setQueue(_ values: Tensor, subclass: [Int64]? = nil, class classes: [Int64]? = nil, pointer: Int? = nil) {
        precondition(values.shape == [dimension, queueSize], "MoCo.setQueue: queue \(values.shape), expected \([dimension, queueSize])")
        precondition((subclass?.count ?? queueSize) == queueSize && (classes?.count ?? queueSize) == queueSize,
                     "MoCo.setQueue: label arrays must hold \(queueSize) values")
        precondition((0..<queueSize).contains(pointer ?? 0), "MoCo.setQueue: pointer \(pointer ?? 0) outside 0..<\(queueSize)")
        queue = values.detached.moved(to: encoderQuery.fc.weight.value.backend)
        if let subclass { queueSubclass = subclass }
        if let classes { queueClass = classes }
        if let pointer { queuePointer = pointer }
    }
}
