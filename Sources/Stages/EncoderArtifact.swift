import Foundation
import PipelineDSL
import Engine

/// The artifact of an `encoder` stage: the trained first-stage network and what a second stage
/// needs to feed it the same way it was trained.
///
/// `encoder.safetensors` is the reference `SupConResNet` state dict (loads into PyTorch);
/// `encoder.json` holds the architecture and the per-channel normalisation of the inputs.
public struct EncoderArtifact: Sendable, Equatable, Codable {
    /// CIFAR ResNet depth (20, 32, 44, 56, 110).
    public var depth: Int
    /// Image channels the first convolution takes.
    public var inputChannels: Int
    /// Projection size of the head (128).
    public var projectionDimension: Int
    /// Per-channel mean and standard deviation the training views were normalised with.
    public var mean: [Float], std: [Float]
    /// Image side the encoder was trained on.
    public var imageSize: Int

    public static let weightsFile = "encoder.safetensors"
    public static let metadataFile = "encoder.json"

    public init(depth: Int, inputChannels: Int, projectionDimension: Int, mean: [Float], std: [Float], imageSize: Int) {
        self.depth = depth
        self.inputChannels = inputChannels
        self.projectionDimension = projectionDimension
        self.mean = mean
        self.std = std
        self.imageSize = imageSize
    }

    /// Writes the weights and the metadata into `directory`.
    public func write(model: SupConResNet, to directory: URL) throws {
        try model.save(to: directory.appendingPathComponent(Self.weightsFile), metadata: ["format": "pt"])
        try ArtifactJSON.write(self, to: directory.appendingPathComponent(Self.metadataFile))
    }

    /// Reads the metadata and the trained network from `directory`.
    public static func read(from directory: URL) throws -> (artifact: EncoderArtifact, model: SupConResNet) {
        let artifact = try ArtifactJSON.read(EncoderArtifact.self, from: directory.appendingPathComponent(metadataFile),
                                             artifact: "encoder", contents: "encoder metadata")
        let model = try SupConResNet(checkpoint: SafeTensors.read(contentsOf: directory.appendingPathComponent(weightsFile)))
        return (artifact, model)
    }

    /// The encoder among a running stage's inputs (the input of kind `encoder`).
    public static func input(of context: RunContext) throws -> (artifact: EncoderArtifact, model: SupConResNet) {
        guard let input = context.inputs.first(where: { $0.kind == "encoder" }) else {
            throw RunError("stage '\(context.stageName)' has no encoder input")
        }
        return try read(from: input.artifactDirectory)
    }
}
