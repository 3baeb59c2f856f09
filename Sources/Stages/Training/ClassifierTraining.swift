import Foundation
import Engine
import Datasets
import PipelineDSL

/// The second-stage methods of `linear_classify.py` (its `train_rule`).
public enum ClassifierMethod: String, Sendable, Codable, CaseIterable {
    /// Cosine classifier, LDAM loss with effective-number class weights from the first epoch,
    /// instance sampling, warm-up then steps ×0.1 (the paper's reported setting).
    case ldamDRW = "ldam_drw"
    /// Linear classifier, cross-entropy, class-aware sampling, warm-up then cosine decay.
    case cb
    /// Linear classifier, cross-entropy, instance sampling, the step schedule (a baseline).
    case ce
}

/// How many steps a second-stage epoch takes (the `epoch_length` setting).
public enum ClassifierEpochLength: String, Sendable, Codable, CaseIterable {
    /// One whole pass of the sampler (the CIFAR reference's `SimCLR/linear_classify.py`): N images,
    /// or max_c n_c · C draws for `cb`'s class-aware sampler.
    case pass
    /// ⌊N / B⌋ full batches, as `moco/linear_classify.py`'s `train()` (`int(len(train_dataset) /
    /// batch_size)` steps): the class-aware stream continues from one epoch to the next.
    case dataset
}

/// What the frozen backbone's batch norm does while the head trains (the `backbone_batch_norm` setting).
public enum BackboneBatchNorm: String, Sendable, Codable, CaseIterable {
    /// Running statistics, unchanged (the CIFAR reference: `model.eval()`).
    case eval
    /// Batch statistics, with the running statistics re-estimated (momentum 0.1) at every step and
    /// used by the evaluation, `predict` and `export` (`moco/linear_classify.py` calls
    /// `model.train()` on the frozen backbone). No gradient reaches the backbone.
    case train
}

/// Everything that decides how the classifier is trained: the `classifier` stage's settings.
public struct ClassifierConfiguration: StageSettings, Equatable {
    public var method: ClassifierMethod = .ldamDRW
    /// Training epochs (200 in the reference; the paper's `cb` runs 45).
    public var epochs = 0
    /// Images (or feature rows) per step.
    public var batchSize = 0
    /// Peak learning rate.
    public var learningRate: Float = 0
    public var momentum: Float = 0
    public var weightDecay: Float = 0
    /// Epochs of linear warm-up (lr · e / warmup for e ≤ warmup).
    public var warmupEpochs = 0
    /// Epochs after which the rate is multiplied by `decayFactor` (ldam_drw and ce).
    public var milestones: [Int] = []
    public var decayFactor: Float = 0
    /// LDAM's largest margin and logit scale s.
    public var maxMargin = 0.0
    public var scale: Float = 0
    /// β of the effective-number class weights.
    public var beta = 0.0
    /// Images of one class per visit of the class-aware sampler (cb).
    public var perVisit = 0
    /// The learning-rate schedule; nil: the method's own (cosine for cb, steps otherwise).
    public var scheduleForm: ScheduleForm?
    /// Re-embed augmented views every step (the reference), or train on features embedded once.
    public var augment = false
    /// The linear head's initial weights N(0, std²), bias 0 (the ImageNet-LT linear stage); nil:
    /// PyTorch's default `nn.Linear` initialisation (the CIFAR reference). Set by the encoder's
    /// family, not by the recipe.
    public var linearStd: Float?
    /// Steps per epoch: the sampler's whole pass, or ⌊N / B⌋ from a continuing stream.
    public var epochLength = ClassifierEpochLength.pass
    /// The frozen backbone's batch norm while the head trains.
    public var backboneBatchNorm = BackboneBatchNorm.eval
    /// Score the head on the test split after every epoch and record the test top-1 with the
    /// epoch (the reference's per-epoch test; the run's figure stays the last epoch's).
    public var testCurve = false

    public static let unset = ClassifierConfiguration()

