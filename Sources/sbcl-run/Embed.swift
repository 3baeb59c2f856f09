import Foundation
import Engine
import PipelineDSL

/// `sbcl-run embed --weights W.safetensors|W.pth[.tar] --input X.npy --output F.npy [--projection]
/// [--encoder key|query] [--batch N] [--threads N]`: X is float32 N×C×H×W, already normalised.
///
/// The weights say the model: a CIFAR `SupConResNet` checkpoint (F is N×64 encoder features, or
/// N×128 normalised projections with `--projection`); a MoCo checkpoint (`encoder_q.*`,
/// `encoder_k.*`; the key encoder by default when both are there, as the reference embeds for
/// re-clustering, else the one there); or a
/// torchvision resnet18/34/50 state dict (F is the pooled backbone features, 512 or 2048 wide;
/// `--projection` needs an MLP head `fc.0`/`fc.2`).
func runEmbed(_ arguments: [String]) throws {
    var weights: String?, input: String?, output: String?, projection = false, batch = 256, encoder: String?
    var i = 0
    func value() throws -> String {
        i += 1
        guard i < arguments.count else { throw UsageError("embed: \(arguments[i - 1]) needs a value") }
        return arguments[i]
    }
    while i < arguments.count {
        switch arguments[i] {
        case "--weights": weights = try value()
        case "--input": input = try value()
        case "--output": output = try value()
        case "--projection": projection = true
        case "--encoder":
            let choice = try value()
            guard ["key", "query"].contains(choice) else { throw UsageError("embed: --encoder needs key or query, got '\(choice)'") }
            encoder = choice
        case "--batch":
            guard let b = Int(try value()), b > 0 else { throw UsageError("embed: --batch needs a positive integer") }
            batch = b
        case "--threads":
            guard let t = Int(try value()), t > 0 else { throw UsageError("embed: --threads needs a positive integer") }
            CPUThreads.set(t)
        default:
            throw UsageError("embed: unknown option '\(arguments[i])'; usage: sbcl-run embed --weights W.safetensors|W.pth --input X.npy --output F.npy [--projection] [--encoder key|query]")
        }
        i += 1
    }
    guard let weights, let input, let output else {
        throw UsageError("embed: --weights, --input and --output are required; usage: sbcl-run embed --weights W.safetensors|W.pth --input X.npy --output F.npy [--projection] [--encoder key|query]")
    }
    // A safetensors file or a PyTorch checkpoint, in any of the authors' forms (see WeightsFile).
    let weightsFile = try WeightsFile.load(contentsOf: URL(fileURLWithPath: weights))
    let file = weightsFile.arrays
    FileHandle.standardError.write(Data("embed: \(weights): \(weightsFile.description)\n".utf8))
    let embed: (Tensor) -> Tensor, channels: Int
    if file["encoder.conv1.weight"] != nil || file["head.2.weight"] != nil {
        let model = try SupConResNet(checkpoint: file)
        channels = model.encoder.conv1.weight.shape[1]
        embed = { Embedding.embed(model: model, nchw: $0, projection: projection, batch: batch) }
    } else {
        let moco = try weightsFile.mocoEncoder(preferred: encoder)
        if let note = moco?.note { FileHandle.standardError.write(Data("embed: \(note)\n".utf8)) }
        let prefix = moco?.prefix ?? ""
        let (model, _) = try ResNetImageNet.loading(file, prefix: prefix)
        if projection && model.fcHidden == nil {
            throw CheckpointError(path: weights, problems: [
                "--projection needs a projection head ('\(prefix)fc.0.weight' and '\(prefix)fc.2.weight', MoCo's MLP); "
                    + "this ResNet has \(file[prefix + "fc.weight"] == nil ? "no fc" : "a classifier fc") — drop --projection for backbone features"])
        }
        channels = model.conv1.weight.shape[1]
        embed = { Embedding.embed(model: model, nchw: $0, projection: projection, batch: batch) }
    }
    let x = try NPY.read(contentsOf: URL(fileURLWithPath: input))
    guard x.dtype.isFloatingPoint, x.shape.count == 4, x.shape[1] == channels else {
        throw TensorFileError(path: input, kind: .inconsistent,
                              message: "expected a float32 array N×\(channels)×H×W (NCHW, normalised), found \(x.dtype.rawValue) \(x.shape)")
    }
    let features = embed(Tensor(x.floats(), shape: x.shape))
    try NPY.write(HostArray(floats: features.scalars, shape: features.shape), to: URL(fileURLWithPath: output))
}
