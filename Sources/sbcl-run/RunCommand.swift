import ArgumentParser
import Engine
import Foundation
import Launchers
import MPITransport
import PipelineDSL
import Reporting
import Stages

/// `sbcl-run [run] [RECIPE] [overrides]` and its multirun form `-m`: the default command.
struct RunCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a recipe (the default command: 'sbcl-run RECIPE …' is 'sbcl-run run RECIPE …').",
        discussion: "Overrides: KEY=VALUE sets a value, +KEY=VALUE adds a new key, ++KEY=VALUE adds or sets, ~KEY removes one. "
            + "With -m, KEY=A,B runs every combination of the listed values (a grid), here in turn or as one Slurm job array "
            + "(--launcher slurm). Without RECIPE the built-in default recipe runs.")

    static let engineVersion = "sbcl 0.1"

    @Argument(help: ArgumentHelp("The recipe file (YAML), then KEY=VALUE, +KEY=VALUE, ++KEY=VALUE or ~KEY overrides.",
                                 valueName: "recipe-and-overrides"))
    var words: [String] = []

    @OptionGroup var cacheOption: CacheOption

    @Option(name: .customLong("runs-dir"), help: ArgumentHelp("Where run folders go (default runs).", valueName: "dir"))
    var runsDirectory: String?

    @OptionGroup var place: PlaceOptions

    @Flag(name: [.customShort("m"), .long], help: "Run the grid of all combinations of the KEY=A,B overrides.")
    var multirun = false

    @Option(help: ArgumentHelp("Run every grid point with seeds 0 to N-1 (implies -m; the same as seed=range(N)); "
                               + "the comparison then gives each setting's mean ± sd and Welch's t-test between settings.",
                               valueName: "n"))
    var seeds: Int?

    @Option(help: ArgumentHelp("Where -m runs its points: local (here, in turn) or slurm (one job array).", valueName: "launcher"),
            transform: OptionValue.launcher)
    var launcher = "local"

    @Option(parsing: .unconditional,
            help: ArgumentHelp("sbatch options for --launcher slurm, e.g. \"--partition=cpu --time=2:00:00 --ntasks=2\".",
                               valueName: "options"),
            transform: OptionValue.slurm)
    var slurm: SlurmOptions?

    @OptionGroup var output: OutputOptions

    func run(_ configuration: Configuration) throws -> Int32 {
        let source = try CLI.recipeSource(words)
        var sweep = try Sweep.parse(source.overrides)
        if let seeds { try sweep.addSeeds(seeds) }
        let multirun = self.multirun || seeds != nil
        if launcher == "slurm" && !multirun {
            throw UsageError("--launcher slurm submits a sweep; add -m and at least one KEY=A,B override")
        }
        if slurm != nil && launcher != "slurm" {
            throw UsageError("--slurm gives sbatch options for --launcher slurm; add --launcher slurm")
        }
        if !multirun, let axis = sweep.axes.first {
            throw UsageError("'\(axis.prefix)=\(axis.values.joined(separator: ","))' lists several values; add -m to run the grid, "
                             + "or write a list as [a, b]")
        }
        let cache = try cacheOption.cache(configuration)
        configuration.placeDriverCaches(cacheRoot: cache.root)
        let registry = configuration.registry(cacheRoot: cache.root)
        let runs = URL(fileURLWithPath: runsDirectory ?? "runs", relativeTo: configuration.workingDirectory).standardizedFileURL
        let threads = place.threadCount(configuration)
        let job = try RankJob.join(configuration)
        if multirun {
            if let job { throw UsageError("-m under a launcher (\(job.size) ranks) is not supported; run each point of the grid as its own job") }
            return try runGrid(sweep, source: source, registry: registry, cache: cache, runsDirectory: runs, threads: threads,
                               configuration: configuration)
        }
        let ranks = job?.size ?? 1
        let plan = try CLI.plan(data: source.data, file: source.file, overrides: sweep.fixed, registry: registry, ranks: ranks)
        try CLI.refuseUnrunnable(plan, cache: cache, memoryLimit: configuration.memoryLimit)
        // Ranks other than 0 write nothing and print nothing but errors (rank 0 logs the run).
        let quiet = output.quiet || RankJob.isFollower
        let device = try Self.prepareDevice(place.device ?? plan.recipe.device, threads: threads, quiet: quiet, localRank: job?.localRank ?? 0)
        let executor = Executor(registry: registry, cache: cache,
                                options: ExecutorOptions(runsDirectory: runs, device: device, threads: threads,
                                                         engineVersion: Self.engineVersion, echo: !quiet,
                                                         overrides: source.overrides, observer: RankJob.isFollower ? nil : ReportingObserver(),
                                                         environment: Stages.runEnvironment(threads: threads, ranks: ranks),
                                                         coordinator: job))
        let summary = try executor.run(plan)
        if RankJob.isFollower { return ExitStatus.success }
        if output.json {
            CLI.output(ParamValue.map([
                "run": .string(summary.runDirectory.path), "metrics": .map(summary.metrics),
                "stages": .list(summary.outcomes.map { .map(["name": .string($0.stage), "outcome": .string($0.outcome.rawValue)]) }),
            ]).prettyJSON() + "\n")
        } else {
            let shown = SweepReport.leadingMetrics.compactMap { name in
                summary.metrics[name]?.doubleValue.map { String(format: "%@ %.4f", name, $0) }
            }
            CLI.output("run folder: \(summary.runDirectory.path)\n" + (shown.isEmpty ? "" : shown.joined(separator: "  ") + "\n"))
        }
        return ExitStatus.success
    }

    /// Validates every point first (so a bad value fails before any work), then runs them here in
    /// order, or submits them to Slurm; shared stages come from the cache after their first computation.
    func runGrid(_ sweep: Sweep, source: (data: Data, file: String, overrides: [String]), registry: StageRegistry,
                 cache: ArtifactCache, runsDirectory: URL, threads: Int, configuration: Configuration) throws -> Int32 {
        guard !sweep.axes.isEmpty else { throw UsageError("-m needs at least one KEY=A,B override with several values, or --seeds N") }
        var plans: [Plan] = []
        var diagnostics: [Diagnostic] = []
        for point in sweep.points {
            do {
                let plan = try CLI.plan(data: source.data, file: source.file, overrides: point.overrides, registry: registry)
                try CLI.refuseUnrunnable(plan, cache: cache, memoryLimit: configuration.memoryLimit)
                plans.append(plan)
            } catch let error as RecipeError {
                for diagnostic in error.diagnostics where !diagnostics.contains(diagnostic) { diagnostics.append(diagnostic) }
            }
        }
        if !diagnostics.isEmpty { throw RecipeError(diagnostics) }
        var folder = SweepFolder(directory: SweepFolder.newDirectory(runs: runsDirectory, recipeFolderName: Executor.folderName(plans[0].recipe.name)),
                                 recipeName: plans[0].recipe.name, recipeFile: source.file, sweep: sweep, launcher: launcher,
                                 cache: cache.root, runs: runsDirectory, workingDirectory: configuration.workingDirectory,
                                 threads: place.threads)
        if launcher == "slurm" {
            return try SweepCommand.submit(&folder, recipe: source.data, slurm: slurm ?? SlurmOptions(parsing: ""), json: output.json,
                                           configuration: configuration)
        }
        for device in Set(plans.map { place.device ?? $0.recipe.device }) {
            try Self.prepareDevice(device, threads: threads, quiet: output.quiet)
        }
        try SweepCommand.save(folder, recipe: source.data)
        var rows: [SweepReport.Row] = []
        for (plan, point) in zip(plans, folder.points) {
            if !output.quiet { ExitStatus.printError("== point \(point.index + 1)/\(folder.points.count): \(SweepFolder.label(point))") }
            rows.append(Self.runPoint(point, of: folder, plan: plan, registry: registry, cache: cache, threads: threads,
                                      device: place.device, quiet: output.quiet))
        }
        folder.writeComparison(rows)
        CLI.output(output.json ? SweepReport.json(rows).prettyJSON() + "\n" : SweepReport.text(rows) + folder.groupedText())
        return rows.contains { $0.error != nil } ? ExitStatus.failure : ExitStatus.success
    }

    /// Runs one grid point into its run folder; a failure becomes the row's error.
    /// `job`: the ranks of a multi-rank Slurm task (`srun`), which run the point together.
    static func runPoint(_ point: SweepFolder.Point, of folder: SweepFolder, plan: Plan, registry: StageRegistry,
                         cache: ArtifactCache, threads: Int, device: String?, quiet: Bool, job: MPICommunicator? = nil) -> SweepReport.Row {
        let runDirectory = folder.runDirectory(point)
        let executor = Executor(registry: registry, cache: cache,
                                options: ExecutorOptions(runsDirectory: URL(fileURLWithPath: folder.runs), runDirectory: runDirectory,
                                                         device: device, threads: threads, engineVersion: engineVersion,
                                                         echo: !quiet && !RankJob.isFollower, overrides: point.overrides,
                                                         observer: RankJob.isFollower ? nil : ReportingObserver(),
                                                         environment: Stages.runEnvironment(threads: threads, ranks: job?.size ?? 1),
                                                         coordinator: job))
        do {
            let summary = try executor.run(plan)
            return SweepReport.Row(assignments: point.assignments, runDirectory: runDirectory.path, metrics: summary.metrics)
        } catch {
            let message = (error as? RunError)?.message ?? ExitStatus.sentence(for: error)
            ExitStatus.printError("error: \(message)")
            return SweepReport.Row(assignments: point.assignments, runDirectory: runDirectory.path, metrics: [:], error: message)
        }
    }

    /// Checks the device before any work (a missing GPU fails at once, in one sentence), says
    /// when `auto` falls back to the CPU, and sets the engine's thread count. A data-parallel rank
    /// checks its local GPU (`localRank`, as the stages will take it).
    ///
    /// Returns the device the stages are to use: `auto` resolved to `cpu` or `opencl`, so the
    /// run log and each manifest name the device that ran, not the request.
    @discardableResult
    static func prepareDevice(_ device: String, threads: Int, quiet: Bool, localRank: Int = 0) throws -> String {
        let choice = try DeviceSelection.select(device, localRank: localRank)
        if let note = choice.note, !quiet { ExitStatus.printError(note) }
        CPUThreads.set(threads)
        guard device.lowercased() == "auto" else { return device }
        return choice.backend === CPUBackend.shared ? "cpu" : choice.backend.device.rawValue
    }
}
