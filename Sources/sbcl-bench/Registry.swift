import ArgumentParser
import Engine
import Foundation
import MPITransport
import OpenCLBackend
import CUDABackend
import PipelineDSL
import Stages

/// `sbcl-bench BENCHMARK [options]`: benchmarks that print one line each (one JSON line with `--json`).
struct SBCLBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbcl-bench",
        abstract: "Time the engine's kernels, training steps and loaders (one line each; --json for JSON).",
        discussion: "Environment variables as sbcl-run's (SBCL_KERNELS, SBCL_CONV, SBCL_OPENCL_LIBRARY, SBCL_OPENCL_PROFILE, SBCL_MPI_LIBRARY); see README.",
        subcommands: Bench.commands)
}

/// A benchmark: it runs with the configuration the environment gave.
protocol BenchCommand: ParsableCommand {
    func run(_ configuration: BenchConfiguration) throws
}

/// What `sbcl-bench` takes from its environment, read once at start.
struct BenchConfiguration {
    /// The environment, for the data-parallel launchers' variables (`Launcher.detect`).
    let environment: [String: String]
    /// `SBCL_KERNELS`, `SBCL_CONV`.
    let convKernels: ConvKernels
    /// `SBCL_OPENCL_LIBRARY`, `SBCL_OPENCL_PROFILE=1`.
    let openCLLibrary: String?, openCLProfiling: Bool
    /// `SBCL_MPI_LIBRARY`.
    let mpiLibrary: String?
    /// `OMPI_COMM_WORLD_LOCAL_RANK`, else `SLURM_LOCALID`, else 0: this rank's index on its machine.
    let localRank: Int

    init(environment: [String: String]) throws {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        self.environment = environment
        convKernels = try ConvKernels(setName: value("SBCL_KERNELS"), algorithmName: value("SBCL_CONV"))
        openCLLibrary = value("SBCL_OPENCL_LIBRARY")
        openCLProfiling = value("SBCL_OPENCL_PROFILE") == "1"
        mpiLibrary = value("SBCL_MPI_LIBRARY")
        localRank = (value("OMPI_COMM_WORLD_LOCAL_RANK") ?? value("SLURM_LOCALID")).flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil } ?? 0
    }

    /// Joins the launcher's job (mpirun, srun) when the environment says there is one.
    func joinRankJob() throws -> MPICommunicator? {
        try Launcher.detect(environment).map { try MPICommunicator.start($0, library: mpiLibrary, localRank: localRank) }
    }
}

/// Checks of option values, once, while they are parsed.
enum BenchValue {
    /// A positive whole number for `option`.
    static func positive(_ option: String) -> @Sendable (String) throws -> Int {
        { text in
            guard let value = Int(text), value > 0 else { throw BenchError.usage("\(option) \(text): expected a positive whole number") }
            return value
        }
    }
}

enum Bench {
    /// The benchmarks, by subcommand: a new benchmark file adds one line here.
    static let commands: [any ParsableCommand.Type] = [
        StepCommand.self, InferCommand.self, LoaderCommand.self, JPEGAugmentCommand.self, ConvCommand.self,
        LossCommand.self, KMeansCommand.self, ReclusterCommand.self,
    ]

    /// Parses, configures the backends and runs; returns the exit status (2: usage, 1: failure).
    static func main(_ arguments: [String], environment: [String: String]) -> Int32 {
        let parsed: any ParsableCommand
        do {
            parsed = try SBCLBench.parseAsRoot(arguments)
        } catch {
            return reportParsing(error)
        }
        guard let command = parsed as? any BenchCommand else {
            do {
                var parsed = parsed
                try parsed.run()
                return 0
            } catch {
                return reportParsing(error)
            }
        }
        let name = type(of: command).configuration.commandName ?? "?"
        do {
            let configuration = try BenchConfiguration(environment: environment)
            CPUBackend.shared.convKernels = configuration.convKernels
            // The GPU backend is a module of its own; `step --device opencl` opens it.
            OpenCLBackend.register(library: configuration.openCLLibrary, profiling: configuration.openCLProfiling)
            CUDABackend.register(environment: configuration.environment)
            let environment = configuration.environment
            DeviceSelection.registerCUDACount { try CUDADevice.all(configuration: CUDALibraryConfiguration(environment: environment)).count }
            try command.run(configuration)
            return 0
        } catch let error as BenchError {
            FileHandle.standardError.write(Data("sbcl-bench \(name): \(error)\n".utf8))
            return 2
        } catch let error as KernelSetError {
            FileHandle.standardError.write(Data("sbcl-bench \(name): \(error)\n".utf8))
            return 2
        } catch {
            FileHandle.standardError.write(Data("sbcl-bench \(name): \(error)\n".utf8))
            return 1
        }
    }

