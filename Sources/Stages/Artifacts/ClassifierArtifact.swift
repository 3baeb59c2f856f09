import Foundation
import Engine
import PipelineDSL

/// The artifact of a `classifier` stage: the trained head and what it was trained on.
///
/// `classifier.safetensors` holds the head with the reference's names (`weight` of `NormedLinear`,
/// or `fc.weight` / `fc.bias` of `LinearClassifier`); `classifier.json` says which form it is and
/// how training ended. A head trained with `backbone_batch_norm: train` also leaves
/// `backbone_statistics.safetensors`: the backbone's batch-norm running statistics as training
/// re-estimated them, which the evaluation, `predict` and `export` put into the encoder.
public struct ClassifierArtifact: Sendable, Equatable, Codable {
    /// The method (`ldam_drw`, `cb`, `ce`).
    public var method: String
    /// `cosine` or `linear`.
    public var form: String
    /// Feature size and number of classes.
    public var featureCount: Int, classCount: Int
    /// Epochs trained.
    public var epochs: Int
    /// The last epoch's mean loss and training accuracy (%).
    public var finalLoss: Double, finalTrainAccuracy: Double
    /// Training images per class (LDAM's counts).
    public var classCounts: [Int]
    /// `train` when the backbone's batch norm ran on batch statistics while the head trained (its
    /// re-estimated running statistics are in `statisticsFile`); nil: eval mode, the encoder's own.
    public var backboneBatchNorm: String?

    public static let weightsFile = "classifier.safetensors"
    public static let metadataFile = "classifier.json"
    /// The backbone's running statistics after a `backbone_batch_norm: train` run.
    public static let statisticsFile = "backbone_statistics.safetensors"

    /// Describes a trained head.
    public init(method: String, form: String, featureCount: Int, classCount: Int, epochs: Int,
                finalLoss: Double, finalTrainAccuracy: Double, classCounts: [Int], backboneBatchNorm: String? = nil) {
        self.backboneBatchNorm = backboneBatchNorm
        self.method = method
        self.form = form
        self.featureCount = featureCount
        self.classCount = classCount
        self.epochs = epochs
        self.finalLoss = finalLoss
        self.finalTrainAccuracy = finalTrainAccuracy
        self.classCounts = classCounts
    }

    /// Writes the head's weights and this description into `directory`, with the backbone's
    /// running statistics when `backboneBatchNorm` is `train`.
    public func write(head: ClassifierHead, backbone: FrozenEncoder? = nil, to directory: URL) throws {
        try head.save(to: directory.appendingPathComponent(Self.weightsFile), metadata: ["format": "pt", "form": form])
        if backboneBatchNorm == BackboneBatchNorm.train.rawValue {
            guard let backbone else { preconditionFailure("ClassifierArtifact.write: backbone_batch_norm train without the backbone") }
            try SafeTensors.write(backbone.runningStatistics(), metadata: ["format": "pt"],
                                  to: directory.appendingPathComponent(Self.statisticsFile))
        }
        try ArtifactJSON.write(self, to: directory.appendingPathComponent(Self.metadataFile))
    }

    /// Puts the running statistics a `backbone_batch_norm: train` head was trained with (in
    /// `directory`, the classifier's artifact) into `encoder`; nothing for an eval-mode head.
    /// - Throws: `RunError` when the artifact says `train` but the file is missing, or
    ///   `CheckpointError` when it does not fit the encoder.
    public func adoptBackboneStatistics(from directory: URL, into encoder: FrozenEncoder) throws {
        guard backboneBatchNorm == BackboneBatchNorm.train.rawValue else { return }
        let url = directory.appendingPathComponent(Self.statisticsFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RunError("\(directory.path): the classifier was trained with backbone_batch_norm: train but \(Self.statisticsFile) is missing; run sbcl-run cache verify")
        }
        try encoder.adoptRunningStatistics(SafeTensors.read(contentsOf: url))
    }

    /// Reads the description and the head from `directory`.
    public static func read(from directory: URL) throws -> (artifact: ClassifierArtifact, head: ClassifierHead) {
        let url = directory.appendingPathComponent(metadataFile)
        let artifact = try ArtifactJSON.read(ClassifierArtifact.self, from: url, artifact: "classifier", contents: "classifier metadata")
        guard let form = ClassifierHead.Form(rawValue: artifact.form) else {
            throw RunError("\(url.path): unknown classifier form '\(artifact.form)' (expected cosine or linear)")
        }
        let head = ClassifierHead(form: form, featureCount: artifact.featureCount, classCount: artifact.classCount, seed: 0)
        try head.load(contentsOf: directory.appendingPathComponent(weightsFile))
        return (artifact, head)
    }

    /// The classifier among a running stage's inputs (the input of kind `classifier`).
    public static func input(of context: RunContext) throws -> (artifact: ClassifierArtifact, head: ClassifierHead) {
        try read(from: inputDirectory(of: context))
    }

    /// The artifact folder of the classifier among a running stage's inputs.
    public static func inputDirectory(of context: RunContext) throws -> URL {
        guard let input = context.inputs.first(where: { $0.kind == "classifier" }) else {
            throw RunError("stage '\(context.stageName)' has no classifier input")
        }
        return input.artifactDirectory
    }
}
