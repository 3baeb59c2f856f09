import Foundation
import Engine
import PipelineDSL

/// The artifact of a `classifier` stage: the trained head and what it was trained on.
///
/// `classifier.safetensors` holds the head with the reference's names (`weight` of `NormedLinear`,
/// or `fc.weight` / `fc.bias` of `LinearClassifier`); `classifier.json` says which form it is and
/// how training ended.
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

    public static let weightsFile = "classifier.safetensors"
    public static let metadataFile = "classifier.json"

    /// Describes a trained head.
    public init(method: String, form: String, featureCount: Int, classCount: Int, epochs: Int,
                finalLoss: Double, finalTrainAccuracy: Double, classCounts: [Int]) {
        self.method = method
        self.form = form
        self.featureCount = featureCount
        self.classCount = classCount
        self.epochs = epochs
        self.finalLoss = finalLoss
        self.finalTrainAccuracy = finalTrainAccuracy
        self.classCounts = classCounts
    }

    /// Writes the head's weights and this description into `directory`.
    public func write(head: ClassifierHead, to directory: URL) throws {
        try head.save(to: directory.appendingPathComponent(Self.weightsFile), metadata: ["format": "pt", "form": form])
        try ArtifactJSON.write(self, to: directory.appendingPathComponent(Self.metadataFile))
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
        guard let input = context.inputs.first(where: { $0.kind == "classifier" }) else {
            throw RunError("stage '\(context.stageName)' has no classifier input")
        }
        return try read(from: input.artifactDirectory)
    }
}