    /// The parameters; the defaults are the reference's `DRW` rule.
    public static let fields: [SettingsField<ClassifierConfiguration>] = [
        .choice("method", \.method, default: .ldamDRW,
                doc: "ldam_drw: cosine classifier + LDAM loss (margins ∝ n_c^-1/4, s = 30) with effective-number class weights, the paper's setting; cb: linear classifier + cross-entropy with class-aware sampling and a cosine schedule (the paper runs 45 epochs); ce: linear classifier + cross-entropy, instance sampling"),
        .int("epochs", \.epochs, default: 200, range: .closed(1, 100_000), doc: "training epochs (reference: 200; cb in the paper: 45)"),
        .int("batch_size", \.batchSize, default: 128, range: .closed(1, 65_536), doc: "images per step"),
        .float("learning_rate", \.learningRate, default: 0.1, range: .greaterThan(0), doc: "peak learning rate"),
        .float("momentum", \.momentum, default: 0.9, range: .closed(0, 1), doc: "SGD momentum"),
        .float("weight_decay", \.weightDecay, default: 0, range: .atLeast(0), doc: "SGD weight decay (reference: 0)"),
        SettingsField(.choice("schedule", ["auto", "multistep", "cosine"], default: "auto",
                              doc: "learning-rate schedule after the warm-up: auto (cosine for cb, multistep otherwise, as the reference), multistep (×decay_factor after each milestone; ImageNet-LT's cb uses it) or cosine (to zero)")) { p, c in
            c.scheduleForm = ScheduleForm(rawValue: p.string("schedule"))
        },
        .int("warmup_epochs", \.warmupEpochs, default: 5, range: .closed(0, 100_000), doc: "epochs of linear learning-rate warm-up"),
        .intList("milestones", \.milestones, default: [140, 180], range: .closed(1, 100_000),
                 doc: "ldam_drw and ce: epochs after which the rate is multiplied by decay_factor"),
        .float("decay_factor", \.decayFactor, default: 0.1, range: .openClosed(0, 1), doc: "ldam_drw and ce: the factor at each milestone"),
        .float("max_margin", \.maxMargin, default: 0.5, range: .greaterThan(0), doc: "ldam_drw: the largest LDAM margin (rarest class)"),
        .float("scale", \.scale, default: 30, range: .greaterThan(0), doc: "ldam_drw: the logit scale s of the LDAM loss"),
        .float("beta", \.beta, default: 0.9999, range: .closed(0, 0.999999999), doc: "ldam_drw: β of the effective-number class weights"),
        .int("per_visit", \.perVisit, default: 4, range: .closed(1, 10_000), doc: "cb: images of one class per visit of the class-aware sampler"),
        .bool("augment", \.augment, default: true,
              doc: "true: re-embed RandomCrop(pad 4)+flip views every step (the reference); false: embed the training set once and train on cached features"),
        .choice("epoch_length", \.epochLength, default: .pass,
                doc: "pass: an epoch is the sampler's whole pass (N images; max n_c · C draws for cb), as the CIFAR reference; dataset: floor(N / batch_size) full batches per epoch with the class-aware stream continuing across epochs, as moco/linear_classify.py"),
        .choice("backbone_batch_norm", \.backboneBatchNorm, default: .eval,
                doc: "eval: the frozen backbone's batch norm uses its running statistics (the CIFAR reference); train: batch statistics, with the running statistics re-estimated every step and used by the evaluation (moco/linear_classify.py's model.train()); needs augment: true"),
        .bool("test_curve", \.testCurve, default: false,
              doc: "true: after every epoch score the head on the test split as the evaluation stage would then, and record test_top1 (with top-5 and many / medium / few at the paper's bounds) with the epoch, for the report's test curve; the run's figure stays the last epoch's (the reference prints the best, Best Prec@1)"),
    ]

    /// Refuses what cannot work together (at plan time).
    public func validate() throws {
        if backboneBatchNorm == .train && !augment {
            throw RunError("backbone_batch_norm: train needs augment: true (with augment: false the features are embedded once, so no step sees batch statistics); set augment: true or backbone_batch_norm: eval")
        }
    }

    /// The parameters that change nothing at their defaults: left out of the stage's hash, so
    /// adding them kept every existing entry.
    static func inapplicable(_ settings: ClassifierConfiguration) -> Set<String> {
        var names: Set<String> = []
        if settings.epochLength == .pass { names.insert("epoch_length") }
        if settings.backboneBatchNorm == .eval { names.insert("backbone_batch_norm") }
        if !settings.testCurve { names.insert("test_curve") }
        return names
    }

    /// The sampler's epoch length for `trainingImages` images.
    public func samplerEpochLength(trainingImages: Int) -> EpochLength {
        switch epochLength {
        case .pass: return .pass
        case .dataset: return .draws(stepsPerEpoch(trainingImages: trainingImages) * batchSize)
        }
    }

    /// ⌊N / B⌋ under `epoch_length: dataset`, as `linear_classify.py`'s `int(len(train_dataset) / batch_size)`.
    public func stepsPerEpoch(trainingImages: Int) -> Int { trainingImages / max(1, batchSize) }

    /// The two schedules of `adjust_learning_rate` (warm-up, then steps or cosine).
    public enum ScheduleForm: String, Sendable, Codable {
        /// ×`decayFactor` after each milestone.
        case multistep
        /// Cosine decay to zero over the epochs after the warm-up.
        case cosine
    }

    /// The head the method trains.
    public var form: ClassifierHead.Form { method == .ldamDRW ? .cosine : .linear }

    /// The loss for the given training class counts.
    public func loss(classCounts: [Int]) -> CrossEntropyLoss {
        switch method {
        case .ldamDRW: return .ldam(classCounts: classCounts, maxMargin: maxMargin, scale: scale, reweighted: true, beta: beta)
        case .cb, .ce: return CrossEntropyLoss()
        }
    }

    /// The reference's `adjust_learning_rate` for the method (or the form chosen explicitly).
    public var schedule: LearningRateSchedule {
        switch scheduleForm ?? (method == .cb ? .cosine : .multistep) {
        case .cosine: return .warmupCosine(base: learningRate, epochs: epochs, warmupEpochs: warmupEpochs)
        case .multistep: return .warmupMultiStep(base: learningRate, warmupEpochs: warmupEpochs, milestones: milestones, factor: decayFactor)
        }
    }

