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
    /// brackets and quotes) is an axis.
    public static func parse(_ arguments: [String]) throws -> Sweep {
        var sweep = Sweep(fixed: [], axes: [])
        for argument in arguments {
            let override = try Override.parse(argument)
            let values = override.valueText.map(splitTopLevel) ?? []
            if values.count > 1 {
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
