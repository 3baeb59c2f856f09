import ArgumentParser
import Engine
import Foundation
import Launchers
import PipelineDSL

/// `sbcl-run plan [RECIPE] [KEY=VALUE ...] [--json] [--ranks N]`: validate, hash, show status; run nothing.
struct PlanCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Validate a recipe and show its stages, hashes and cache status; run nothing.")

    @Argument(help: ArgumentHelp("The recipe file (default: the built-in recipe), then overrides as for run.",
                                 valueName: "recipe-and-overrides"))
    var words: [String] = []

    @OptionGroup var cacheOption: CacheOption

    @OptionGroup var place: PlaceOptions

    @Option(help: ArgumentHelp("Plan for a data-parallel job of N ranks (its hashes).", valueName: "n"), transform: OptionValue.ranks)
    var ranks: Int?

    @Flag(name: [.customShort("m"), .long], help: ArgumentHelp(visibility: .hidden))
    var multirun = false

    // A run's other options are accepted (and checked) so that a run's command line can be
    // planned as it is; they change nothing a plan shows.
    @Option(name: .customLong("runs-dir"), help: ArgumentHelp(visibility: .hidden))
    var runsDirectory: String?

    @Option(help: ArgumentHelp(visibility: .hidden), transform: OptionValue.launcher)
    var launcher: String?

    @Option(parsing: .unconditional, help: ArgumentHelp(visibility: .hidden), transform: OptionValue.slurm)
    var slurm: SlurmOptions?

    @OptionGroup var output: OutputOptions

    func run(_ configuration: Configuration) throws -> Int32 {
        if multirun { throw UsageError("plan takes no -m; plan one point of the grid at a time") }
        let cacheRoot = cacheOption.root(configuration)
        configuration.placeDriverCaches(cacheRoot: cacheRoot)
        let registry = configuration.registry(cacheRoot: cacheRoot)
        let source = try CLI.recipeSource(words)
        let overrides = try source.overrides.map(Override.parse)
        let ranks = try self.ranks ?? RankJob.join(configuration)?.size ?? 1
        let plan = try CLI.plan(data: source.data, file: source.file, overrides: overrides, registry: registry, ranks: ranks)
        if RankJob.isFollower { return ExitStatus.success }
        let cache = try configuration.cache(root: cacheRoot, create: false)
        let device = DevicePlan(requested: place.device ?? plan.recipe.device)
        if output.json {
            var report = PlanReport.json(plan, cache: cache)
            if case .map(var fields) = report { fields["device"] = device.json; report = .map(fields) }
            CLI.output(report.prettyJSON() + "\n")
        } else {
            CLI.output(PlanReport.text(plan, cache: cache, memoryLimit: configuration.memoryLimit) + device.text + "\n")
        }
        return ExitStatus.success
    }
}

/// The device a run of the plan would use, and what the cache does about it.
///
/// The device is in no stage's hash: results that differ only by rounding between devices (the
/// CPU and an OpenCL GPU, or two CPUs with other kernel sets, which already differ today) share
/// cache entries, so a run on one reuses the other's; each entry's manifest records the device
/// that made it. See docs/opencl.md.
struct DevicePlan {
    let requested: String
    let backend: String
    let usable: Bool

    init(requested: String) {
        self.requested = requested
        do {
            let choice = try DeviceSelection.select(requested)
            backend = choice.backend.name
            usable = true
        } catch {
            backend = "unusable: \(error)"
            usable = false
        }
    }

    var text: String {
        "device \(requested): \(backend); not in any hash (results that differ only by rounding between devices share cache entries)"
    }

    var json: ParamValue {
        .map(["requested": .string(requested), "backend": .string(backend), "usable": .bool(usable), "in_hash": .bool(false)])
    }
}

/// `sbcl-run schema [--output FILE]`: the recipe JSON schema from the registry.
struct SchemaCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Write the recipe JSON schema (every stage kind, its parameters and defaults).")

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The file to write (default: standard output).", valueName: "file"))
    var output: String?

    func run(_ configuration: Configuration) throws -> Int32 {
        let text = SchemaExport.json(configuration.registry(cacheRoot: nil))
        if let output, output != "-" {
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                throw RunError("cannot write \(output): \(FileProblem.cause(of: error))")
            }
        } else {
            CLI.output(text)
        }
        return ExitStatus.success
    }
}
