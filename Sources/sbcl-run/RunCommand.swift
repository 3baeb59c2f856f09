import Foundation
import PipelineDSL
import Engine
import Reporting
import Stages

/// `sbcl-run [RECIPE] [overrides]` and its multirun form `-m`.
enum RunCommand {
    static let engineVersion = "sbcl 0.1"

    static func run(_ options: Options) throws -> Int32 {
        let registry = CLI.registry()
        let source = try CLI.recipeSource(options.positional)
        let sweep = try Sweep.parse(source.overrides)
        if !options.multirun, let axis = sweep.axes.first {
            throw UsageError("'\(axis.prefix)=\(axis.values.joined(separator: ","))' lists several values; add -m to run the grid, "
                             + "or write a list as [a, b]")
        }
        let cache = try options.cache()
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        let runsDirectory = URL(fileURLWithPath: options.runsDirectory ?? "runs", relativeTo: cwd).standardizedFileURL
        let threads = options.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let job = try RankJob.join()
        if options.multirun {
            if let job { throw UsageError("-m under a launcher (\(job.size) ranks) is not supported; run each point of the grid as its own job") }
            return try runGrid(sweep, source: source, registry: registry, cache: cache, runsDirectory: runsDirectory,
                               threads: threads, options: options)
        }
        let ranks = job?.size ?? 1
        let plan = try CLI.plan(data: source.data, file: source.file, overrides: sweep.fixed, registry: registry, ranks: ranks)
        // Ranks other than 0 write nothing and print nothing but errors (rank 0 logs the run).
        let quiet = options.quiet || RankJob.isFollower
        try prepareDevice(options.device ?? plan.recipe.device, threads: threads, quiet: quiet)
        let executor = Executor(registry: registry, cache: cache,
                                options: ExecutorOptions(runsDirectory: runsDirectory, device: options.device, threads: threads,
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

    /// Validates every point first (so a bad value fails before any work), then runs them in
    /// order; shared stages come from the cache after their first computation.
    static func runGrid(_ sweep: Sweep, source: (data: Data, file: String, overrides: [String]), registry: StageRegistry,
                        cache: ArtifactCache, runsDirectory: URL, threads: Int, options: Options) throws -> Int32 {
        guard !sweep.axes.isEmpty else { throw UsageError("-m needs at least one KEY=A,B override with several values") }
        let points = sweep.points
        var plans: [Plan] = []
        var diagnostics: [Diagnostic] = []
        for point in points {
            do { plans.append(try CLI.plan(data: source.data, file: source.file, overrides: point.overrides, registry: registry)) }
            catch let error as RecipeError {
                for diagnostic in error.diagnostics where !diagnostics.contains(diagnostic) { diagnostics.append(diagnostic) }
            }
        }
        if !diagnostics.isEmpty { throw RecipeError(diagnostics) }
        for device in Set(plans.map { options.device ?? $0.recipe.device }) {
            try prepareDevice(device, threads: threads, quiet: options.quiet)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let sweepDirectory = runsDirectory.appendingPathComponent("\(Executor.folderName(plans[0].recipe.name))-multirun-\(formatter.string(from: Date()))-\(getpid())")
        var rows: [SweepReport.Row] = []
        for (index, (plan, point)) in zip(plans, points).enumerated() {
            let label = point.assignments.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            let safe = String(label.map { $0.isLetter || $0.isNumber || "._=,-".contains($0) ? $0 : "_" }.prefix(120))
            let folder = sweepDirectory.appendingPathComponent("\(index)-\(safe)")
            if !options.quiet { ExitStatus.printError("== point \(index + 1)/\(points.count): \(label)") }
            let executor = Executor(registry: registry, cache: cache,
                                    options: ExecutorOptions(runsDirectory: runsDirectory, runDirectory: folder, device: options.device,
                                                             threads: threads, engineVersion: engineVersion, echo: !options.quiet,
                                                             overrides: point.overrides.map(\.argument), observer: ReportingObserver(),
                                                             environment: Stages.runEnvironment(threads: threads)))
            do {
                let summary = try executor.run(plan)
                rows.append(SweepReport.Row(assignments: point.assignments, runDirectory: folder.path, metrics: summary.metrics))
            } catch let error as RunError {
                ExitStatus.printError("error: \(error.message)")
                rows.append(SweepReport.Row(assignments: point.assignments, runDirectory: folder.path, metrics: [:], error: error.message))
            }
        }
        let table = SweepReport.text(rows)
        let json = SweepReport.json(rows).prettyJSON() + "\n"
        try? Data(table.utf8).write(to: sweepDirectory.appendingPathComponent("comparison.txt"))
        try? Data(json.utf8).write(to: sweepDirectory.appendingPathComponent("comparison.json"))
        try? ComparisonPage.write(rows.map { RunRecord(directory: URL(fileURLWithPath: $0.runDirectory)) },
                                  to: sweepDirectory.appendingPathComponent(RunRecord.reportFile),
                                  title: "\(plans[0].recipe.name): sweep over \(sweep.axes.map(\.prefix).joined(separator: ", "))")
        CLI.output(options.json ? json : table)
        return rows.contains { $0.error != nil } ? ExitStatus.failure : ExitStatus.success
    }

    /// Checks the device before any work (a missing GPU fails at once, in one sentence), says
    /// when `auto` falls back to the CPU, and sets the engine's thread count.
    static func prepareDevice(_ device: String, threads: Int, quiet: Bool) throws {
        let choice = try DeviceSelection.select(device)
        if let note = choice.note, !quiet { ExitStatus.printError(note) }
        CPUThreads.set(threads)
    }
}
