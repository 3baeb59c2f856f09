import Foundation
import PipelineDSL
import Reporting

/// `sbcl-run compare RUN_DIR… [--json|--csv|--markdown]` and `sbcl-run report RUN_DIR… -o FILE`.
enum CompareCommand {
    static func compare(_ options: Options) throws -> Int32 {
        let comparison = RunComparison(try runs(options.positional, command: "compare"))
        switch options.format {
        case "json": CLI.output(comparison.json.prettyJSON() + "\n")
        case "csv": CLI.output(comparison.csv)
        case "markdown": CLI.output(comparison.markdown)
        default: CLI.output(comparison.text)
        }
        return ExitStatus.success
    }

    static func report(_ options: Options) throws -> Int32 {
        let runs = try runs(options.positional, command: "report")
        guard let output = options.output else { throw UsageError("report needs -o FILE, the HTML page to write") }
        let url = URL(fileURLWithPath: output)
        if runs.count == 1 { try RunReportPage.write(runs[0], to: url) } else { try ComparisonPage.write(runs, to: url) }
        CLI.output("wrote \(url.path)\n")
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
