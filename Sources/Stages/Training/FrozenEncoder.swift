import Foundation
import PipelineDSL
import Engine
import Datasets

/// A trained first-stage encoder as the second stage and the evaluation use it: frozen (no
/// gradients), giving pooled features of NHWC views — a CIFAR `SupConResNet` (64-d) or a
/// torchvision ResNet backbone from MoCo (512-d or 2048-d). Batch norm runs in eval mode, except
/// while a `backbone_batch_norm: train` classifier trains, which re-estimates the running
/// statistics; its artifact carries them (`ClassifierArtifact.statisticsFile`).
public enum FrozenEncoder {
    case cifar(SupConResNet)
    case torchvision(ResNetImageNet)

    /// Reads the artifact in `directory`.
    public static func read(from directory: URL) throws -> (artifact: EncoderArtifact, encoder: FrozenEncoder) {
        let artifact = try EncoderArtifact.metadata(in: directory)
        if artifact.isCIFAR { return (artifact, .cifar(try EncoderArtifact.read(from: directory).model)) }
        let url = directory.appendingPathComponent(EncoderArtifact.backboneFile)
        let (model, _) = try ResNetImageNet.loading(try SafeTensors.read(contentsOf: url))
        return (artifact, .torchvision(model))
    }

    /// The encoder among a running stage's inputs (the input of kind `encoder`).
    public static func input(of context: RunContext) throws -> (artifact: EncoderArtifact, encoder: FrozenEncoder) {
        guard let input = context.inputs.first(where: { $0.kind == "encoder" }) else {
            throw RunError("stage '\(context.stageName)' has no encoder input")
        }
        return try read(from: input.artifactDirectory)
    }

    /// The network, for `ExecutionPlace.adopt`.
    public var module: any Module {
        switch self {
        case let .cifar(model): return model
        case let .torchvision(model): return model
        }
    }

    /// The feature size (64, 512 or 2048).
    public var featureDimension: Int {
        switch self {
        case let .cifar(model): return model.encoder.featureDimension
        case let .torchvision(model): return model.architecture.featureDimension
        }
    }

    /// Features of NHWC views on the model's backend, no gradients. `batchStatistics`: batch norm
    /// normalises with the batch's statistics and updates the running ones (momentum 0.1), as a
    /// PyTorch module in `train()` mode; otherwise eval mode.
    public func features(_ images: Tensor, batchStatistics: Bool = false) -> Tensor {
        withoutGradients {
            switch self {
            case let .cifar(model): return model.features(images, training: batchStatistics)
            case let .torchvision(model): return model.features(images, training: batchStatistics)
            }
        }
    }

    /// The batch-norm running statistics (`running_mean`, `running_var`, `num_batches_tracked`)
    /// under the network's state names, in its order.
    public func runningStatistics() -> [(name: String, array: HostArray)] {
        let statistics = Set(module.state.compactMap { entry -> String? in
            if case .parameter = entry.item { return nil }
            return entry.name
        })
        return module.stateArrays().filter { statistics.contains($0.name) }
    }

    /// Replaces the running statistics with those `file` holds under `prefix` + each name (what
    /// `runningStatistics()` gave, written by a `backbone_batch_norm: train` classifier); every one
    /// must be there with its shape, and nothing changes unless all fit.
    /// - Throws: `CheckpointError` naming the file and what is missing or misshapen.
    public func adoptRunningStatistics(_ file: SafeTensorsFile, prefix: String = "") throws {
        var problems: [String] = []
        var assignments: [() -> Void] = []
        for (name, item) in module.state {
            if case .parameter = item { continue }
            guard let array = file[prefix + name] else { problems.append("missing '\(prefix + name)'"); continue }
            switch item {
            case .parameter:
                continue
            case let .runningMean(s), let .runningVariance(s):
                guard array.shape == s.runningMean.shape, array.dtype.isFloatingPoint else {
                    problems.append("'\(prefix + name)' is \(array.dtype.rawValue) \(array.shape), expected float \(s.runningMean.shape)"); continue
                }
                let t = Tensor(array.floats(), shape: array.shape)
                if case .runningMean = item { assignments.append { s.runningMean = t } } else { assignments.append { s.runningVariance = t } }
            case let .batchesTracked(s):
                guard array.count == 1, let v = try? array.int64s().first else {
                    problems.append("'\(prefix + name)' is \(array.dtype.rawValue) \(array.shape), expected one integer"); continue
                }
                assignments.append { s.batchesTracked = v }
            }
        }
        guard problems.isEmpty else { throw CheckpointError(path: file.path, problems: problems) }
        for assign in assignments { assign() }
    }

