import Foundation
import Launchers
import PipelineDSL
import Reporting

/// `sbcl-run sweep status SWEEP_DIR`, `sbcl-run sweep task SWEEP_DIR INDEX` (what a Slurm array
/// task runs), and the submission of a sweep with `--launcher slurm`.
enum SweepCommand {
    static func run(_ arguments: [String]) throws -> Int32 {
        let options = try Options.parse(Array(arguments.dropFirst()))
        switch (arguments.first, options.positional.count) {
        case ("status", 1): return try status(SweepFolder(reading: options.positional[0]), options: options)
        case ("task", 2):
            guard let index = Int(options.positional[1]) else {
                throw UsageError("sweep task: '\(options.positional[1])' is not a point index")
            }
            return try task(SweepFolder(reading: options.positional[0]), index: index, options: options)
        case ("status", _): throw UsageError("expected 'sbcl-run sweep status SWEEP_DIR'")
        case ("task", _): throw UsageError("expected 'sbcl-run sweep task SWEEP_DIR INDEX'")
        default:
            throw UsageError("expected 'sweep status SWEEP_DIR' or 'sweep task SWEEP_DIR INDEX'\(arguments.first.map { ", found '\($0)'" } ?? "")")
        }
    }

    /// Writes `sweep.json` and the recipe every point runs.
    static func save(_ folder: SweepFolder, recipe: Data) throws {
        try folder.save()
        let url = folder.directory.appendingPathComponent(SweepFolder.recipeFile)
        do { try recipe.write(to: url) } catch { throw RunError("cannot write \(url.path): \(error.localizedDescription)") }
    }

    /// Submits the grid as one Slurm job array and says how to follow it. Nothing is left behind
    /// when sbatch is missing or refuses the job.
    static func submit(_ folder: inout SweepFolder, recipe: Data, options: Options) throws -> Int32 {
        let slurmOptions = try SlurmOptions(parsing: options.slurm ?? "")
        let runner = CommandRunner()
        guard runner.locate("sbatch") != nil else {
            throw RunError("sbatch not found on PATH: --launcher slurm needs Slurm's commands; run on a node of the cluster "
                           + "(a login node), or use --launcher local")
        }
        var job = SlurmJob(sweep: folder, options: slurmOptions, executable: executablePath())
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
        if options.json {
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
    static func task(_ folder: SweepFolder, index: Int, options: Options) throws -> Int32 {
        guard folder.points.indices.contains(index) else {
            throw UsageError("sweep task: point \(index) does not exist; the sweep has points 0 to \(folder.points.count - 1)")
        }
        let point = folder.points[index]
        let recipeURL = folder.directory.appendingPathComponent(SweepFolder.recipeFile)
        guard let data = FileManager.default.contents(atPath: recipeURL.path) else {
            throw UsageError("\(recipeURL.path) is missing: the sweep folder is incomplete")
        }
        let registry = CLI.registry()
        // A point asking for several tasks runs under srun: its ranks train it data-parallel.
        let job = try RankJob.join()
        let plan = try CLI.plan(data: data, file: folder.recipeFile, overrides: point.overrides.map(Override.parse), registry: registry,
                                ranks: job?.size ?? 1)
        var options = options
        options.quiet = options.quiet || RankJob.isFollower
        options.threads = options.threads ?? folder.threads
        let threads = options.threadCount
        try RunCommand.prepareDevice(options.device ?? plan.recipe.device, threads: threads, quiet: options.quiet)
        let cache = try ArtifactCache(root: URL(fileURLWithPath: folder.cache),
                                      lockPolicy: LockPolicy(environment: ProcessInfo.processInfo.environment))
        if !options.quiet { ExitStatus.printError("== point \(index + 1)/\(folder.points.count): \(SweepFolder.label(point))") }
        let row = RunCommand.runPoint(point, of: folder, plan: plan, registry: registry, cache: cache, threads: threads, options: options,
                                      job: job)
        if RankJob.isFollower { return row.error == nil ? ExitStatus.success : ExitStatus.failure }
        let status = SweepStatus(folder: folder, slurmStates: nil)
        if status.isFinished { folder.writeComparison(status.rows) }
        return row.error == nil ? ExitStatus.success : ExitStatus.failure
    }

    /// Prints each point's state and, once every point has finished, the comparison (written
    /// into the sweep folder too if no task did).
    static func status(_ folder: SweepFolder, options: Options) throws -> Int32 {
        let slurmStates = folder.launcher == "slurm" ? folder.jobID.flatMap { SlurmQueue.states(job: $0) } : nil
        let status = SweepStatus(folder: folder, slurmStates: slurmStates)
        if status.isFinished, !FileManager.default.fileExists(atPath: folder.directory.appendingPathComponent("comparison.txt").path) {
            folder.writeComparison(status.rows)
        }
        CLI.output(options.json ? status.json.prettyJSON() + "\n" : status.text)
        return ExitStatus.success
    }
}
