import Foundation
import Engine
import Datasets
import PipelineDSL

/// A trained encoder and classifier with what it takes to feed them a new image the way the run
/// evaluated its test set: the architecture's test-time views, the per-channel normalisation, the
/// image size and channels, and the class names.
package struct PredictionModel {
    /// The frozen encoder (eval mode).
    package let encoder: FrozenEncoder
    /// Its metadata: architecture, input channels, image size, mean and standard deviation.
    package let encoderArtifact: EncoderArtifact
    /// The second-stage classifier.
    package let head: ClassifierHead
    /// One name per class, in the classifier's order.
    package let classNames: [String]
    /// Where the model came from, for the user (run folder and stage hashes, or the weights file).
    package let source: String
    /// The factor the logits are multiplied by before the softmax that gives probabilities: the
    /// LDAM scale s the cosine classifier was trained with (its logits are cosines in [−1, 1]),
    /// 1 for a linear classifier. It changes no prediction, only the probabilities.
    package let logitScale: Double

    /// A model from its parts; `classNames` must have one name per class of `head`.
    package init(encoder: FrozenEncoder, encoderArtifact: EncoderArtifact, head: ClassifierHead, classNames: [String], source: String,
                logitScale: Double = 1) {
        precondition(classNames.count == head.classCount, "PredictionModel: \(classNames.count) names for \(head.classCount) classes")
        self.encoder = encoder
        self.encoderArtifact = encoderArtifact
        self.head = head
        self.classNames = classNames
        self.source = source
        self.logitScale = logitScale
    }

    /// The steps from a decoded image to the encoder's input: the evaluation stage's views. A CIFAR
    /// ResNet: resize the shorter side to the training size and centre-crop (both nothing when the
    /// image already has that size, as the run's test images do), then normalise; a torchvision
    /// ResNet: Resize(size · 8/7), CenterCrop(size), normalise.
    package var viewSteps: [AugmentationStep] {
        let a = encoderArtifact
        let mean = a.mean.map(Double.init), std = a.std.map(Double.init)
        if a.isCIFAR {
            return [.resize(size: a.imageSize), .centerCrop(size: a.imageSize), .normalize(mean: mean, std: std)]
        }
        return AugmentationStep.evaluationViews(size: a.imageSize, mean: mean, std: std)
    }

    /// The model a run folder evaluated: the `encoder` and `classifier` stages that its
    /// `evaluation` stage took as inputs (else its first classifier and that classifier's encoder),
    /// read from the cache that holds their artifacts; class names from the run's `metrics.json`.
    /// - Throws: `RunError` naming the run folder or the missing cache entry.
    package static func fromRun(_ runDirectory: URL, cache: ArtifactCache) throws -> PredictionModel {
        let planURL = runDirectory.appendingPathComponent("plan.json")
        guard let data = FileManager.default.contents(atPath: planURL.path) else {
            throw RunError("\(runDirectory.path) is not a run folder: it has no plan.json")
        }
        guard let plan = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let stages = plan["stages"] as? [[String: Any]] else {
            throw RunError("\(planURL.path) is not a plan written by sbcl-run (no \"stages\" list)")
        }
        func stage(named name: String) -> [String: Any]? { stages.first { $0["name"] as? String == name } }
        func inputs(_ s: [String: Any]) -> [[String: Any]] {
            ((s["inputs"] as? [Any]) ?? []).compactMap { item in
                if let name = item as? String { return stage(named: name) }
                if let entry = item as? [String: Any], let name = (entry["stage"] ?? entry["name"]) as? String { return stage(named: name) }
                return nil
            }
        }
        let evaluation = stages.first { $0["kind"] as? String == "evaluation" }
        let classifierStage = evaluation.flatMap { inputs($0).first { $0["kind"] as? String == "classifier" } }
            ?? stages.first { $0["kind"] as? String == "classifier" }
        guard let classifierStage else {
            throw RunError("\(runDirectory.path): the run has no classifier stage, so there is nothing to predict with")
        }
        let encoderStage = (evaluation.flatMap { inputs($0).first { $0["kind"] as? String == "encoder" } })
            ?? inputs(classifierStage).first { $0["kind"] as? String == "encoder" }
        guard let encoderStage else { throw RunError("\(runDirectory.path): the classifier stage has no encoder input in plan.json") }

        func artifact(_ s: [String: Any]) throws -> URL {
            let name = s["name"] as? String ?? "?", hash = s["hash"] as? String ?? ""
            switch cache.state(of: hash) {
            case .valid: return cache.filesDirectory(hash)
            case .missing:
                throw RunError("\(runDirectory.path): stage '\(name)' (\(hash.prefix(12))) is not in the cache at \(cache.root.path); give the cache the run used with --cache-dir, or rerun the recipe")
            case let .damaged(why):
                throw RunError("\(runDirectory.path): the cache entry of stage '\(name)' is damaged (\(why)); run sbcl-run cache verify")
            }
        }
        let (encoderArtifact, encoder) = try FrozenEncoder.read(from: artifact(encoderStage))
        let classifierDirectory = try artifact(classifierStage)
        let (classifierArtifact, head) = try ClassifierArtifact.read(from: classifierDirectory)
        // The running statistics a `backbone_batch_norm: train` head was trained with (so `export` writes them too).
        try classifierArtifact.adoptBackboneStatistics(from: classifierDirectory, into: encoder)
        var names = (0..<head.classCount).map { "class \($0)" }
        if let metrics = FileManager.default.contents(atPath: runDirectory.appendingPathComponent("metrics.json").path),
           let object = try? JSONSerialization.jsonObject(with: metrics) as? [String: Any],
           let listed = object["class_names"] as? [String], listed.count == head.classCount {
            names = listed
        }
        let classifierName = classifierStage["name"] as? String ?? ""
        return PredictionModel(encoder: encoder, encoderArtifact: encoderArtifact, head: head, classNames: names,
                               source: "run \(runDirectory.path) (encoder '\(encoderStage["name"] as? String ?? "")', classifier '\(classifierName)')",
                               logitScale: head.form == .cosine ? trainingScale(runDirectory, stage: classifierName) : 1)
    }

    /// The classifier stage's `scale` in the run's resolved `recipe.yaml` (30, the default, when
    /// the file or the key is absent).
    static func trainingScale(_ runDirectory: URL, stage: String) -> Double {
        guard let data = FileManager.default.contents(atPath: runDirectory.appendingPathComponent("recipe.yaml").path),
              let root = try? YAMLLoader.load(data: data, file: "recipe.yaml"),
              let stages = root.entries?.first(where: { $0.key == "stages" })?.value,
              let classifier = stages.entries?.first(where: { $0.key == stage })?.value,
              case let .scalar(text, _, _)? = classifier.entries?.first(where: { $0.key == "scale" })?.value,
              let value = Double(text), value > 0 else { return 30 }
        return value
    }
}
