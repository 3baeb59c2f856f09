import Foundation
import PipelineDSL

/// A sweep as one Slurm job array: the job script (`job.sbatch` in the sweep folder) and its
/// submission. Array task i runs grid point i with `sbcl-run sweep task SWEEP_DIR i`, under `srun`
/// when a point has several ranks.
public struct SlurmJob: Sendable {
    /// The script's name in the sweep folder.
    public static let scriptFile = "job.sbatch"
    /// The folder of the tasks' output, one `point-<index>.out` each.
    public static let logFolder = "logs"

    /// The sweep it runs (its job id is filled in by `submit`).
    public var sweep: SweepFolder
    /// The user's sbatch options.
    public var options: SlurmOptions
    /// The `sbcl-run` the tasks run (absolute; on a cluster, on the shared file system).
    public var executable: String

    /// A job for `sweep`, run with `options` by `executable`.
    public init(sweep: SweepFolder, options: SlurmOptions, executable: String) {
        (self.sweep, self.options, self.executable) = (sweep, options, executable)
    }

    /// The job script.
    public var script: String {
        get throws {
            let ranks = try options.ranksPerPoint
            let launch = ranks > 1 ? "srun " : ""
            var command = "\(launch)\(Self.quoted(executable)) sweep task \(Self.quoted(sweep.directory.path)) \"$SLURM_ARRAY_TASK_ID\""
            if let threads = sweep.threads { command += " --threads \(threads)" }
            let name = String(sweep.recipeName.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
            return """
                #!/bin/bash
                # sbcl-run sweep of recipe '\(sweep.recipeName)' over \(sweep.axes.joined(separator: ", ")): \
                \(sweep.points.count) grid points, one array task each\(ranks > 1 ? ", \(ranks) ranks per task (srun)" : "").
                # Written and submitted by sbcl-run; see sweep.json for the grid and the sbatch command line.
                # Follow it with: sbcl-run sweep status \(Self.quoted(sweep.directory.path))
                #SBATCH --job-name=sbcl-\(name)
                #SBATCH --array=0-\(sweep.points.count - 1)
                #SBATCH --output=\(sweep.directory.appendingPathComponent("\(Self.logFolder)/point-%a.out").path)
                #SBATCH --chdir=\(sweep.workingDirectory)
                set -eu
                \(command)

                """
        }
    }

    /// The `sbatch` command line (user options before the script, so they win over its `#SBATCH` lines).
    public var submitCommand: [String] {
        ["sbatch", "--parsable"] + options.words + [sweep.directory.appendingPathComponent(Self.scriptFile).path]
    }

    /// Writes the script and the logs folder, submits the array with `sbatch`, records the job id
    /// in `sweep.json` and returns it.
    public mutating func submit(runner: CommandRunner) throws -> String {
        let scriptURL = sweep.directory.appendingPathComponent(Self.scriptFile)
        do {
            try FileManager.default.createDirectory(at: sweep.directory.appendingPathComponent(Self.logFolder),
                                                    withIntermediateDirectories: true)
            try Data(try script.utf8).write(to: scriptURL)
        } catch let error as UsageError {
            throw error
        } catch {
            throw RunError("cannot write \(scriptURL.path): \(error.localizedDescription)")
        }
        let command = submitCommand
        let result = try runner.run(command)
        guard result.status == 0 else {
            let said = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw RunError("sbatch refused the job (exit status \(result.status))\(said.isEmpty ? "" : ": \(said)")")
        }
        let firstLine = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
        let jobID = String(firstLine.prefix { $0 != ";" }).trimmingCharacters(in: .whitespaces)
        guard !jobID.isEmpty, jobID.allSatisfy(\.isNumber) else {
            throw RunError("sbatch printed no job id (expected a number, got '\(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))')")
        }
        sweep.jobID = jobID
        sweep.submitCommand = command
        try sweep.save()
        return jobID
    }

    /// A word for bash, in single quotes unless it is plainly safe.
    static func quoted(_ word: String) -> String {
        if !word.isEmpty, word.allSatisfy({ $0.isLetter || $0.isNumber || "/._-+=:,@".contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
