import ArgumentParser
import Foundation
import PipelineDSL
import Reporting

/// `sbcl-run compare RUN_DIR… [--group-by KEY[,KEY]] [--baseline GROUP] [--json|--csv|--markdown]`.
struct CompareCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "compare", abstract: "Compare runs side by side (a sweep folder stands for its points).",
        discussion: "Runs of several seeds are grouped by setting (every key that differs except the seed, or --group-by): "
            + "per group n, mean ± sd and min–max, and per pair of groups (or against --baseline) the difference with Welch's t-test.")

    /// The table's format.
    enum Format: String, EnumerableFlag {
        case text, json, csv, markdown
    }

    @Argument(help: ArgumentHelp("Run folders, or sweep folders.", valueName: "run-dir"))
    var folders: [String] = []

    @Flag(help: "The table's format (default: text).")
    var format: Format = .text

    @Option(name: .customLong("group-by"),
            help: ArgumentHelp("Group runs by these recipe keys, averaging over seeds (default, when seeds repeat: every key that differs except seed).",
                               valueName: "key[,key]"))
    var groupBy: String?

    @Option(help: ArgumentHelp("Compare every group against this one (its label or values, e.g. supcon) instead of every pair.",
                               valueName: "group"))
    var baseline: String?

    func run(_ configuration: Configuration) throws -> Int32 {
        let runs = try Self.runs(folders, command: "compare")
        if groupBy != nil || baseline != nil || SeedGroups.hasRepeatedSeeds(runs) {
            let keys = groupBy.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            let groups = try SeedGroups(runs, keys: keys, baseline: baseline)
            switch format {
            case .json: CLI.output(groups.json.prettyJSON() + "\n")
            case .csv: CLI.output(groups.csv)
            case .markdown: CLI.output(groups.markdown)
            case .text: CLI.output(groups.text)
            }
            return ExitStatus.success
        }
        let comparison = RunComparison(runs)
        switch format {
        case .json: CLI.output(comparison.json.prettyJSON() + "\n")
        case .csv: CLI.output(comparison.csv)
        case .markdown: CLI.output(comparison.markdown)
        case .text: CLI.output(comparison.text)
        }
        return ExitStatus.success
    }

    /// The run folders named (a sweep folder stands for its points, in order).
    static func runs(_ paths: [String], command: String) throws -> [RunRecord] {
        guard !paths.isEmpty else { throw UsageError("\(command) needs at least one run folder: sbcl-run \(command) RUN_DIR…") }
        return try paths.flatMap { path -> [RunRecord] in
            let url = URL(fileURLWithPath: path).standardizedFileURL
            let manager = FileManager.default
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw UsageError("\(path) is not a run folder")
            }
            let isRun = ["recipe.yaml", "run.json", "metrics.json"].contains { manager.fileExists(atPath: url.appendingPathComponent($0).path) }
            if isRun { return [RunRecord(directory: url)] }
            let points = ((try? manager.contentsOfDirectory(atPath: url.path)) ?? [])
                .filter { manager.fileExists(atPath: url.appendingPathComponent("\($0)/recipe.yaml").path) }
                .sorted { (Int($0.prefix { $0.isNumber }) ?? 0, $0) < (Int($1.prefix { $0.isNumber }) ?? 0, $1) }
            guard !points.isEmpty else { throw UsageError("\(path) holds no run (no recipe.yaml, run.json or metrics.json)") }
            return points.map { RunRecord(directory: url.appendingPathComponent($0)) }
        }
    }
}

/// `sbcl-run report RUN_DIR… -o FILE`.
struct ReportCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write one run's HTML report, or a page comparing runs.")

    @Argument(help: ArgumentHelp("Run folders, or sweep folders.", valueName: "run-dir"))
    var folders: [String] = []

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The HTML page to write.", valueName: "file"))
    var output: String?

    func run(_ configuration: Configuration) throws -> Int32 {
        let runs = try CompareCommand.runs(folders, command: "report")
        guard let output else { throw UsageError("report needs -o FILE, the HTML page to write") }
        let url = URL(fileURLWithPath: output)
        if runs.count == 1 { try RunReportPage.write(runs[0], to: url) } else { try ComparisonPage.write(runs, to: url) }
        CLI.output("wrote \(url.path)\n")
        return ExitStatus.success
    }
}
