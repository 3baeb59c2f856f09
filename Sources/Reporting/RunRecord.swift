import Foundation
import PipelineDSL

/// What a run folder holds, read back for reports and comparisons: whatever exists (a run that
/// failed halfway has no test metrics), with the names of what is missing.
package struct RunRecord: Sendable {
    /// The run's HTML report.
    package static let reportFile = "report.html"
    /// The metrics every comparison shows, in order.
    package static let headlineMetrics = ["top1", "top5", "many", "medium", "few"]

    /// One stage's line of `run.json`.
    package struct Stage: Sendable {
        package var name: String, kind: String, hash: String
        /// `cached`, `ran`, `resumed`, `failed` or `pending` (not reached).
        package var outcome: String
        /// Seconds in this run, and for a cached stage the seconds it took when computed.
        package var seconds: Double?, computeSeconds: Double?
        package var failure: String?
    }

    /// The run folder.
    package let directory: URL
    /// `metrics.json` (empty when missing).
    package var metrics: [String: ParamValue] = [:]
    /// `metrics.jsonl`, one record per stage, event and epoch.
    package var records: [EpochRecord] = []
    /// `run.json`: overrides, flattened recipe keys, status, stages.
    package var info: [String: ParamValue] = [:]
    /// The resolved recipe (`recipe.yaml`).
    package var recipeText: String?
    /// Files the folder lacks, of those a complete run has.
    package var missingFiles: [String] = []

    /// Reads the folder; never throws (missing or unreadable files are listed in `missingFiles`).
    package init(directory: URL) {
        self.directory = directory
        func read(_ name: String) -> String? {
            let text = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            if text == nil { missingFiles.append(name) }
            return text
        }
        recipeText = read("recipe.yaml")
        metrics = read("metrics.json").flatMap { ParamValue.parseJSON($0)?.mapValue } ?? [:]
        records = read("metrics.jsonl").map(EpochRecord.parseLines) ?? []
        info = read("run.json").flatMap { ParamValue.parseJSON($0)?.mapValue } ?? [:]
    }

    /// The folder's name (the run's label in comparisons).
    package var name: String { directory.lastPathComponent }
    /// The recipe's name.
    package var recipeName: String { info["recipe"]?.stringValue ?? name }
    /// `complete`, `failed`, `running` (or killed), or `unknown` (no `run.json`).
    package var status: String { info["status"]?.stringValue ?? "unknown" }
    /// The failure message of a failed run.
    package var failure: String? { info["failure"]?.stringValue }
    /// The command line's overrides.
    package var overrides: [String] { info["overrides"]?.listValue?.compactMap(\.stringValue) ?? [] }
    /// Every resolved recipe key, dotted (`stages.loss.variant`).
    package var parameters: [String: ParamValue] { info["parameters"]?.mapValue ?? [:] }
    /// A scalar metric.
    package func metric(_ name: String) -> Double? { metrics[name]?.doubleValue }

    /// The stages in run order.
    package var stages: [Stage] {
        (info["stages"]?.listValue ?? []).compactMap { value in
            guard let map = value.mapValue, let name = map["name"]?.stringValue else { return nil }
            return Stage(name: name, kind: map["kind"]?.stringValue ?? "?", hash: map["hash"]?.stringValue ?? "",
                         outcome: map["outcome"]?.stringValue ?? "pending", seconds: map["seconds"]?.doubleValue,
                         computeSeconds: map["compute_seconds"]?.doubleValue, failure: map["failure"]?.stringValue)
        }
    }

    /// Seconds the run took (its stages in this run).
    package var seconds: Double { stages.compactMap(\.seconds).reduce(0, +) }

    /// The names of the stages of `kind`.
    package func stageNames(kind: String) -> [String] { stages.filter { $0.kind == kind }.map(\.name) }

    /// The per-epoch records of `stage` (event `epoch`), by epoch.
    package func epochs(of stage: String) -> [EpochRecord] {
        records.filter { $0.stage == stage && $0.event == "epoch" }.sorted { $0.epoch < $1.epoch }
    }

    /// The re-clustering records of `stage`, by epoch.
    package func reclusterings(of stage: String) -> [EpochRecord] {
        records.filter { $0.stage == stage && $0.event == "recluster" }.sorted { $0.epoch < $1.epoch }
    }

    /// Class names from the evaluation, else `class 0`, `class 1`, ….
    package func classNames(count: Int) -> [String] {
        let names = metrics["class_names"]?.listValue?.compactMap(\.stringValue) ?? []
        return names.count == count ? names : (0..<count).map { "class \($0)" }
    }

    /// What a complete run would show that this one lacks, in words.
    package var missingParts: [String] {
        var parts: [String] = []
        let failed = stages.first { $0.outcome == "failed" }
        let notReached = stages.filter { $0.outcome == "pending" }.map(\.name)
        if let failed { parts.append(failed.failure ?? "stage '\(failed.name)' (\(failed.kind)) failed") }
        if !notReached.isEmpty { parts.append("not run: \(notReached.map { "'\($0)'" }.joined(separator: ", "))") }
        if metric("top1") == nil { parts.append("no test metrics (top-1, many / medium / few, per-class accuracy, confusion matrix)") }
        if !stageNames(kind: "encoder").isEmpty && stageNames(kind: "encoder").allSatisfy({ epochs(of: $0).isEmpty }) {
            parts.append("no first-stage epochs were recorded")
        }
        for file in missingFiles where !(file == "metrics.json" && metric("top1") == nil) { parts.append("\(file) is missing") }
        if status == "running" { parts.append("the run did not finish (killed, or still running)") }
        return parts
    }
}
