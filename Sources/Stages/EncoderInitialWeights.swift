import Foundation
import Engine
import PipelineDSL

/// The weights a CIFAR ResNet encoder starts training from instead of its seed's initialisation:
/// a `SupConResNet` state dict in a safetensors file or a PyTorch checkpoint (see `WeightsFile`):
/// the authors' `SimCLR/main.py` output (`module.encoder.*`, `module.head.*`), a bare state dict,
/// or one under `model.` as this package's training checkpoints hold it.
public enum EncoderInitialWeights {
    /// Loads the weights in `url` into `model` and returns a line saying what was read; nothing
    /// changes unless every tensor fits.
    /// - Throws: `RunError` naming the file and what does not fit.
    @discardableResult
    public static func load(_ url: URL, into model: SupConResNet) throws -> String {
        do {
            let weights = try WeightsFile.load(contentsOf: url)
            let file = weights.arrays
            let prefix = ["", "model."].first { file[$0 + "encoder.conv1.weight"] != nil }
            guard let prefix else {
                throw CheckpointError(path: url.path, problems: [
                    "no 'encoder.conv1.weight' (nor under 'model.'): not a CIFAR SupConResNet state dict (\(weights.description))"])
            }
            try model.load(file, prefix: prefix)
            return "initial weights from \(url.path): \(weights.description)" + (prefix.isEmpty ? "" : ", names under '\(prefix)'")
        } catch {
            throw RunError("initial weights \(url.path): cannot start from these weights: \(error)")
        }
    }

    /// The file's SHA-256 digest (hex): what enters the stage's hash, so other weights under the
    /// same name make another artifact.
    /// - Throws: `RunError` when the file cannot be read.
    public static func digest(of url: URL) throws -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RunError("initial weights: \(url.path) does not exist or cannot be read")
        }
        return Planner.sha256Hex(data)
    }
}
