import Foundation
import PipelineDSL

/// Runs side by side (`sbcl-run compare`, a sweep's page): each run's recipe keys that differ
/// from the first run's, its headline metrics and time. The comparison's keys are those the runs
/// were launched with as overrides; a run whose recipe differs in any other key is flagged, since
/// its numbers may not be comparable.
package struct RunComparison: Sendable {
    /// One run's line.
    package struct Row: Sendable {
        package var run: RunRecord
        /// Keys whose value differs from the first run's, sorted, as `key=value`.
        package var differences: [(key: String, value: String)]
        /// The differing keys outside the comparison.
        package var flagged: [String]
    }

    /// The rows, in the order the runs were given.
    package var rows: [Row]
    /// The keys the comparison is about.
    package var keys: [String]

    /// Compares `runs` (the first is the baseline).
    package init(_ runs: [RunRecord]) {
        keys = Array(Set(runs.flatMap { $0.overrides.compactMap(Self.overrideKey) })).sorted()
        let base = runs.first?.parameters ?? [:]
        let keys = self.keys
        rows = runs.map { run in
            let parameters = run.parameters
            let differing = Set(base.keys).union(parameters.keys).filter { base[$0] != parameters[$0] }.sorted()
            let differences = differing.map { (key: $0, value: parameters[$0].map(Self.text) ?? "(absent)") }
            let flagged = differing.filter { key in !keys.contains { key == $0 || key.hasPrefix($0 + ".") } }
            return Row(run: run, differences: differences, flagged: flagged)
        }
    }

    /// The key an override sets (`+a.b=1` → `a.b`, `~a.b` → `a.b`).
    static func overrideKey(_ override: String) -> String? {
        let key = override.split(separator: "=", maxSplits: 1).first.map(String.init) ?? override
        let trimmed = key.trimmingCharacters(in: CharacterSet(charactersIn: "+~ "))
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A recipe value as overrides write it (strings bare).
    static func text(_ value: ParamValue) -> String {
        if case .string(let string) = value { return string }
        return RecipeWriter.scalar(value)
    }

    /// Whether any run is flagged.
    package var hasFlags: Bool { rows.contains { !$0.flagged.isEmpty } }

    /// The warning lines for flagged runs.
    package var warnings: [String] {
        rows.filter { !$0.flagged.isEmpty }.map {
            "\($0.run.name) differs from \(rows[0].run.name) in keys outside the comparison: \($0.flagged.joined(separator: ", "))"
        }
    }

    static let columns = ["run", "overrides", "top1", "top5", "many", "medium", "few", "seconds", "status"]

    /// Each row's cells, in `columns` order (numbers with two decimals, `-` when missing).
    var cells: [[String]] {
        rows.enumerated().map { index, row in
            let overrides = index == 0 ? (row.run.overrides.isEmpty ? "(baseline)" : row.run.overrides.joined(separator: " "))
                : row.differences.isEmpty ? "(same recipe)" : row.differences.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return [row.run.name, overrides] + RunRecord.headlineMetrics.map { row.run.metric($0).map { String(format: "%.2f", $0) } ?? "-" }
                + [String(format: "%.1f", row.run.seconds), row.run.status + (row.flagged.isEmpty ? "" : " (flagged)")]
        }
    }

    /// An aligned text table, then the warnings.
    package var text: String {
        Table.render(header: Self.columns, rows: cells) + warnings.map { "warning: \($0)\n" }.joined()
    }

    /// A Markdown table, then the warnings.
    package var markdown: String {
        func line(_ cells: [String]) -> String { "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n" }
        return line(Self.columns) + line(Self.columns.map { _ in "---" }) + cells.map(line).joined()
            + (warnings.isEmpty ? "" : "\n" + warnings.map { "> **warning:** \($0)\n" }.joined())
    }

    /// CSV (RFC 4180 quoting) with a `flagged` column.
    package var csv: String {
        func field(_ text: String) -> String {
            text.contains(where: { ",\"\n".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        let header = Self.columns + ["flagged"]
        return ([header] + zip(cells, rows).map { $0 + [$1.flagged.joined(separator: " ")] })
            .map { $0.map(field).joined(separator: ",") + "\n" }.joined()
    }

    /// `{"keys": [...], "runs": [{"run", "path", "overrides", "differences", "metrics", "seconds", "status", "flagged"}]}`.
    package var json: ParamValue {
        .map([
            "keys": .list(keys.map(ParamValue.string)),
            "runs": .list(rows.map { row in
                .map([
                    "run": .string(row.run.name), "path": .string(row.run.directory.path),
                    "overrides": .list(row.run.overrides.map(ParamValue.string)),
                    "differences": .map(Dictionary(row.differences.map { ($0.key, ParamValue.string($0.value)) }, uniquingKeysWith: { $1 })),
                    "metrics": .map(row.run.metrics.filter { RunRecord.headlineMetrics.contains($0.key) }),
                    "seconds": .float((row.run.seconds * 100).rounded() / 100), "status": .string(row.run.status),
                    "flagged": .list(row.flagged.map(ParamValue.string)),
                ])
            }),
        ])
    }
}
