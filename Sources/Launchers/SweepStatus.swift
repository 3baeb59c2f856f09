import Foundation
import PipelineDSL
import Reporting

/// Where each point of a sweep stands (`sbcl-run sweep status`): read from its run folder and,
/// for a Slurm sweep, from what Slurm says of its array task.
package struct SweepStatus: Sendable {
    /// A point's state.
    package enum State: String, Sendable {
        case pending, running, done, failed
    }

    /// One point's line.
    package struct Line: Sendable {
        /// The point and its state.
        package var point: SweepFolder.Point, state: State
        /// Slurm's word for its task, when Slurm was asked and knows it.
        package var slurmState: String?
        /// Why it failed, when it did.
        package var failure: String?
        /// Its run folder, read back (nil before the task starts).
        package var record: RunRecord?
    }

    /// The sweep, and one line per point in grid order.
    package var folder: SweepFolder, lines: [Line]
    /// Whether Slurm answered about the job (false for a local sweep, or when neither squeue nor
    /// sacct knows the job any more).
    package var slurmAnswered: Bool

    /// Reads every point's run folder; `slurmStates` (by array index) is nil when Slurm could not be asked.
    package init(folder: SweepFolder, slurmStates: [Int: String]?) {
        self.folder = folder
        slurmAnswered = slurmStates.map { !$0.isEmpty } ?? false
        lines = folder.points.map { point in
            let directory = folder.runDirectory(point)
            let record = FileManager.default.fileExists(atPath: directory.appendingPathComponent("run.json").path)
                ? RunRecord(directory: directory) : nil
            let slurm = slurmStates?[point.index]
            let (state, failure) = Self.state(runStatus: record?.status, runFailure: record?.failure, slurm: slurm)
            return Line(point: point, state: state, slurmState: slurm, failure: failure, record: record)
        }
    }

    /// A point's state from its run folder's status (`running`, `complete`, `failed`, or nil
    /// before it starts) and Slurm's state of its task (nil when unknown): a run that says
    /// `running` in a task Slurm has finished was killed.
    static func state(runStatus: String?, runFailure: String?, slurm: String?) -> (State, String?) {
        let ended = slurm.map(SlurmQueue.isFinished) ?? false
        switch runStatus {
        case "complete": return (.done, nil)
        case "failed": return (.failed, runFailure ?? "the run failed")
        case .some: return ended ? (.failed, "its Slurm task ended (\(slurm!)) before the run finished") : (.running, nil)
        case nil:
            if ended { return (.failed, "its Slurm task ended (\(slurm!)) before the run started; see its log in logs/") }
            return slurm == nil || slurm == "PENDING" ? (.pending, nil) : (.running, nil)
        }
    }

    /// Whether every point is done or failed.
    package var isFinished: Bool { lines.allSatisfy { $0.state == .done || $0.state == .failed } }

    /// How many points are in `state`.
    package func count(_ state: State) -> Int { lines.filter { $0.state == state }.count }

    /// The comparison's rows, as a local sweep ends with.
    package var rows: [SweepReport.Row] {
        lines.map { line in
            SweepReport.Row(assignments: line.point.assignments, runDirectory: folder.runDirectory(line.point).path,
                            metrics: line.record?.metrics ?? [:], error: line.state == .failed ? line.failure : nil)
        }
    }

    /// The summary line, a table of points, and the comparison once every point has finished.
    package var text: String {
        let job = folder.jobID.map { ", Slurm job \($0)" } ?? ""
        let counts = [State.done, .failed, .running, .pending].map { "\(count($0)) \($0.rawValue)" }.joined(separator: ", ")
        var text = "sweep \(folder.recipeName) (\(folder.launcher)\(job)): \(folder.points.count) points: \(counts)\n"
        if let id = folder.jobID, !slurmAnswered {
            text += "(Slurm says nothing of job \(id) here: states come from the run folders alone)\n"
        }
        text += Table.render(header: ["point", "state", "slurm", "overrides", "run"], rows: lines.map { line in
            [String(line.point.index), line.state.rawValue, line.slurmState ?? "-", SweepFolder.label(line.point),
             line.failure.map { "\(line.point.folder): \($0)" } ?? line.point.folder]
        })
        if isFinished {
            text += "\ncomparison:\n" + SweepReport.text(rows) + folder.groupedText()
        } else {
            text += "\nthe comparison appears here once every point has finished\n"
        }
        return text
    }

    /// `{"sweep", "launcher", "job_id", "finished", "points": [...], "comparison": [...], "groups": {...}}`
    /// (`groups`, the seeds' statistics per setting as in `groups.json`, once a seeded sweep has finished).
    package var json: ParamValue {
        var map: [String: ParamValue] = [
            "sweep": .string(folder.directory.path), "recipe": .string(folder.recipeName), "launcher": .string(folder.launcher),
            "finished": .bool(isFinished),
            "points": .list(lines.map { line in
                var entry: [String: ParamValue] = [
                    "index": .int(line.point.index), "state": .string(line.state.rawValue),
                    "run": .string(folder.runDirectory(line.point).path),
                    "overrides": .map(Dictionary(line.point.assignments.map { ($0.key, .string($0.value)) }, uniquingKeysWith: { $1 })),
                ]
                if let slurm = line.slurmState { entry["slurm_state"] = .string(slurm) }
                if let failure = line.failure { entry["failure"] = .string(failure) }
                return .map(entry)
            }),
        ]
        if let job = folder.jobID { map["job_id"] = .string(job) }
        if isFinished {
            map["comparison"] = SweepReport.json(rows)
            if let groups = folder.seedGroups(folder.pointRecords()) { map["groups"] = groups.json }
        }
        return .map(map)
    }
}

