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
            throw RunError("init_weights \(url.path): cannot start from these weights: \(error)")
        }
    }

    /// Loads the weights in `url` into a MoCo model and returns a line saying what was read:
    /// a MoCo state dict (the authors' `moco/main.py` checkpoint: `encoder_q.*`, and `encoder_k.*`
    /// when present, else the key encoder starts as a copy of the query encoder, as MoCo starts),
    /// or a torchvision ResNet of the same depth (a released backbone, `linear_classify.py`'s
    /// model): its backbone goes into both encoders and the projection heads keep their seeded
    /// values. The queue keeps its seeded values. Nothing changes unless every tensor fits.
    /// - Throws: `RunError` naming the file and what does not fit.
    @discardableResult
    public static func load(_ url: URL, into moco: MoCo) throws -> String {
        do {
            let weights = try WeightsFile.load(contentsOf: url)
            let file = weights.arrays
            var merged = Dictionary(uniqueKeysWithValues: moco.stateArrays().map { ($0.name, $0.array) })
            let backboneNames = moco.encoderQuery.backboneArrays().map(\.name)
            let said: String
            if file["encoder_q.conv1.weight"] != nil {
                let keyPrefix = file["encoder_k.conv1.weight"] != nil ? "encoder_k." : "encoder_q."
                for (name, _) in moco.encoderQuery.stateArrays() {
                    guard let q = file["encoder_q." + name], let k = file[keyPrefix + name] else {
                        throw CheckpointError(path: url.path, problems: ["missing 'encoder_q.\(name)' (\(weights.description))"])
                    }
                    merged["encoder_q." + name] = q
                    merged["encoder_k." + name] = k
                }
                said = keyPrefix == "encoder_k." ? "both MoCo encoders" : "the query encoder, copied into the key encoder"
            } else if ResNetImageNet.Architecture(stateNames: Set(file.names)) != nil {
                for name in backboneNames {
                    guard let array = file[name] else {
                        throw CheckpointError(path: url.path, problems: ["missing '\(name)' of the torchvision backbone (\(weights.description))"])
                    }
                    merged["encoder_q." + name] = array
                    merged["encoder_k." + name] = array
                }
                said = "a torchvision backbone in both encoders (the projection heads keep their initial values)"
            } else {
                throw CheckpointError(path: url.path, problems: [
                    "neither a MoCo state dict (encoder_q.*) nor a torchvision resnet18/34/50 (\(weights.description))"])
            }
            try moco.load(SafeTensorsFile(path: url.path, tensors: merged.map { ($0.key, $0.value) }), strict: true)
            return "initial weights from \(url.path): \(weights.description); \(said)"
        } catch {
            throw RunError("init_weights \(url.path): cannot start from these weights: \(error)")
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
