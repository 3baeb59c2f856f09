import ArgumentParser
import Engine
import Datasets
import Foundation
import OpenCLBackend
import CUDABackend
import PipelineDSL
import Stages

/// `sbcl-run`: the root command. Its subcommands are `CLI.commands`; `run` is the default, so
/// `sbcl-run RECIPE KEY=VALUE…` and a bare `sbcl-run` (the built-in recipe) run a recipe.
struct SBCLRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbcl-run",
        abstract: "Run, plan and inspect SBCL pipelines declared as recipes.",
        discussion: "Without a subcommand, sbcl-run runs a recipe: sbcl-run [RECIPE] [KEY=VALUE | +KEY=VALUE | ~KEY …], "
            + "the built-in default recipe when RECIPE is left out. Data-parallel: mpirun -np N sbcl-run RECIPE (see README); "
            + "plan --ranks N shows that job's hashes. Environment variables: see README. "
            + "Shell completion: sbcl-run --generate-completion-script bash|zsh|fish.",
        subcommands: CLI.commands,
        defaultSubcommand: RunCommand.self)
}

/// A subcommand: it runs with the configuration the environment gave and returns the exit status.
protocol CLICommand: ParsableCommand {
    func run(_ configuration: Configuration) throws -> Int32
}

/// Runs the command line and maps errors to exit statuses.
enum CLI {
    /// The subcommands, in the order the help lists them: a new command adds one line here.
    static let commands: [any ParsableCommand.Type] = [
        RunCommand.self,
        PlanCommand.self,
        CacheCommand.self,
        SchemaCommand.self,
        SweepCommand.self,
        CompareCommand.self,
        ReportCommand.self,
        EmbedCommand.self,
        PredictCommand.self,
        ExportCommand.self,
        SampleDataCommand.self,
    ]

    static let usageHint = "run 'sbcl-run --help' for usage"

    /// Parses `arguments`, reads `environment` once into a `Configuration`, sets up the backends
    /// and runs the command; returns the exit status and never traps on user input.
    static func main(_ arguments: [String], environment: [String: String]) -> Int32 {
        let command: any ParsableCommand
        do {
            command = try SBCLRun.parseAsRoot(arguments)
        } catch {
            return ExitStatus.reportParsing(error)
        }
        guard let command = command as? any CLICommand else {
            // ArgumentParser's own commands (`help`): they print and end.
            do {
                var command = command
                try command.run()
                return ExitStatus.success
            } catch {
                return ExitStatus.reportParsing(error)
            }
        }
        do {
            let configuration = try Configuration(environment: environment)
            prepareBackends(configuration)
            // SIGINT, SIGTERM, SIGHUP: a run marks itself failed and the cache releases what it holds.
            Interruption.install()
            return try command.run(configuration)
        } catch {
            return ExitStatus.report(error)
        }
    }

    /// Gives the backends their configuration: the CPU backend its convolution kernels, and the
    /// GPU backends (modules of their own; registering one loads nothing until it is asked for)
    /// their libraries. A new backend registers here.
    static func prepareBackends(_ configuration: Configuration) {
        CPUBackend.shared.convKernels = configuration.convKernels
        ImageLimits.process = configuration.imageLimits
        OpenCLBackend.register(library: configuration.openCLLibrary, profiling: configuration.openCLProfiling)
        CUDABackend.register(environment: configuration.environment)
        let environment = configuration.environment
        DeviceSelection.registerCUDACount { try CUDADevice.all(configuration: CUDALibraryConfiguration(environment: environment)).count }
    }

    /// The recipe source (file or embedded default) and the override arguments.
    static func recipeSource(_ positional: [String]) throws -> (data: Data, file: String, overrides: [String]) {
        let isOverride = { (word: String) in word.contains("=") || word.hasPrefix("~") }
        guard let first = positional.first, !isOverride(first) else {
            guard let embedded = Stages.defaultRecipe else {
                throw UsageError("no recipe given and this build has no default recipe; expected sbcl-run RECIPE.yaml")
            }
            return (Data(embedded.yaml.utf8), "<embedded \(embedded.name)>", positional)
        }
        let rest = Array(positional.dropFirst())
        if let stray = rest.first(where: { !isOverride($0) }) {
            throw UsageError("unexpected argument '\(stray)': expected KEY=VALUE overrides after the recipe")
        }
        let url = URL(fileURLWithPath: first)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw UsageError("recipe file \(first) does not exist")
        }
        guard !isDirectory.boolValue else { throw UsageError("recipe file \(first) is a folder; expected a YAML file") }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw UsageError("cannot read recipe file \(first): permission denied or not a regular file")
        }
        return (data, first, rest)
    }

    /// Parses, overrides and validates, then plans.
    static func plan(data: Data, file: String, overrides: [Override], registry: StageRegistry, ranks: Int = 1) throws -> Plan {
        let recipe = try Planner.recipe(data: data, file: file, overrides: overrides, registry: registry)
        return try Planner.plan(recipe, registry: registry, ranks: ranks)
    }

    /// Refuses a plan before it runs when a stage still to compute cannot run here (its data files
    /// are missing) or is estimated to need more memory than this machine allows (a recipe error,
    /// exit status 2), rather than failing or being killed halfway.
    static func refuseUnrunnable(_ plan: Plan, cache: ArtifactCache, memoryLimit: Int) throws {
        let diagnostics = plan.refusals(memoryLimit: memoryLimit) { PlanReport.status(of: $0, cache: cache) == .cached }
        if !diagnostics.isEmpty { throw RecipeError(diagnostics) }
    }

    /// Writes text to standard output.
    static func output(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
