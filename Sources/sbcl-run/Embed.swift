import ArgumentParser
import Engine
import Foundation
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
struct EmbedCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "Embed images (a float32 N×C×H×W .npy, normalised) with a trained encoder's weights.")

    @Option(help: ArgumentHelp("The encoder's weights: safetensors, or a PyTorch checkpoint (.pth, .pth.tar) in any of the authors' forms.", valueName: "file"))
    var weights: String

    @Option(help: ArgumentHelp("The images: float32 N×C×H×W (.npy), normalised.", valueName: "file"))
    var input: String

    @Option(help: ArgumentHelp("The features to write (.npy).", valueName: "file"))
    var output: String

    @Flag(help: "Normalised projections instead of encoder features.")
    var projection = false

    @Option(help: ArgumentHelp("A MoCo checkpoint's key or query encoder (default: the key encoder when both are there, else the one there).", valueName: "key|query"), transform: OptionValue.encoder)
    var encoder: String?

    @Option(help: ArgumentHelp("Images per forward pass.", valueName: "n"), transform: OptionValue.batch)
    var batch = 256

    @Option(help: ArgumentHelp("Worker threads, 1 to 1024.", valueName: "n"), transform: OptionValue.threads)
    var threads: Int?

    func run(_ configuration: Configuration) throws -> Int32 {
        if let threads { CPUThreads.set(threads) }
        let (weights, input, output, projection, batch, encoder) = (weights, input, output, projection, batch, encoder)
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
        try x.checkNonEmpty(path: input)
        try x.checkFinite(path: input)
        let features = embed(Tensor(x.floats(), shape: x.shape))
        try NPY.write(HostArray(floats: features.scalars, shape: features.shape), to: URL(fileURLWithPath: output))
        return ExitStatus.success
    }
}
