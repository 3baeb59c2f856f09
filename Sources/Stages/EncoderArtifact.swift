import Foundation
import PipelineDSL
import Engine

/// The artifact of an `encoder` stage: the trained first-stage network and what a second stage
/// needs to feed it the same way it was trained.
///
/// A CIFAR ResNet: `encoder.safetensors` is the reference `SupConResNet` state dict (loads into
/// PyTorch). A torchvision ResNet trained in MoCo: `encoder.safetensors` is the reference `MoCo`
/// state dict (`encoder_q.*`, `encoder_k.*`, `queue`, ...) and `backbone.safetensors` the query
/// encoder without `fc` under torchvision's names (what `linear_classify.py` loads).
/// `encoder.json` holds the architecture and the per-channel normalisation of the inputs.
public struct EncoderArtifact: Sendable, Equatable, Codable {
    /// `resnet18`, `resnet34` or `resnet50` (MoCo); nil for a CIFAR ResNet (files from before
    /// torchvision ResNets have none).
    public var architecture: String?
    /// CIFAR ResNet depth (20, 32, 44, 56, 110); the torchvision depth otherwise.
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
    public static let backboneFile = "backbone.safetensors"
    public static let metadataFile = "encoder.json"

    public init(depth: Int, inputChannels: Int, projectionDimension: Int, mean: [Float], std: [Float], imageSize: Int) {
        self.depth = depth
        self.inputChannels = inputChannels
        self.projectionDimension = projectionDimension
        self.mean = mean
        self.std = std
        self.imageSize = imageSize
    }

    /// A torchvision ResNet's artifact (RGB images).
    public init(architecture: String, projectionDimension: Int, mean: [Float], std: [Float], imageSize: Int) {
        self.init(depth: Int(architecture.dropFirst("resnet".count)) ?? 0, inputChannels: 3, projectionDimension: projectionDimension,
                  mean: mean, std: std, imageSize: imageSize)
        self.architecture = architecture
    }

    /// Whether it holds a CIFAR ResNet (`SupConResNet`).
    public var isCIFAR: Bool { architecture == nil || architecture == EncoderStage.Architecture.resnetCIFAR.rawValue }

    /// Writes a MoCo model (its whole state, and the query encoder's backbone) and the metadata.
    public func write(moco: MoCo, to directory: URL) throws {
        try moco.saveCheckpoint(to: directory.appendingPathComponent(Self.weightsFile), metadata: ["format": "pt"])
        try moco.exportBackbone(to: directory.appendingPathComponent(Self.backboneFile), metadata: ["format": "pt"])
        try ArtifactJSON.write(self, to: directory.appendingPathComponent(Self.metadataFile))
    }

    /// Writes the weights and the metadata into `directory`.
    public func write(model: SupConResNet, to directory: URL) throws {
        try model.save(to: directory.appendingPathComponent(Self.weightsFile), metadata: ["format": "pt"])
        try ArtifactJSON.write(self, to: directory.appendingPathComponent(Self.metadataFile))
    }

    /// Reads the metadata and the trained network from `directory`.
    public static func read(from directory: URL) throws -> (artifact: EncoderArtifact, model: SupConResNet) {
        let artifact = try metadata(in: directory)
        guard artifact.isCIFAR else {
            throw RunError("\(directory.path) holds a MoCo \(artifact.architecture ?? "") encoder, not a CIFAR ResNet")
        }
        let model = try SupConResNet(checkpoint: SafeTensors.read(contentsOf: directory.appendingPathComponent(weightsFile)))
        return (artifact, model)
    }

    /// The metadata of the artifact in `directory`.
    public static func metadata(in directory: URL) throws -> EncoderArtifact {
        try ArtifactJSON.read(EncoderArtifact.self, from: directory.appendingPathComponent(metadataFile),
                              artifact: "encoder", contents: "encoder metadata")
    }

    /// The encoder among a running stage's inputs (the input of kind `encoder`).
    public static func input(of context: RunContext) throws -> (artifact: EncoderArtifact, model: SupConResNet) {
        guard let input = context.inputs.first(where: { $0.kind == "encoder" }) else {
            throw RunError("stage '\(context.stageName)' has no encoder input")
        }
        return try read(from: input.artifactDirectory)
    }
}
