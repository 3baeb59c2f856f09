import ArgumentParser
import Foundation
import Engine
import PipelineDSL
import Stages

/// `sbcl-run predict RUN_DIR INPUTS... [--top K] [--json|--csv] [-o FILE]`: classifies images with
/// the encoder and classifier a run trained, fed as the run's evaluation fed its test images.
struct PredictCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify images with a trained run (or an exported model).",
        discussion: """
            INPUTS are JPEG or PNG files of any size, folders (searched recursively) or split files \
            (.txt, one `path [label]` per line, paths relative to --root or the split file's folder); \
            with labels the summary reports the accuracy. The first argument is a run folder, unless \
            --weights names an exported model (sbcl-run export --safetensors).
            """)

    @Argument(help: "A run folder (runs/NAME-TIME), then the images, folders or split files.")
    var paths: [String] = []

    @Option(help: "An exported model (sbcl-run export --safetensors) instead of a run folder.")
    var weights: String?

    @Option(help: "Classes listed per image, most probable first.")
    var top: Int = 5

    @Flag(help: "JSON: every image's top classes, the per-class summary and the accuracy.")
    var json = false

    @Flag(help: "With --json: every class's logit for each image too.")
    var logits = false

    @Flag(help: "CSV: one row per image with its top classes and probabilities.")
    var csv = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write the result to FILE instead of standard output.")
    var output: String?

    @Option(help: "Where split files' relative paths start (default: each split file's folder).")
    var root: String?

    @Option(name: .customLong("cache-dir"), help: "The cache holding the run's artifacts (default $SBCL_CACHE_DIR, else .sbcl/cache).")
    var cacheDirectory: String?

    @Option(help: "Images embedded at a time.")
    var batchSize: Int = 256

    @Option(help: "Worker threads (default: every core).")
    var threads: Int?

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top needs a positive number, got \(top)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size needs a positive number, got \(batchSize)") }
        guard !(json && csv) else { throw ValidationError("choose one of --json and --csv") }
        guard paths.count >= (weights == nil ? 2 : 1) else {
            throw ValidationError(weights == nil ? "expected a run folder and at least one image, folder or split file"
                                                 : "expected at least one image, folder or split file")
        }
    }

    func run(_ configuration: Configuration) throws -> Int32 {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        let model: PredictionModel
        let inputPaths: [String]
        if let weights {
            model = try PredictionModel.fromExport(URL(fileURLWithPath: weights, relativeTo: cwd))
            inputPaths = paths
        } else {
            let cache = try configuration.cache(root: configuration.cacheRoot(option: cacheDirectory), create: false)
            model = try PredictionModel.fromRun(URL(fileURLWithPath: paths[0], relativeTo: cwd), cache: cache)
            inputPaths = Array(paths.dropFirst())
        }
        var inputs = PredictionInputs(channels: model.encoderArtifact.inputChannels, classCount: model.classNames.count)
        for path in inputPaths { try inputs.add(path, root: root) }
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let predictor = Predictor(model: model, batchSize: batchSize, threads: threadCount)
        let bar = ProgressBar(total: inputs.count)
        let report = try predictor.predict(inputs, top: top) { done, _ in bar.update(done) }
        bar.finish()
        let text = json ? report.json(logits: logits) : csv ? report.csv() : report.text()
        if let output {
            do { try text.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                throw RunError("cannot write \(output): \(error.localizedDescription)")
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        return ExitStatus.success
    }
}

/// Images done out of all, on standard error: redrawn in place on a terminal, a line per quarter
/// otherwise.
final class ProgressBar {
    private let total: Int
    private let terminal = isatty(2) != 0
    private var lastQuarter = -1

    init(total: Int) { self.total = total }

    func update(_ done: Int) {
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        if terminal {
            let width = 30, filled = Int(fraction * Double(width))
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            FileHandle.standardError.write(Data("\rpredict [\(bar)] \(done)/\(total) images".utf8))
        } else if Int(fraction * 4) > lastQuarter {
            lastQuarter = Int(fraction * 4)
            FileHandle.standardError.write(Data("predict: \(done)/\(total) images\n".utf8))
        }
    }

    func finish() {
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