extension SweepFolder {
    /// Writes the comparison of `rows` into the folder: `comparison.txt`, `comparison.json` and
    /// the HTML page. Best effort: a read-only folder loses the files, not the sweep.
    /// With a seed axis, also `groups.json` (the seeds' statistics per setting), and every
    /// point's own report is written again so that it shows where the run sits among its siblings.
    package func writeComparison(_ rows: [SweepReport.Row]) {
        try? Data((SweepReport.text(rows) + groupedText()).utf8).write(to: directory.appendingPathComponent("comparison.txt"), options: .atomic)
        try? Data((SweepReport.json(rows).prettyJSON() + "\n").utf8)
            .write(to: directory.appendingPathComponent("comparison.json"), options: .atomic)
        let records = pointRecords()
        if let groups = seedGroups(records) {
            try? Data((groups.json.prettyJSON() + "\n").utf8).write(to: directory.appendingPathComponent(Self.groupsFile), options: .atomic)
            for record in records where FileManager.default.fileExists(atPath: record.directory.appendingPathComponent("run.json").path) {
                try? RunReportPage.write(record, to: record.directory.appendingPathComponent(RunRecord.reportFile))
            }
        }
        try? ComparisonPage.write(records, to: directory.appendingPathComponent(RunRecord.reportFile),
                                  title: "\(recipeName): sweep over \(axes.joined(separator: ", "))", groupBy: seedAxis ? settingAxes : nil)
    }

    /// The seeds' statistics file of a sweep with a seed axis.
    package static let groupsFile = "groups.json"

    /// Whether `seed` is one of the swept keys.
    package var seedAxis: Bool { axes.contains("seed") }
    /// The swept keys other than the seed: what a seeded sweep's groups are.
    package var settingAxes: [String] { axes.filter { $0 != "seed" } }

    /// Every point's run folder read back, in grid order. A point whose run never wrote `run.json`
    /// (never started, or killed before) gets its own swept values and a `never started` status,
    /// so that it is counted in its setting's group as a seed that did not run.
    package func pointRecords() -> [RunRecord] {
        points.map { point in
            var record = RunRecord(directory: runDirectory(point))
            if record.info.isEmpty {
                record.info = ["status": .string("never started"),
                               "failure": .string("never started: no run.json in \(point.folder)"),
                               "parameters": .map(Dictionary(point.assignments.map { ($0.key, Self.scalar($0.value)) },
                                                             uniquingKeysWith: { $1 }))]
            }
            return record
        }
    }

    /// A swept value as the recipe holds it (the integer, number or boolean it spells, else the text).
    static func scalar(_ text: String) -> ParamValue {
        if let int = Int(text) { return .int(int) }
        if let number = Double(text) { return .float(number) }
        if text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }

    /// The points grouped by setting over the seed axis (nil without one).
    func seedGroups(_ records: [RunRecord]) -> SeedGroups? {
        guard seedAxis else { return nil }
        return try? SeedGroups(records, keys: settingAxes)
    }

    /// The grouped table after a blank line, or nothing for a sweep without a seed axis.
    package func groupedText() -> String {
        seedGroups(pointRecords()).map { "\n" + $0.text } ?? ""
    }
}