    /// Help and completion scripts to standard output (status 0); a usage error in one line (status 2).
    static func reportParsing(_ error: Error) -> Int32 {
        if SBCLBench.exitCode(for: error) == .success {
            print(SBCLBench.fullMessage(for: error).trimmingCharacters(in: .newlines))
            return 0
        }
        var message = SBCLBench.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid command line"
        // A value refused by our own check: its sentence names the option and the value already.
        if let range = message.range(of: #"^The value '.*' is invalid for '[^']*': (?=--)"#, options: .regularExpression) {
            message.removeSubrange(range)
        }
        FileHandle.standardError.write(Data("sbcl-bench: \(message)\nrun 'sbcl-bench --help' for usage\n".utf8))
        return 2
    }
}

/// `sbcl-bench step`: the CIFAR step, or the MoCo step with `--moco`.
struct StepCommand: BenchCommand {
    static let configuration = CommandConfiguration(
        commandName: "step", abstract: "One first-stage training step (CIFAR ResNet + SBCL loss; --moco: the ImageNet-LT MoCo step).")

    @OptionGroup var model: ModelBenchArguments
    @Flag(help: "The MoCo v2 step (KCL) of the ImageNet-LT recipes.")
    var moco = false
    @Option(help: ArgumentHelp("--moco: resnet18, resnet34 or resnet50.", valueName: "arch"),
            transform: { text in
                guard let arch = ResNetImageNet.Architecture(rawValue: text) else {
                    throw BenchError.usage("--arch \(text): expected resnet18, resnet34 or resnet50")
                }
                return arch
            })
    var arch = ResNetImageNet.Architecture.resnet50
    @Option(help: "--moco: the queue's size (a multiple of --batch).", transform: BenchValue.positive("--queue"))
    var queue = 65536

    func run(_ configuration: BenchConfiguration) throws {
        if moco {
            try runMoCoStepBench(model.options(defaultBatch: 32), arch: arch, queue: queue)
        } else {
            try runStepBench(model.options(defaultBatch: 128), configuration: configuration)
        }
    }
}

/// `sbcl-bench infer`.
struct InferCommand: BenchCommand {
    static let configuration = CommandConfiguration(commandName: "infer", abstract: "Encoder inference (eval mode, no graph), batch 512.")
    @OptionGroup var model: ModelBenchArguments
    func run(_ configuration: BenchConfiguration) throws { try runInferBench(model.options(defaultBatch: 512)) }
}

/// `sbcl-bench recluster`.
struct ReclusterCommand: BenchCommand {
    static let configuration = CommandConfiguration(
        commandName: "recluster", abstract: "SBCL's re-clustering: embed, per-class k-means, class temperatures.")
    @OptionGroup var model: ModelBenchArguments
    func run(_ configuration: BenchConfiguration) throws { try runReclusterBench(model.options(defaultBatch: 64), configuration: configuration) }
}

/// `sbcl-bench loader`.
struct LoaderCommand: BenchCommand {
    static let configuration = CommandConfiguration(commandName: "loader", abstract: "Augmented views per second of the first-stage loader.")
    @OptionGroup var options: LoaderBenchOptions
    func run(_ configuration: BenchConfiguration) throws { try runLoaderBench(options) }
}

/// `sbcl-bench jpeg-augment`.
struct JPEGAugmentCommand: BenchCommand {
    static let configuration = CommandConfiguration(
        commandName: "jpeg-augment", abstract: "JPEG decoding + MoCo v2 augmentation through the loader, images per second.")
    @OptionGroup var options: JPEGAugmentBenchOptions
    func run(_ configuration: BenchConfiguration) throws { try runJPEGAugmentBench(options) }
}

/// `sbcl-bench conv`.
struct ConvCommand: BenchCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv", abstract: "The convolution kernels on ResNet-32's layer shapes, GFLOP/s and fraction of peak.")
    @Option(help: "Images per batch.", transform: BenchValue.positive("--batch"))
    var batch = 256
    @Option(help: "Worker threads (default: every core).", transform: BenchValue.positive("--threads"))
    var threads: Int?
    @Option(help: "Timed repeats (the median counts).", transform: BenchValue.positive("--repeats"))
    var repeats = 5
    @Flag(help: "One JSON line.")
    var json = false
    func run(_ configuration: BenchConfiguration) throws {
        try runConvBench(batch: batch, threads: threads, repeats: repeats, json: json, kernels: configuration.convKernels)
    }
}

/// `sbcl-bench loss`.
struct LossCommand: BenchCommand {
    static let configuration = CommandConfiguration(commandName: "loss", abstract: "SBCL rank loss + gradient, 1024 images × 2 views × 128-d.")
    @OptionGroup var options: LossKMeansOptions
    func run(_ configuration: BenchConfiguration) throws { try runLossBench(options) }
}

/// `sbcl-bench kmeans`.
struct KMeansCommand: BenchCommand {
    static let configuration = CommandConfiguration(commandName: "kmeans", abstract: "One cosine k-means, 10,000 × 128, k = 100.")
    @OptionGroup var options: LossKMeansOptions
    func run(_ configuration: BenchConfiguration) throws { try runKMeansBench(options) }
}
