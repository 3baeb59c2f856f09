import PipelineDSL
import Engine
import Datasets

/// The plan-time memory estimates of the training kinds (`StageKind.memoryEstimate`), from
/// `MemoryModel`'s counts and factors measured against peak RSS (docs/imagenet_lt.md, "Memory").
enum StageMemory {
    /// Bytes every run holds besides the networks: the runtime, the loader's prefetched batches,
    /// the data set's labels and file list (in-memory CIFAR or Fashion-MNIST pixels are < 200 MB).
    static let baseBytes = 384 << 20
    /// Saved activation floats → bytes of peak RSS: 4 bytes each, times what the backward pass adds
    /// on top of what the forward keeps (gradients of the live layer, im2col workspaces, allocator
    /// slack), measured.
    static let trainingActivationFactor = 1.05
    /// Eval-mode forward without gradients: live layers per image relative to the largest one.
    static let inferenceLayerFactor = 3.0

    /// The side of the views a stage trains on: the augmentation's `size`, else the data set's own
    /// (28 for (Fashion-)MNIST, 32 for CIFAR); 224 for file data sets, whose images vary.
    static func viewSide(_ query: MemoryQuery, augmentation: StageSpec?) -> Int {
        if let augmentation, case let size = AugmentationStage.Settings(augmentation.parameters).size, size > 0 { return size }
        switch source(query) {
        case .fashionMNIST, .mnist: return 28
        case .cifar10, .cifar100: return 32
        case .imagenetLT, .imageFolder, nil: return 224
        }
    }

    /// Image channels of the encoder's data (1 for (Fashion-)MNIST, else 3).
    static func channels(_ query: MemoryQuery) -> Int {
        [.fashionMNIST, .mnist].contains(source(query)) ? 1 : 3
    }

    /// The `source` of the dataset stage the stage's `data` input comes from (through any
    /// `imbalance` stages).
    static func source(_ query: MemoryQuery) -> DatasetKind? {
        var data = query.input("data")
        while let stage = data, stage.kind != DatasetStage.name { data = query.input("data", of: stage) }
        return data.map { DatasetStage.Settings($0.parameters).source }
    }

    /// The `encoder` kind's estimate: one process's share of the batch through the trained network
    /// (both views for SupCon; the queries for MoCo, whose keys run without gradients), weights
    /// with gradients and momentum, and for MoCo the key encoder, the queue and the logits.
    static func encoder(_ query: MemoryQuery) throws -> MemoryEstimate? {
        let settings = EncoderStage.Settings(query.spec.parameters)
        let side = viewSide(query, augmentation: query.input("augmentation"))
        let perRank = (settings.batchSize + query.ranks - 1) / query.ranks
        let network: MemoryModel.Network
        var moco: (keys: Int, queue: Int)? = nil
        if let architecture = settings.architecture.imageNet {
            network = MemoryModel.resnetImageNet(architecture, side: side, projection: settings.projectionDimension)
            moco = (keys: perRank, queue: settings.queueSize)
        } else {
            network = MemoryModel.resnetCIFAR(depth: settings.depth, side: side, channels: channels(query), projection: settings.projectionDimension)
        }
        let trainedImages = moco == nil ? 2 * perRank : perRank
        // In floating point, clamped: the recipe's ranges keep real settings far from Int's range,
        // and an absurd one must read as "too large", never trap.
        let activations = bytes(4 * Double(network.savedFloats) * Double(trainedImages) * trainingActivationFactor)
        var weights = bytes(4 * 3 * Double(network.parameters))
        var extra = 0
        if let moco {
            weights = bytes(Double(weights) + 4 * Double(network.parameters))
            let logits = 4 * 3 * Double(perRank) * Double(1 + moco.queue)
            let queue = 4 * Double(settings.projectionDimension) * Double(moco.queue) * 2
            let keys = Double(bytes(4 * Double(network.largestFloats) * Double(moco.keys) * inferenceLayerFactor))
            extra = bytes(logits + queue + keys)
        }
        let total = bytes(Double(baseBytes) + Double(activations) + Double(weights) + Double(extra))
        var parts = ["activations \(MemoryEstimate.format(activations)) (\(trainedImages) images of \(side)×\(side) with gradients)",
                     "weights and optimiser \(MemoryEstimate.format(weights))"]
        if moco != nil { parts.append("keys, queue and logits \(MemoryEstimate.format(extra))") }
        let ranks = query.ranks == 1 ? "" : " on each of \(query.ranks) ranks"
        return MemoryEstimate(
            bytes: total, breakdown: parts.joined(separator: ", ") + ranks,
            advice: "lower stages.\(query.spec.name).batch_size (activations scale with it), lower the image size "
                + "(the augmentation stage's size), or spread the batch over more ranks (mpirun -np N sbcl-run ...)")
    }

    /// The `classifier` kind's estimate where it embeds fresh views through a torchvision ResNet
    /// every step (ImageNet-LT's second stage): no gradients, so the largest layers of one batch,
    /// not every layer, are live (with `backbone_batch_norm: train` too: batch statistics keep no
    /// activations, only a mean and a scale per channel).
    static func classifier(_ query: MemoryQuery) throws -> MemoryEstimate? {
        guard let encoder = query.input("encoder") else { return nil }
        let encoderSettings = EncoderStage.Settings(encoder.parameters)
        guard let architecture = encoderSettings.architecture.imageNet else { return nil }
        let network = MemoryModel.resnetImageNet(architecture, side: viewSide(query, augmentation: query.input("augmentation", of: encoder)),
                                                 projection: encoderSettings.projectionDimension)
        let perRank = (ClassifierConfiguration(query.spec.parameters).batchSize + query.ranks - 1) / query.ranks
        let live = bytes(4 * Double(network.largestFloats) * Double(perRank) * inferenceLayerFactor)
        let weights = bytes(4 * Double(network.parameters))
        return MemoryEstimate(
            bytes: bytes(Double(baseBytes) + Double(live) + Double(weights)),
            breakdown: "live layers \(MemoryEstimate.format(live)) (\(perRank) images, no gradients), backbone \(MemoryEstimate.format(weights))",
            advice: "lower stages.\(query.spec.name).batch_size, or spread it over more ranks (mpirun -np N sbcl-run ...)")
    }

    /// A byte count computed in floating point, clamped to what an `Int` holds.
    static func bytes(_ value: Double) -> Int {
        value < Double(Int.max) ? Int(value) : Int.max
    }
}