    /// The second stage's training views: the reference's RandomCrop(pad 4) + flip for a CIFAR
    /// ResNet; `linear_classify.py`'s RandomResizedCrop + flip for a torchvision one.
    public func trainingSteps(_ artifact: EncoderArtifact, images: LoadedImages) -> [AugmentationStep] {
        switch (self, images) {
        case let (.cifar, .memory(set)):
            return ClassifierFeatures.trainingSteps(for: artifact, height: set.height, width: set.width)
        default:
            return AugmentationStep.linearTrainingViews(size: artifact.imageSize, mean: artifact.mean.map(Double.init), std: artifact.std.map(Double.init))
        }
    }

    /// The deterministic views: the stored image (resized and centre-cropped if its side differs)
    /// for a CIFAR ResNet; Resize(side · 8/7) + CenterCrop for a torchvision one (256 / 224).
    public func evaluationSteps(_ artifact: EncoderArtifact, images: LoadedImages) -> [AugmentationStep] {
        switch (self, images) {
        case let (.cifar, .memory(set)):
            return ClassifierFeatures.evaluationSteps(for: artifact, height: set.height, width: set.width)
        default:
            return AugmentationStep.evaluationViews(size: artifact.imageSize, mean: artifact.mean.map(Double.init), std: artifact.std.map(Double.init))
        }
    }

    /// Checks that the data fit the encoder (channels; file data only for a torchvision ResNet).
    public func checkCompatible(_ images: LoadedImages, with artifact: EncoderArtifact, stage: String) throws {
        switch (self, images) {
        case let (.cifar, .memory(set)):
            try ClassifierFeatures.checkCompatible(set, with: artifact, stage: stage)
        case (.cifar, .files):
            throw RunError("stage '\(stage)': a CIFAR ResNet encoder needs equally sized images held in memory; this data set is kept as files")
        case let (.torchvision, .memory(set)) where set.channels != 3:
            throw RunError("stage '\(stage)': the data has \(set.channels)-channel images but the \(artifact.architecture ?? "") encoder takes RGB")
        default:
            return
        }
    }

    /// Features `[N, D]` of every image of `images` in order through `steps`, `batchSize` at a time.
    ///
    /// Image files are decoded at full size whatever their list allows (`dataset` stage's
    /// `decode`): these fixed views (Resize, CenterCrop) are what the run is scored on and what
    /// `predict` classifies, and as torchvision's PIL loader makes them; a DCT-reduced decode would
    /// shift every one of them by another low-pass filter (about half a top-1 point in
    /// docs/fidelity.md's end-to-end comparison).
    public func embed(_ images: any ImageSource, steps: [AugmentationStep], threads: Int, batchSize: Int = 256,
                      place: ExecutionPlace, progress: (Int, Int) -> Void = { _, _ in }) throws -> Tensor {
        var images = images
        if var list = images as? ImageFileList, list.dctScaling {
            list.dctScaling = false
            images = list
        }
        let pipeline = try AugmentationPipeline(steps: steps)
        let sampler = Sampler(kind: .sequential, labels: images.labels, classCount: images.classCount, seed: 0)
        let loader = try BatchLoader(source: images, pipeline: pipeline, sampler: sampler, batchSize: batchSize, seed: 0, threads: threads)
        var parts: [Tensor] = []
        for step in 0..<loader.stepsPerEpoch {
            let batch = try loader.batch(at: LoaderPosition(epoch: 0, step: step))
            parts.append(features(place.input(batch.images, shape: batch.shape)).moved(to: CPUBackend.shared))
            progress(step + 1, loader.stepsPerEpoch)
        }
        return Tensor.concat(parts, axis: 0)
    }
}