    /// How an epoch visits the training images.
    public var samplerKind: SamplerKind { method == .cb ? .classAware : .instance }
}

/// A classifier head with its optimiser and loss, trained epoch by epoch; its state round-trips
/// through a checkpoint so a killed run continues at the next epoch with identical results.
public final class ClassifierTrainer {
    public let configuration: ClassifierConfiguration
    public let head: ClassifierHead
    public let optimizer: SGD
    public let loss: CrossEntropyLoss
    /// Where the trainer runs; its gradients go through `place.synchronize` before SGD.
    public let place: ExecutionPlace
    /// The frozen backbone whose batch-norm running statistics change while the head trains
    /// (`backbone_batch_norm: train`): the checkpoint carries them under `backbone.`; nil: eval mode.
    public var backbone: FrozenEncoder?
    /// Epochs finished so far.
    public private(set) var completedEpochs = 0
    /// The last finished epoch's mean loss and training accuracy (%); NaN before the first.
    public private(set) var lastLoss = Double.nan, lastAccuracy = Double.nan

    /// A fresh head for `classCounts.count` classes (the training counts set LDAM's margins and
    /// weights), trained at `place` (default: the CPU with the engine's current thread count); on
    /// a device the head's weights live there and each batch's features are uploaded.
    public init(configuration: ClassifierConfiguration, classCounts: [Int], featureCount: Int, seed: UInt32,
                place: ExecutionPlace = .cpu(threads: CPUThreads.count)) {
        self.configuration = configuration
        self.place = place
        head = ClassifierHead(form: configuration.form, featureCount: featureCount, classCount: classCounts.count, seed: seed,
                              linearStd: configuration.linearStd)
        optimizer = SGD(parameters: head.namedParameters, learningRate: configuration.learningRate,
                        momentum: configuration.momentum, weightDecay: configuration.weightDecay)
        loss = configuration.loss(classCounts: classCounts)
        place.adopt(head)
    }

    /// Trains one epoch (the next one) over `steps` batches that `batch(step)` supplies as
    /// (features `[B, F]`, labels). Returns the mean batch loss, the training accuracy (%) and the rate.
    @discardableResult
    public func trainEpoch(steps: Int, batch: (Int) throws -> (Tensor, [Int32])) rethrows -> (loss: Double, accuracy: Double, learningRate: Float) {
        let epoch = completedEpochs + 1
        var lossSum = 0.0, correct = 0, seen = 0
        for step in 0..<steps {
            optimizer.learningRate = configuration.schedule.rate(epoch: epoch, step: step, stepsPerEpoch: steps)
            let (features, labels) = try batch(step)
            let result = ClassifierStep.train(head: head, optimizer: optimizer, loss: loss, features: features, labels: labels,
                                              place: place)
            lossSum += Double(result.loss)
            correct += result.correct
            seen += labels.count
        }
        completedEpochs = epoch
        lastLoss = lossSum / Double(max(steps, 1))
        lastAccuracy = 100 * Double(correct) / Double(max(seen, 1))
        return (lossSum / Double(max(steps, 1)), 100 * Double(correct) / Double(max(seen, 1)), optimizer.learningRate)
    }

    /// Writes the head, the momentum buffers, the backbone's running statistics (when it has
    /// `backbone`) and the epoch count to `url` (atomically).
    public func saveCheckpoint(to url: URL) throws {
        optimizer.downloadMomentumBuffers()
        var tensors = head.stateArrays().map { (name: "head.\($0.name)", array: $0.array) }
        for (name, parameter) in head.namedParameters {
            guard let buffer = optimizer.momentumBuffers[name] else { continue }
            tensors.append((name: "momentum.\(name)", array: HostArray(floats: buffer, shape: parameter.shape)))
        }
        if let backbone { tensors += backbone.runningStatistics().map { (name: "backbone.\($0.name)", array: $0.array) } }
        try SafeTensors.write(tensors, metadata: ["completed_epochs": "\(completedEpochs)",
                                                     "last_loss": "\(lastLoss)", "last_accuracy": "\(lastAccuracy)"], to: url)
    }

    /// Restores what `saveCheckpoint(to:)` wrote.
    public func loadCheckpoint(from url: URL) throws {
        let file = try SafeTensors.read(contentsOf: url)
        guard let text = file.metadata["completed_epochs"], let epochs = Int(text), epochs >= 0 else {
            throw RunError("\(url.path): not a classifier checkpoint (no completed_epochs in its metadata)")
        }
        try head.load(file, prefix: "head.", strict: false)
        place.adopt(head)
        if let backbone {
            try backbone.adoptRunningStatistics(file, prefix: "backbone.")
            place.adopt(backbone.module)
        }
        for (name, _) in head.namedParameters {
            if let array = file["momentum.\(name)"] { optimizer.momentumBuffers[name] = array.floats() }
        }
        completedEpochs = epochs
        lastLoss = file.metadata["last_loss"].flatMap(Double.init) ?? .nan
        lastAccuracy = file.metadata["last_accuracy"].flatMap(Double.init) ?? .nan
    }
}
