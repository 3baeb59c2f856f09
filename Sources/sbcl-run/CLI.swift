import Foundation
import PipelineDSL
import Stages
import OpenCLBackend
import CUDABackend

/// `sbcl-run`: dispatches the first word to a command and maps errors to exit statuses.
enum CLI {
    static let usage = """
        usage: sbcl-run [RECIPE] [KEY=VALUE | +KEY=VALUE | ++KEY=VALUE | ~KEY ...] [options]
               sbcl-run RECIPE -m KEY=A,B [KEY2=C,D ...]    run the grid of all combinations
               sbcl-run RECIPE -m KEY=A,B --launcher slurm [--slurm "SBATCH OPTIONS"]
                                                            submit the grid as one Slurm job array
               sbcl-run sweep status SWEEP_DIR [--json]     each point's state; the comparison once all finished
               sbcl-run plan RECIPE [KEY=VALUE ...] [--json] [--ranks N]  validate and show stages, hashes, status
               sbcl-run cache ls|verify|gc [--json] [--older-than DAYS]
               sbcl-run schema [--output FILE]               write the recipe JSON schema
               sbcl-run embed --weights W.safetensors --input X.npy --output F.npy [--projection]
               sbcl-run sample-data imagenet_lt|image_folder DIR   a small long-tailed tree of real images (JPEG/PNG)
               sbcl-run compare RUN_DIR... [--json|--csv|--markdown]  compare runs (a sweep folder: its points)
               sbcl-run report RUN_DIR... -o FILE            one run's report, or a page comparing runs

        options:
          --cache-dir DIR   artifact cache (default $SBCL_CACHE_DIR, else .sbcl/cache)
          --runs-dir DIR    where run folders go (default runs)
          --device D        auto, cpu, opencl, opencl:cpu or cuda (overrides the recipe's device)
          --threads N       worker threads (default: the number of cores; in a Slurm task, its CPUs)
          --launcher L      where -m runs its points: local (default, here, in turn) or slurm
          --slurm "OPTS"    sbatch options for --launcher slurm, e.g. "--partition=cpu --time=2:00:00 --ntasks=2"
          --json            machine-readable output
          -q, --quiet       no log lines on standard error
        Data-parallel: mpirun -np N sbcl-run RECIPE (see README); plan --ranks N shows that job's hashes.
        Without RECIPE the built-in default recipe runs.
        """

    static let usageHint = "run 'sbcl-run --help' for usage"

    /// Runs the command line and returns the exit status; never traps on user input.
    static func main(_ arguments: [String]) -> Int32 {
        // GPU backends are modules of their own; registering one loads nothing until it is asked for.
        OpenCLBackend.register()
        CUDABackend.register(environment: ProcessInfo.processInfo.environment)
        do {
            switch arguments.first {
            case "-h", "--help", "help":
                print(usage)
                return ExitStatus.success
            case "plan":
                return try PlanCommand.run(Options.parse(Array(arguments.dropFirst())))
            case "cache":
                return try CacheCommand.run(Array(arguments.dropFirst()))
            case "schema":
                return try SchemaCommand.run(Options.parse(Array(arguments.dropFirst())))
            case "sweep":
                return try SweepCommand.run(Array(arguments.dropFirst()))
            case "compare":
                return try CompareCommand.compare(Options.parse(Array(arguments.dropFirst())))
            case "report":
                return try CompareCommand.report(Options.parse(Array(arguments.dropFirst())))
            case "embed":
                try runEmbed(Array(arguments.dropFirst()))
                return ExitStatus.success
            case "sample-data":
                return try SampleDataCommand.run(Array(arguments.dropFirst()))
            default:
                return try RunCommand.run(Options.parse(arguments))
            }
        } catch {
            return ExitStatus.report(error)
        }
    }

    /// The registry: the real kinds, plus the test kinds when `SBCL_TEST_STAGES=1`.
    static func registry() -> StageRegistry {
        var registry = StageRegistry()
        Stages.registerAll(in: &registry)
        if ProcessInfo.processInfo.environment["SBCL_TEST_STAGES"] == "1" {
            TestStageKinds.register(in: &registry)
        }
        return registry
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
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw UsageError("recipe file \(first) does not exist")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw UsageError("cannot read recipe file \(first)")
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
    static func refuseUnrunnable(_ plan: Plan, cache: ArtifactCache) throws {
        let diagnostics = plan.refusals(memoryLimit: try MachineMemory.limit()) { PlanReport.status(of: $0, cache: cache) == .cached }
        if !diagnostics.isEmpty { throw RecipeError(diagnostics) }
    }

    /// Writes text to standard output.
    static func output(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
