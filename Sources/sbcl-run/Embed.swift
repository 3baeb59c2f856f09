import Foundation
import Engine
import PipelineDSL

/// `sbcl-run embed --weights W.safetensors --input X.npy --output F.npy [--projection]
/// [--batch N] [--threads N]`: X is float32 N×C×H×W, already normalised; F is N×64 encoder
/// features, or N×128 normalised projections with `--projection`.
func runEmbed(_ arguments: [String]) throws {
    var weights: String?, input: String?, output: String?, projection = false, batch = 256
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
        case "--batch":
            guard let b = Int(try value()), b > 0 else { throw UsageError("embed: --batch needs a positive integer") }
            batch = b
        case "--threads":
            guard let t = Int(try value()), t > 0 else { throw UsageError("embed: --threads needs a positive integer") }
            CPUThreads.set(t)
        default:
            throw UsageError("embed: unknown option '\(arguments[i])'; usage: sbcl-run embed --weights W.safetensors --input X.npy --output F.npy [--projection]")
        }
        i += 1
    }
    guard let weights, let input, let output else {
        throw UsageError("embed: --weights, --input and --output are required; usage: sbcl-run embed --weights W.safetensors --input X.npy --output F.npy [--projection]")
    }
    let model = try SupConResNet(checkpoint: SafeTensors.read(contentsOf: URL(fileURLWithPath: weights)))
    let x = try NPY.read(contentsOf: URL(fileURLWithPath: input))
    let channels = model.encoder.conv1.weight.shape[1]
    guard x.dtype.isFloatingPoint, x.shape.count == 4, x.shape[1] == channels else {
        throw TensorFileError(path: input, kind: .inconsistent,
                              message: "expected a float32 array N×\(channels)×H×W (NCHW, normalised), found \(x.dtype.rawValue) \(x.shape)")
    }
    let features = Embedding.embed(model: model, nchw: Tensor(x.floats(), shape: x.shape), projection: projection, batch: batch)
    try NPY.write(HostArray(floats: features.scalars, shape: features.shape), to: URL(fileURLWithPath: output))
}
