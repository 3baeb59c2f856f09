import Foundation
import PipelineDSL

/// Options shared by the commands, and the remaining positional words.
struct Options {
    var positional: [String] = []
    var cacheDirectory: String?
    var runsDirectory: String?
    var device: String?
    var threads: Int?
    /// `plan --ranks N`: plan for a data-parallel job of N ranks.
    var ranks: Int?
    var json = false
    var multirun = false
    var quiet = false
    var output: String?
    var olderThanDays: Double?
    /// `compare`'s output: `json`, `csv`, `markdown`, or nil for a text table.
    var format: String?
    /// Where a sweep runs: `local` (default, one point after another) or `slurm` (one job array).
    var launcher = "local"
    /// sbatch options for `--launcher slurm`, as one string.
    var slurm: String?

    /// Parses `--name value`, `--name=value` and flags; everything else is positional.
    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var index = 0
        func value(_ name: String, _ inline: String?) throws -> String {
            if let inline { return inline }
            index += 1
            guard index < arguments.count else { throw UsageError("option \(name) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let name = argument.hasPrefix("--") ? parts[0] : argument
            let inline = argument.hasPrefix("--") && parts.count == 2 ? parts[1] : nil
            switch name {
            case "--cache-dir": options.cacheDirectory = try value(name, inline)
            case "--runs-dir": options.runsDirectory = try value(name, inline)
            case "--output", "-o": options.output = try value(name, inline)
            case "--device":
                let device = try value(name, inline)
                guard RecipeKeys.devices.contains(device) else {
                    throw UsageError("--device \(device): expected one of \(RecipeKeys.devices.joined(separator: ", "))")
                }
                options.device = device
            case "--threads":
                let text = try value(name, inline)
                guard let threads = Int(text), threads >= 1, threads <= 1024 else {
                    throw UsageError("--threads \(text): expected a whole number from 1 to 1024")
                }
                options.threads = threads
            case "--ranks":
                let text = try value(name, inline)
                guard let ranks = Int(text), ranks >= 1, ranks <= 1 << 20 else {
                    throw UsageError("--ranks \(text): expected a whole number of ranks, at least 1")
                }
                options.ranks = ranks
            case "--launcher":
                let launcher = try value(name, inline)
                guard ["local", "slurm"].contains(launcher) else { throw UsageError("--launcher \(launcher): expected local or slurm") }
                options.launcher = launcher
            case "--slurm": options.slurm = try value(name, inline)
            case "--older-than":
                let text = try value(name, inline)
                guard let days = Double(text), days >= 0, days.isFinite else {
                    throw UsageError("--older-than \(text): expected a number of days")
                }
                options.olderThanDays = days
            case "--json": options.json = true; options.format = "json"
            case "--csv": options.format = "csv"
            case "--markdown": options.format = "markdown"
            case "-m", "--multirun": options.multirun = true
            case "-q", "--quiet": options.quiet = true
            case "--":
                options.positional += arguments[(index + 1)...]
                index = arguments.count
            default:
                if argument.hasPrefix("-") && !argument.hasPrefix("--") && argument.count > 1 || argument.hasPrefix("--") {
                    let known = ["--cache-dir", "--runs-dir", "--device", "--threads", "--json", "--multirun", "--quiet",
                                 "--output", "--older-than", "--help", "--csv", "--markdown", "--ranks", "--launcher", "--slurm"]
                    let hint = Suggestion.closest(to: name, among: known).map { "; did you mean \($0)?" } ?? ""
                    throw UsageError("unknown option \(name)\(hint)")
                }
                options.positional.append(argument)
            }
            index += 1
        }
        return options
    }

    /// `--threads`, else the CPUs Slurm gave this task (`SLURM_CPUS_PER_TASK`), else every core.
    var threadCount: Int {
        if let threads { return threads }
        if let text = ProcessInfo.processInfo.environment["SLURM_CPUS_PER_TASK"], let cpus = Int(text), cpus >= 1 { return cpus }
        return ProcessInfo.processInfo.activeProcessorCount
    }

    /// The cache the options select; `create: false` for commands that only read it.
    func cache(create: Bool = true) throws -> ArtifactCache {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        let environment = ProcessInfo.processInfo.environment
        return try ArtifactCache(root: ArtifactCache.location(option: cacheDirectory, environment: environment, workingDirectory: cwd),
                                 create: create, lockPolicy: LockPolicy(environment: environment))
    }
}
