import Foundation

/// A multirun (`-m`): overrides whose value lists several choices, expanded into a grid.
public struct Sweep: Sendable {
    /// One swept key and its values, in the order given.
    public struct Axis: Sendable {
        /// The override's key and operation, as typed before `=`.
        public var prefix: String
        /// The values to try, each in YAML flow syntax.
        public var values: [String]
    }

    /// Overrides applied at every point.
    public var fixed: [Override]
    /// The swept keys; the grid is their Cartesian product, the first axis varying slowest.
    public var axes: [Axis]

    /// Splits arguments into fixed overrides and axes: `key=a,b` (top-level commas, outside
    /// brackets and quotes) is an axis, and so is `key=range(N)` (also `range(START, STOP[, STEP])`,
    /// integers as Python's `range`, the way Hydra's sweeps write it).
    public static func parse(_ arguments: [String]) throws -> Sweep {
        var sweep = Sweep(fixed: [], axes: [])
        for argument in arguments {
            let override = try Override.parse(argument)
            let range = try override.valueText.flatMap { try rangeValues($0, argument: argument) }
            let values = range ?? override.valueText.map(splitTopLevel) ?? []
            if values.count > 1 || range != nil {
                guard override.operation != .remove else { throw UsageError("cannot sweep a removal: '\(argument)'") }
                let prefix = String(argument.prefix { $0 != "=" })
                if values.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                    throw UsageError("empty value in sweep '\(argument)': expected KEY=A,B,...")
                }
                sweep.axes.append(Axis(prefix: prefix, values: values))
            } else {
                sweep.fixed.append(override)
            }
        }
        return sweep
    }

    /// The values of `range(…)`, or nil when `text` is not one.
    static func rangeValues(_ text: String, argument: String) throws -> [String]? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("range("), trimmed.hasSuffix(")") else { return nil }
        let inner = trimmed.dropFirst("range(".count).dropLast()
        let numbers = inner.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...3).contains(numbers.count), numbers.allSatisfy({ $0 != nil }) else {
            throw UsageError("'\(argument)': expected range(N), range(START, STOP) or range(START, STOP, STEP) with integers")
        }
        let n = numbers.map { $0! }
        let (start, stop, step) = n.count == 1 ? (0, n[0], 1) : (n[0], n[1], n.count == 3 ? n[2] : 1)
        guard step != 0 else { throw UsageError("'\(argument)': the step of range() cannot be 0") }
        let values = Array(stride(from: start, to: stop, by: step))
        guard !values.isEmpty, values.count <= 10_000 else {
            throw UsageError("'\(argument)': range() gives \(values.count) values; expected 1 to 10000")
        }
        return values.map(String.init)
    }

    /// Adds the seeds `0..<count` as the last axis (varying fastest, so each setting's seeds are
    /// neighbours in the grid): what `--seeds N` does. A `seed` already swept or set is refused.
    public mutating func addSeeds(_ count: Int) throws {
        guard count >= 1 else { throw UsageError("--seeds \(count): expected at least 1 seed") }
        let seedKey = { (prefix: String) in prefix.trimmingCharacters(in: CharacterSet(charactersIn: "+ ")) == "seed" }
        if axes.contains(where: { seedKey($0.prefix) }) || fixed.contains(where: { $0.path == ["seed"] }) {
            throw UsageError("--seeds \(count) sets the seed; drop the seed=… override, or drop --seeds")
        }
        axes.append(Axis(prefix: "seed", values: (0..<count).map(String.init)))
    }

    /// Every point of the grid: its overrides (fixed first) and its `key=value` assignments.
    public var points: [(overrides: [Override], assignments: [(key: String, value: String)])] {
        var result: [[(String, String)]] = [[]]
        for axis in axes {
            result = result.flatMap { partial in axis.values.map { partial + [(axis.prefix, $0)] } }
        }
        return result.map { assignments in
            let overrides = assignments.map { try! Override.parse("\($0.0)=\($0.1)") }
            let keys = assignments.map { (key: $0.0.trimmingCharacters(in: CharacterSet(charactersIn: "+")), value: $0.1) }
            return (fixed + overrides, keys)
        }
    }

    /// Splits on commas outside `[]`, `{}` and quotes.
    public static func splitTopLevel(_ text: String) -> [String] {
        var parts: [String] = [], current = "", depth = 0
        var quote: Character?
        for character in text {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "[" || character == "{" {
                depth += 1
            } else if character == "]" || character == "}" {
                depth -= 1
            } else if character == ",", depth == 0 {
                parts.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        parts.append(current)
        return parts
    }
}

/// The comparison at the end of a sweep: one row per point, its swept values and metrics.
public enum SweepReport {
    /// Metrics shown first, in this order, when present; other scalar metrics follow by name.
    public static let leadingMetrics = ["top1", "top5", "many", "medium", "few"]

    /// One point's result.
    public struct Row: Sendable {
        /// `key=value` assignments of the point.
        public var assignments: [(key: String, value: String)]
        /// Its run folder.
        public var runDirectory: String
        /// Its metrics (empty when it failed).
        public var metrics: [String: ParamValue]
        /// The failure message, if the point failed.
        public var error: String?

        /// Creates a row.
        public init(assignments: [(key: String, value: String)], runDirectory: String, metrics: [String: ParamValue], error: String? = nil) {
            self.assignments = assignments
            self.runDirectory = runDirectory
            self.metrics = metrics
            self.error = error
        }
    }

    /// The scalar metric columns present in any row.
    static func metricColumns(_ rows: [Row]) -> [String] {
        let scalars = Set(rows.flatMap { $0.metrics.filter { $0.value.doubleValue != nil }.keys })
        return leadingMetrics.filter(scalars.contains) + scalars.subtracting(leadingMetrics).sorted()
    }

    /// An aligned text table.
    public static func text(_ rows: [Row]) -> String {
        let keys = rows.first?.assignments.map(\.key) ?? []
        let metrics = metricColumns(rows)
        let body = rows.map { row -> [String] in
            row.assignments.map(\.value)
                + metrics.map { name in row.metrics[name]?.doubleValue.map { String(format: "%.4f", $0) } ?? "-" }
                + [row.error.map { "FAILED: \($0)" } ?? row.runDirectory]
        }
        return Table.render(header: keys + metrics + ["run"], rows: body)
    }

    /// `[{"overrides": {key: value}, "run": folder, "metrics": {...}, "error": ...}]`.
    public static func json(_ rows: [Row]) -> ParamValue {
        .list(rows.map { row in
            var entry: [String: ParamValue] = [
                "overrides": .map(Dictionary(row.assignments.map { ($0.key, .string($0.value)) }, uniquingKeysWith: { $1 })),
                "run": .string(row.runDirectory),
                "metrics": .map(row.metrics),
            ]
            if let error = row.error { entry["error"] = .string(error) }
            return .map(entry)
        })
    }
}
