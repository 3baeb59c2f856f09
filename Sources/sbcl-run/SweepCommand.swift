import ArgumentParser
import Foundation
import Launchers
import PipelineDSL
import Reporting

/// `sbcl-run sweep status SWEEP_DIR`, `sbcl-run sweep task SWEEP_DIR INDEX` (what a Slurm array
/// task runs), and the submission of a sweep with `--launcher slurm`.
struct SweepCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Follow a sweep (-m): 'sweep status SWEEP_DIR' shows each point's state, and the comparison once all finished.",
        discussion: "'sweep task SWEEP_DIR INDEX' runs one point: what each task of a Slurm job array runs.")

    @Argument(help: ArgumentHelp("status SWEEP_DIR, or task SWEEP_DIR INDEX.", valueName: "action"))
    var words: [String] = []

    @OptionGroup var place: PlaceOptions

    @OptionGroup var output: OutputOptions

    func run(_ configuration: Configuration) throws -> Int32 {
        let rest = Array(words.dropFirst())
        switch (words.first, rest.count) {
        case ("status", 1): return try status(SweepFolder(reading: rest[0]), configuration: configuration)
        case ("task", 2):
            guard let index = Int(rest[1]) else { throw UsageError("sweep task: '\(rest[1])' is not a point index") }
            return try task(SweepFolder(reading: rest[0]), index: index, configuration: configuration)
        case ("status", _): throw UsageError("expected 'sbcl-run sweep status SWEEP_DIR'")
        case ("task", _): throw UsageError("expected 'sbcl-run sweep task SWEEP_DIR INDEX'")
        default:
            throw UsageError("expected 'sweep status SWEEP_DIR' or 'sweep task SWEEP_DIR INDEX'\(words.first.map { ", found '\($0)'" } ?? "")")
        }
    }

    /// Writes `sweep.json` and the recipe every point runs.
    static func save(_ folder: SweepFolder, recipe: Data) throws {
        try folder.save()
        let url = folder.directory.appendingPathComponent(SweepFolder.recipeFile)
        do { try recipe.write(to: url) } catch { throw RunError("cannot write \(url.path): \(FileProblem.cause(of: error))") }
    }

    /// Submits the grid as one Slurm job array and says how to follow it. Nothing is left behind
    /// when sbatch is missing or refuses the job.
    static func submit(_ folder: inout SweepFolder, recipe: Data, slurm: SlurmOptions, json: Bool,
                       configuration: Configuration) throws -> Int32 {
        let runner = CommandRunner(path: configuration.path)
        guard runner.locate("sbatch") != nil else {
            throw RunError("sbatch not found on PATH: --launcher slurm needs Slurm's commands; run on a node of the cluster "
                           + "(a login node), or use --launcher local")
        }
        var job = SlurmJob(sweep: folder, options: slurm, executable: executablePath())
        let jobID: String
        do {
            try save(folder, recipe: recipe)
            jobID = try job.submit(runner: runner)
        } catch {
            try? FileManager.default.removeItem(at: folder.directory)
            throw error
        }
        folder = job.sweep
        let path = folder.directory.path
        if json {
            CLI.output(ParamValue.map(["job_id": .string(jobID), "sweep": .string(path), "points": .int(folder.points.count)])
                .prettyJSON() + "\n")
        } else {
            CLI.output("""
                submitted Slurm job \(jobID): \(folder.points.count) array tasks, one per grid point
                sweep folder: \(path)
                follow it:    sbcl-run sweep status \(path)
                task logs:    \(path)/\(SlurmJob.logFolder)/point-INDEX.out

                """)
        }
        return ExitStatus.success
    }

    /// This executable's absolute path, for the job script.
    static func executablePath() -> String {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return target }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        return URL(fileURLWithPath: CommandLine.arguments[0], relativeTo: cwd).standardizedFileURL.path
    }

    /// Runs point `index` of the sweep into its run folder; the last point to finish writes the comparison.
    func task(_ folder: SweepFolder, index: Int, configuration: Configuration) throws -> Int32 {
        guard folder.points.indices.contains(index) else {
            throw UsageError("sweep task: point \(index) does not exist; the sweep has points 0 to \(folder.points.count - 1)")
        }
        let point = folder.points[index]
        let recipeURL = folder.directory.appendingPathComponent(SweepFolder.recipeFile)
        guard let data = FileManager.default.contents(atPath: recipeURL.path) else {
            throw UsageError("\(recipeURL.path) is missing: the sweep folder is incomplete")
        }
        let cacheRoot = URL(fileURLWithPath: folder.cache)
        configuration.placeDriverCaches(cacheRoot: cacheRoot)
        let registry = configuration.registry(cacheRoot: cacheRoot)
        // A point asking for several tasks runs under srun: its ranks train it data-parallel.
        let job = try RankJob.join(configuration)
        let plan = try CLI.plan(data: data, file: folder.recipeFile, overrides: point.overrides.map(Override.parse), registry: registry,
                                ranks: job?.size ?? 1)
        let quiet = output.quiet || RankJob.isFollower
        let threads = place.threadCount(configuration, fallback: folder.threads)
        try RunCommand.prepareDevice(place.device ?? plan.recipe.device, threads: threads, quiet: quiet)
        let cache = try configuration.cache(root: cacheRoot)
        if !quiet { ExitStatus.printError("== point \(index + 1)/\(folder.points.count): \(SweepFolder.label(point))") }
        let row = RunCommand.runPoint(point, of: folder, plan: plan, registry: registry, cache: cache, threads: threads,
                                      device: place.device, quiet: quiet, job: job)
        if RankJob.isFollower { return row.error == nil ? ExitStatus.success : ExitStatus.failure }
        let status = SweepStatus(folder: folder, slurmStates: nil)
        if status.isFinished { folder.writeComparison(status.rows) }
        return row.error == nil ? ExitStatus.success : ExitStatus.failure
    }

    /// Prints each point's state and, once every point has finished, the comparison (written
    /// into the sweep folder too if no task did).
    func status(_ folder: SweepFolder, configuration: Configuration) throws -> Int32 {
        let runner = CommandRunner(path: configuration.path)
        let slurmStates = folder.launcher == "slurm" ? folder.jobID.flatMap { SlurmQueue.states(job: $0, runner: runner) } : nil
        let status = SweepStatus(folder: folder, slurmStates: slurmStates)
        if status.isFinished, !FileManager.default.fileExists(atPath: folder.directory.appendingPathComponent("comparison.txt").path) {
            folder.writeComparison(status.rows)
        }
        CLI.output(output.json ? status.json.prettyJSON() + "\n" : status.text)
        return ExitStatus.success
    }
}
