import Foundation
import PipelineDSL
import Engine
import Launchers
import MPITransport
import Reporting
import Stages

/// `sbcl-run [RECIPE] [overrides]` and its multirun form `-m`.
enum RunCommand {
    static let engineVersion = "sbcl 0.1"

    static func run(_ options: Options) throws -> Int32 {
        let registry = CLI.registry()
        let source = try CLI.recipeSource(options.positional)
        let sweep = try Sweep.parse(source.overrides)
        if options.launcher == "slurm" && !options.multirun {
            throw UsageError("--launcher slurm submits a sweep; add -m and at least one KEY=A,B override")
        }
        if options.slurm != nil && options.launcher != "slurm" {
            throw UsageError("--slurm gives sbatch options for --launcher slurm; add --launcher slurm")
        }
        if !options.multirun, let axis = sweep.axes.first {
            throw UsageError("'\(axis.prefix)=\(axis.values.joined(separator: ","))' lists several values; add -m to run the grid, "
                             + "or write a list as [a, b]")
        }
        let cache = try options.cache()
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        let runsDirectory = URL(fileURLWithPath: options.runsDirectory ?? "runs", relativeTo: cwd).standardizedFileURL
        let threads = options.threadCount
        let job = try RankJob.join()
        if options.multirun {
            if let job { throw UsageError("-m under a launcher (\(job.size) ranks) is not supported; run each point of the grid as its own job") }
            return try runGrid(sweep, source: source, registry: registry, cache: cache, runsDirectory: runsDirectory,
                               threads: threads, options: options)
        }
        let ranks = job?.size ?? 1
        let plan = try CLI.plan(data: source.data, file: source.file, overrides: sweep.fixed, registry: registry, ranks: ranks)
        try CLI.refuseUnrunnable(plan, cache: cache)
        // Ranks other than 0 write nothing and print nothing but errors (rank 0 logs the run).
        let quiet = options.quiet || RankJob.isFollower
        let device = try prepareDevice(options.device ?? plan.recipe.device, threads: threads, quiet: quiet)
        let executor = Executor(registry: registry, cache: cache,
                                options: ExecutorOptions(runsDirectory: runsDirectory, device: device, threads: threads,
                                                         engineVersion: engineVersion, echo: !quiet,
                                                         overrides: source.overrides, observer: RankJob.isFollower ? nil : ReportingObserver(),
                                                         environment: Stages.runEnvironment(threads: threads, ranks: ranks),
                                                         coordinator: job))
        let summary = try executor.run(plan)
        if RankJob.isFollower { return ExitStatus.success }
        if options.json {
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
    static func runGrid(_ sweep: Sweep, source: (data: Data, file: String, overrides: [String]), registry: StageRegistry,
                        cache: ArtifactCache, runsDirectory: URL, threads: Int, options: Options) throws -> Int32 {
        guard !sweep.axes.isEmpty else { throw UsageError("-m needs at least one KEY=A,B override with several values") }
        var plans: [Plan] = []
        var diagnostics: [Diagnostic] = []
        for point in sweep.points {
            do {
                let plan = try CLI.plan(data: source.data, file: source.file, overrides: point.overrides, registry: registry)
                try CLI.refuseUnrunnable(plan, cache: cache)
                plans.append(plan)
            } catch let error as RecipeError {
                for diagnostic in error.diagnostics where !diagnostics.contains(diagnostic) { diagnostics.append(diagnostic) }
            }
        }
        if !diagnostics.isEmpty { throw RecipeError(diagnostics) }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        var folder = SweepFolder(directory: SweepFolder.newDirectory(runs: runsDirectory, recipeFolderName: Executor.folderName(plans[0].recipe.name)),
                                 recipeName: plans[0].recipe.name, recipeFile: source.file, sweep: sweep, launcher: options.launcher,
                                 cache: cache.root, runs: runsDirectory, workingDirectory: cwd, threads: options.threads)
        if options.launcher == "slurm" { return try SweepCommand.submit(&folder, recipe: source.data, options: options) }
        for device in Set(plans.map { options.device ?? $0.recipe.device }) {
            try prepareDevice(device, threads: threads, quiet: options.quiet)
        }
        try SweepCommand.save(folder, recipe: source.data)
        var rows: [SweepReport.Row] = []
        for (plan, point) in zip(plans, folder.points) {
            if !options.quiet { ExitStatus.printError("== point \(point.index + 1)/\(folder.points.count): \(SweepFolder.label(point))") }
            rows.append(runPoint(point, of: folder, plan: plan, registry: registry, cache: cache, threads: threads, options: options))
        }
        folder.writeComparison(rows)
        CLI.output(options.json ? SweepReport.json(rows).prettyJSON() + "\n" : SweepReport.text(rows))
        return rows.contains { $0.error != nil } ? ExitStatus.failure : ExitStatus.success
    }

    /// Runs one grid point into its run folder; a failure becomes the row's error.
    /// `job`: the ranks of a multi-rank Slurm task (`srun`), which run the point together.
    static func runPoint(_ point: SweepFolder.Point, of folder: SweepFolder, plan: Plan, registry: StageRegistry,
                         cache: ArtifactCache, threads: Int, options: Options, job: MPICommunicator? = nil) -> SweepReport.Row {
        let runDirectory = folder.runDirectory(point)
        let executor = Executor(registry: registry, cache: cache,
                                options: ExecutorOptions(runsDirectory: URL(fileURLWithPath: folder.runs), runDirectory: runDirectory,
                                                         device: options.device, threads: threads, engineVersion: engineVersion,
                                                         echo: !options.quiet && !RankJob.isFollower, overrides: point.overrides,
                                                         observer: RankJob.isFollower ? nil : ReportingObserver(),
                                                         environment: Stages.runEnvironment(threads: threads, ranks: job?.size ?? 1),
                                                         coordinator: job))
        do {
            let summary = try executor.run(plan)
            return SweepReport.Row(assignments: point.assignments, runDirectory: runDirectory.path, metrics: summary.metrics)
        } catch {
            let message = (error as? RunError)?.message ?? String(describing: error)
            ExitStatus.printError("error: \(message)")
            return SweepReport.Row(assignments: point.assignments, runDirectory: runDirectory.path, metrics: [:], error: message)
        }
    }

    /// Checks the device before any work (a missing GPU fails at once, in one sentence), says
    /// when `auto` falls back to the CPU, and sets the engine's thread count.
    ///
    /// Returns the device the stages are to use: `auto` resolved to `cpu` or `opencl`, so the
    /// run log and each manifest name the device that ran, not the request.
    @discardableResult
    static func prepareDevice(_ device: String, threads: Int, quiet: Bool) throws -> String {
        let choice = try DeviceSelection.select(device)
        if let note = choice.note, !quiet { ExitStatus.printError(note) }
        CPUThreads.set(threads)
        guard device.lowercased() == "auto" else { return device }
        return choice.backend === CPUBackend.shared ? "cpu" : choice.backend.device.rawValue
    }
}
