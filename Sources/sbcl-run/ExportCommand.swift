import ArgumentParser
import Foundation
import Engine
import PipelineDSL
import Stages
import ModelExport

/// `sbcl-run export RUN_DIR --onnx model.onnx [--safetensors model.safetensors]`: the run's
/// encoder and classifier as one ONNX graph, and/or as one safetensors file with PyTorch's names.
struct ExportCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a trained run's encoder and classifier as ONNX and/or safetensors.",
        discussion: """
            The ONNX graph takes float32 NCHW images normalised with the run's mean and standard \
            deviation (in the model's metadata) and gives logits; the batch size is free (opset 17). \
            The safetensors file holds the whole model under PyTorch's names (the authors' SupConResNet \
            plus `classifier.*`, or linear_classify.py's ResNet with its fc); `predict --weights` reads it.
            """)

    @Argument(help: "The run folder (runs/NAME-TIME).")
    var runFolder: String

    @Option(help: "Write the ONNX model here.")
    var onnx: String?

    @Option(help: "Write the whole model as safetensors here.")
    var safetensors: String?

    @Option(name: .customLong("cache-dir"), help: "The cache holding the run's artifacts (default $SBCL_CACHE_DIR, else .sbcl/cache).")
    var cacheDirectory: String?

    func validate() throws {
        guard onnx != nil || safetensors != nil else { throw ValidationError("give --onnx FILE and/or --safetensors FILE") }
    }

    func run(_ configuration: Configuration) throws -> Int32 {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        let cache = try configuration.cache(root: configuration.cacheRoot(option: cacheDirectory), create: false)
        let model = try PredictionModel.fromRun(URL(fileURLWithPath: runFolder, relativeTo: cwd), cache: cache)
        if let onnx {
            try ONNXExport.write(model, to: URL(fileURLWithPath: onnx, relativeTo: cwd))
            print("wrote \(onnx): ONNX opset \(ONNXExport.opset), input [batch, \(model.encoderArtifact.inputChannels), "
                  + "\(model.encoderArtifact.imageSize), \(model.encoderArtifact.imageSize)] normalised with mean \(model.encoderArtifact.mean) "
                  + "std \(model.encoderArtifact.std), output logits [batch, \(model.classNames.count)]")
        }
        if let safetensors {
            try model.writeSafeTensors(to: URL(fileURLWithPath: safetensors, relativeTo: cwd))
            print("wrote \(safetensors): \(model.exportArrays().count) tensors with PyTorch's names")
        }
        return ExitStatus.success
    }
}
