import Foundation
import PipelineDSL

/// A sweep's folder, `<name>-multirun-<time>-<pid>/`: `sweep.json` (the grid, where it runs, the
/// job), `sweep-recipe.yaml` (the recipe as it was when the sweep started, which every point runs),
/// and one run folder per point, `<index>-<key=value,…>`.
package struct SweepFolder: Sendable {
    /// The description file's name.
    package static let descriptionFile = "sweep.json"
    /// The recipe snapshot's name.
    package static let recipeFile = "sweep-recipe.yaml"

    /// One grid point.
    package struct Point: Sendable {
        /// Its position in the grid, from 0 (the Slurm array index).
        package var index: Int
        /// The overrides it runs with, fixed ones first, as command-line arguments.
        package var overrides: [String]
        /// The swept keys and their values here.
        package var assignments: [(key: String, value: String)]
        /// Its run folder's name inside the sweep folder.
        package var folder: String
    }

    /// The sweep folder.
    package var directory: URL
    /// The recipe's name and the file it came from.
    package var recipeName: String, recipeFile: String
    /// The swept keys, in grid order.
    package var axes: [String]
    /// The grid's points, in array-index order.
    package var points: [Point]
    /// `local` or `slurm`.
    package var launcher: String
    /// The cache, the runs folder and the working directory the points run with (absolute).
    package var cache: String, runs: String, workingDirectory: String
    /// The thread count given on the command line, if any.
    package var threads: Int?
    /// The Slurm job id, once submitted, and the command that submitted it.
    package var jobID: String?, submitCommand: [String] = []
    /// When the sweep was created (ISO 8601).
    package var createdAt: String

    /// A new sweep over `sweep`'s grid; `directory` is where its folder goes.
    package init(directory: URL, recipeName: String, recipeFile: String, sweep: Sweep, launcher: String,
                cache: URL, runs: URL, workingDirectory: URL, threads: Int?) {
        self.directory = directory
        (self.recipeName, self.recipeFile, self.launcher, self.threads) = (recipeName, recipeFile, launcher, threads)
        axes = sweep.axes.map { $0.prefix.trimmingCharacters(in: CharacterSet(charactersIn: "+")) }
        points = sweep.points.enumerated().map { index, point in
            Point(index: index, overrides: point.overrides.map(\.argument), assignments: point.assignments,
                  folder: Self.folderName(index: index, assignments: point.assignments))
        }
        (self.cache, self.runs, self.workingDirectory) = (cache.path, runs.path, workingDirectory.path)
        createdAt = ISO8601DateFormatter().string(from: Date())
    }

    /// `<index>-<key=value,…>` with characters unsafe in a file name replaced, at most 120 of them.
    package static func folderName(index: Int, assignments: [(key: String, value: String)]) -> String {
        let label = assignments.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return "\(index)-" + String(label.map { $0.isLetter || $0.isNumber || "._=,-".contains($0) ? $0 : "_" }.prefix(120))
    }

    /// `<name>-multirun-<UTC time>-<pid>` under `runs`.
    package static func newDirectory(runs: URL, recipeFolderName: String, now: Date = Date()) -> URL {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return runs.appendingPathComponent("\(recipeFolderName)-multirun-\(formatter.string(from: now))-\(getpid())")
    }

    /// A point's run folder.
    package func runDirectory(_ point: Point) -> URL { directory.appendingPathComponent(point.folder) }

    /// `key=value,…` of a point, for messages.
    package static func label(_ point: Point) -> String { point.assignments.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }

    /// Writes `sweep.json` (creating the folder).
    package func save() throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data((value.prettyJSON() + "\n").utf8).write(to: directory.appendingPathComponent(Self.descriptionFile), options: .atomic)
        } catch {
            throw RunError("cannot write \(directory.appendingPathComponent(Self.descriptionFile).path): \(error.localizedDescription)")
        }
    }

    var value: ParamValue {
        var map: [String: ParamValue] = [
            "recipe": .string(recipeName), "recipe_file": .string(recipeFile), "axes": .list(axes.map(ParamValue.string)),
            "launcher": .string(launcher), "cache": .string(cache), "runs": .string(runs),
            "working_directory": .string(workingDirectory), "created_at": .string(createdAt),
            "points": .list(points.map { point in
                .map(["index": .int(point.index), "overrides": .list(point.overrides.map(ParamValue.string)),
                      "assignments": .list(point.assignments.map { .list([.string($0.key), .string($0.value)]) }),
                      "folder": .string(point.folder)])
            }),
        ]
        if let threads { map["threads"] = .int(threads) }
        if let jobID { map["job_id"] = .string(jobID) }
        if !submitCommand.isEmpty { map["submit_command"] = .list(submitCommand.map(ParamValue.string)) }
        return .map(map)
    }

    /// Reads the sweep folder at `path`; a usage error when it is not one.
    package init(reading path: String) throws {
        let directory = URL(fileURLWithPath: path).standardizedFileURL
        let file = directory.appendingPathComponent(Self.descriptionFile)
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            throw UsageError("\(path) is not a sweep folder (it has no \(Self.descriptionFile)); "
                             + "expected the folder that 'sbcl-run RECIPE -m KEY=A,B' printed")
        }
        guard let map = ParamValue.parseJSON(text)?.mapValue, let parsed = Self(directory: directory, map: map) else {
            throw UsageError("\(file.path) is damaged: it does not describe a sweep")
        }
        self = parsed
    }

    private init?(directory: URL, map: [String: ParamValue]) {
        func string(_ key: String) -> String? { map[key]?.stringValue }
        guard let recipeName = string("recipe"), let recipeFile = string("recipe_file"), let launcher = string("launcher"),
              let cache = string("cache"), let runs = string("runs"), let workingDirectory = string("working_directory"),
              let pointValues = map["points"]?.listValue else { return nil }
        var points: [Point] = []
        for value in pointValues {
            guard let point = value.mapValue, let index = point["index"]?.intValue, let folder = point["folder"]?.stringValue,
                  let overrides = point["overrides"]?.listValue?.compactMap(\.stringValue),
                  let pairs = point["assignments"]?.listValue?.compactMap({ $0.listValue?.compactMap(\.stringValue) }),
                  index == points.count, pairs.allSatisfy({ $0.count == 2 }), !folder.contains("/") else { return nil }
            points.append(Point(index: index, overrides: overrides, assignments: pairs.map { (key: $0[0], value: $0[1]) }, folder: folder))
        }
        guard !points.isEmpty else { return nil }
        self.directory = directory
        (self.recipeName, self.recipeFile, self.launcher) = (recipeName, recipeFile, launcher)
        (self.cache, self.runs, self.workingDirectory) = (cache, runs, workingDirectory)
        axes = map["axes"]?.listValue?.compactMap(\.stringValue) ?? []
        self.points = points
        threads = map["threads"]?.intValue
        jobID = string("job_id")
        submitCommand = map["submit_command"]?.listValue?.compactMap(\.stringValue) ?? []
        createdAt = string("created_at") ?? ""
    }
}
