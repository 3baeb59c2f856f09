import ArgumentParser
import Foundation
import Launchers
import PipelineDSL

/// The parsers of option values: each option is parsed and checked here, once, while the
/// command line is read; a bad value ends the command with exit status 2 and one sentence
/// naming the option and the value.
enum OptionValue {
    static func device(_ text: String) throws -> String {
        guard RecipeKeys.isDevice(text) else {
            throw UsageError("--device \(text): expected one of \(RecipeKeys.deviceSummary)")
        }
        return text
    }

    static func threads(_ text: String) throws -> Int {
        guard let threads = Int(text), threads >= 1, threads <= 1024 else {
            throw UsageError("--threads \(text): expected a whole number from 1 to 1024")
        }
        return threads
    }

    static func ranks(_ text: String) throws -> Int {
        guard let ranks = Int(text), ranks >= 1, ranks <= 1 << 20 else {
            throw UsageError("--ranks \(text): expected a whole number of ranks, at least 1")
        }
        return ranks
    }

    static func launcher(_ text: String) throws -> String {
        guard ["local", "slurm"].contains(text) else { throw UsageError("--launcher \(text): expected local or slurm") }
        return text
    }

    static func slurm(_ text: String) throws -> SlurmOptions { try SlurmOptions(parsing: text) }

    static func days(_ text: String) throws -> Double {
        guard let days = Double(text), days >= 0, days.isFinite else {
            throw UsageError("--older-than \(text): expected a number of days")
        }
        return days
    }

    static func batch(_ text: String) throws -> Int {
        guard let batch = Int(text), batch > 0, batch <= 1 << 20 else {
            throw UsageError("--batch \(text): expected a whole number of images from 1 to 1048576")
        }
        return batch
    }

    static func encoder(_ text: String) throws -> String {
        guard ["key", "query"].contains(text) else { throw UsageError("--encoder \(text): expected key or query") }
        return text
    }
}

/// `--cache-dir DIR`.
struct CacheOption: ParsableArguments {
    @Option(name: .customLong("cache-dir"), help: ArgumentHelp("The artifact cache (default $SBCL_CACHE_DIR, else .sbcl/cache).",
                                                               valueName: "dir"))
    var directory: String?

    /// The cache folder this option and the configuration select.
    func root(_ configuration: Configuration) -> URL { configuration.cacheRoot(option: directory) }

    /// The cache; `create: false` for commands that only read it.
    func cache(_ configuration: Configuration, create: Bool = true) throws -> ArtifactCache {
        try configuration.cache(root: root(configuration), create: create)
    }
}

/// `--device D` and `--threads N`: where and on how many threads the stages run.
struct PlaceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("auto, cpu, opencl, opencl:cpu or cuda (overrides the recipe's device).", valueName: "device"),
            transform: OptionValue.device)
    var device: String?

    @Option(help: ArgumentHelp("Worker threads, 1 to 1024 (default: the number of cores; in a Slurm task, its CPUs).", valueName: "n"),
            transform: OptionValue.threads)
    var threads: Int?

    /// `--threads`, else the CPUs Slurm gave this task (`SLURM_CPUS_PER_TASK`), else every core.
    func threadCount(_ configuration: Configuration, fallback: Int? = nil) -> Int {
        threads ?? fallback ?? configuration.slurmCPUsPerTask ?? ProcessInfo.processInfo.activeProcessorCount
    }
}

/// `--json` and `-q`.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Machine-readable output.")
    var json = false

    @Flag(name: [.customShort("q"), .long], help: "No log lines on standard error.")
    var quiet = false
}
