import Foundation

/// What Slurm says about a job array's tasks: `squeue` while the job is known to the controller
/// (running, pending, and finished ones for `MinJobAge`, 5 minutes by default), then `sacct`
/// where accounting is enabled.
public enum SlurmQueue {
    /// Slurm's state of each array task, by index (`RUNNING`, `COMPLETED`, `FAILED`, …); tasks
    /// Slurm does not list are absent. Nil when neither command answered (no Slurm here).
    public static func states(job: String, runner: CommandRunner) -> [Int: String]? {
        var states: [Int: String]?
        if let result = try? runner.run(["squeue", "-h", "-r", "--states=all", "-j", job, "-o", "%i|%T"]), result.status == 0 {
            states = parse(result.stdout, job: job)
        }
        if let result = try? runner.run(["sacct", "-n", "-P", "-X", "-j", job, "-o", "JobID,State"]), result.status == 0 {
            // squeue is fresher: it wins where both list a task.
            states = parse(result.stdout, job: job).merging(states ?? [:]) { _, queued in queued }
        }
        return states
    }

    /// Parses `JOB_INDEX|STATE` lines (squeue's `%i|%T`, sacct's `-P` `JobID,State`); lines of
    /// other jobs, of ranges of pending tasks (`123_[2-5]`) and of job steps are skipped, and a
    /// state's detail (`CANCELLED by 0`) is dropped.
    public static func parse(_ text: String, job: String) -> [Int: String] {
        var states: [Int: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "|", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, fields[0].hasPrefix(job + "_"), let index = Int(fields[0].dropFirst(job.count + 1)),
                  let state = fields[1].split(separator: " ").first else { continue }
            states[index] = String(state)
        }
        return states
    }

    /// Whether Slurm is done with a task in this state.
    public static func isFinished(_ state: String) -> Bool {
        !["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED", "STAGE_OUT",
          "SIGNALING", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"].contains(state)
    }
}
