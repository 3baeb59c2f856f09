import Foundation
import PipelineDSL

/// The grouped comparison as text, Markdown, CSV and JSON (the formats of `sbcl-run compare`).
extension SeedGroups {
    /// A number with `digits` decimals, `-` when missing or not finite (`inf` for an infinite t).
    static func number(_ value: Double?, digits: Int = 2) -> String {
        guard let value else { return "-" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return value.isNaN ? "-" : String(format: "%.\(digits)f", value)
    }

    /// A p-value: four decimals, or `<0.0001`.
    static func pValue(_ p: Double?) -> String {
        guard let p else { return "-" }
        return p < 0.0001 ? "<0.0001" : String(format: "%.4f", p)
    }

    /// The first line: what is grouped and over which seeds.
    var heading: String {
        "grouped by " + (keys.isEmpty ? "nothing (all runs together)" : keys.joined(separator: ", "))
            + " over seeds \(Self.seedList(allSeeds)); mean ± sample sd (min–max)"
    }

    /// The groups table's header and cells.
    var groupTable: (header: [String], rows: [[String]]) {
        (["group", "n", "seeds"] + RunRecord.headlineMetrics,
         groups.map { group in
             [group.label, String(group.n), Self.seedList(group.seeds)] + RunRecord.headlineMetrics.map { name in
                 group.metrics[name].map { "\(Self.meanSD($0)) (\(Self.range($0)))" } ?? "-"
             }
         })
    }

    /// The differences table's header and cells.
    var differenceTable: (header: [String], rows: [[String]]) {
        (["metric", "baseline", "group", "difference", "se", "t", "df", "p", "reading"],
         differences.map { d in
             [d.metric, groups[d.baseline].label, groups[d.group].label, Self.number(d.difference), Self.number(d.welch?.standardError),
              Self.number(d.welch?.t), Self.number(d.welch?.df, digits: 1), Self.pValue(d.welch?.p), d.verdict]
         })
    }

    /// The per-class table: one row per class, one `mean ± sd (min–max)` column per group.
    var perClassTable: (header: [String], rows: [[String]]) {
        (["class"] + groups.map { $0.values.isEmpty ? $0.label : $0.values.map(\.value).joined(separator: ",") },
         classNames.enumerated().map { index, name in
             [name] + groups.map { group in
                 guard let summary = group.perClass[safe: index] ?? nil else { return "-" }
                 return "\(Self.meanSD(summary)) (\(Self.range(summary)))"
             }
         })
    }

    /// Aligned text tables: the groups, what they lack, the differences, per class.
    package var text: String {
        var text = heading + "\n" + Table.render(header: groupTable.header, rows: groupTable.rows)
        text += gaps.map { "missing: \($0)\n" }.joined()
        if !differences.isEmpty {
            text += "\ndifferences (group − baseline, Welch's t-test, two-sided p; p ≥ 0.05 is within the noise):\n"
                + Table.render(header: differenceTable.header, rows: differenceTable.rows)
        }
        if !classNames.isEmpty {
            text += "\nper-class accuracy:\n" + Table.render(header: perClassTable.header, rows: perClassTable.rows)
        }
        return text
    }

    /// The same as Markdown tables.
    package var markdown: String {
        func line(_ cells: [String]) -> String { "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n" }
        func table(_ t: (header: [String], rows: [[String]])) -> String {
            line(t.header) + line(t.header.map { _ in "---" }) + t.rows.map(line).joined()
        }
        var text = heading + "\n\n" + table(groupTable)
        if !gaps.isEmpty { text += "\n" + gaps.map { "> **missing:** \($0)\n" }.joined() }
        if !differences.isEmpty { text += "\nDifferences (group − baseline, Welch's t-test, two-sided p):\n\n" + table(differenceTable) }
        if !classNames.isEmpty { text += "\nPer-class accuracy:\n\n" + table(perClassTable) }
        return text
    }

    /// One CSV table (RFC 4180 quoting): a `group` row per group and metric (per class as
    /// `class:NAME`), then a `difference` row per pair and metric.
    package var csv: String {
        func field(_ text: String) -> String {
            text.contains(where: { ",\"\n".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        func raw(_ value: Double?) -> String {
            guard let value, value.isFinite else { return value.map { $0.isNaN ? "" : ($0 > 0 ? "inf" : "-inf") } ?? "" }
            return String(format: "%.6f", value)
        }
        var rows = [["row", "group", "baseline", "metric", "n", "mean", "sd", "min", "max", "difference", "se", "t", "df", "p", "reading",
                     "seeds", "failed_seeds", "missing_seeds"]]
        for group in groups {
            let named = RunRecord.headlineMetrics.map { ($0, group.metrics[$0]) }
                + classNames.enumerated().map { ("class:\($1)", group.perClass[safe: $0] ?? nil) }
            for (name, summary) in named {
                guard let summary else { continue }
                rows.append(["group", group.label, "", name, String(summary.n), raw(summary.mean), raw(summary.sd), raw(summary.min), raw(summary.max),
                             "", "", "", "", "", "", group.seeds.map(String.init).joined(separator: " "),
                             group.failed.map { String($0.seed) }.joined(separator: " "), group.missing.map(String.init).joined(separator: " ")])
            }
        }
        for d in differences {
            rows.append(["difference", groups[d.group].label, groups[d.baseline].label, d.metric, "", "", "", "", "", raw(d.difference),
                         raw(d.welch?.standardError), raw(d.welch?.t), raw(d.welch?.df), raw(d.welch?.p), d.verdict, "", "", ""])
        }
        return rows.map { $0.map(field).joined(separator: ",") + "\n" }.joined()
    }

    /// A finite number, or its word (`inf`) as a string.
    static func jsonNumber(_ value: Double) -> ParamValue { value.isFinite ? .float(value) : .string(value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf")) }

    /// A summary as `{"n", "mean", "sd", "min", "max", "values"}` (`sd` absent for one value).
    static func json(_ summary: SeedStatistics.Summary) -> ParamValue {
        var map: [String: ParamValue] = ["n": .int(summary.n), "mean": jsonNumber(summary.mean), "min": jsonNumber(summary.min),
                                         "max": jsonNumber(summary.max), "values": .list(summary.values.map(jsonNumber))]
        if let sd = summary.sd { map["sd"] = jsonNumber(sd) }
        return .map(map)
    }

    /// `{"group_by", "seeds", "groups": [...], "differences": [...]}`.
    package var json: ParamValue {
        .map([
            "group_by": .list(keys.map(ParamValue.string)),
            "seeds": .list(allSeeds.map(ParamValue.int)),
            "groups": .list(groups.map { group in
                .map([
                    "label": .string(group.label), "n": .int(group.n),
                    "values": .map(Dictionary(group.values.map { ($0.key, ParamValue.string($0.value)) }, uniquingKeysWith: { $1 })),
                    "seeds": .list(group.seeds.map(ParamValue.int)),
                    "failed_seeds": .list(group.failed.map { .map(["seed": .int($0.seed), "reason": .string($0.reason)]) }),
                    "missing_seeds": .list(group.missing.map(ParamValue.int)),
                    "runs": .list(group.runs.map { .string($0.directory.path) }),
                    "metrics": .map(group.metrics.mapValues(Self.json)),
                    "per_class": .list(classNames.enumerated().map { index, name in
                        var entry: [String: ParamValue] = ["class": .string(name)]
                        if let summary = group.perClass[safe: index] ?? nil { entry.merge(Self.json(summary).mapValue!) { $1 } }
                        return .map(entry)
                    }),
                ])
            }),
            "differences": .list(differences.map { d in
                var entry: [String: ParamValue] = ["metric": .string(d.metric), "baseline": .string(groups[d.baseline].label),
                                                   "group": .string(groups[d.group].label), "reading": .string(d.verdict)]
                if let difference = d.difference { entry["difference"] = Self.jsonNumber(difference) }
                if let w = d.welch {
                    entry["standard_error"] = Self.jsonNumber(w.standardError)
                    entry["t"] = Self.jsonNumber(w.t)
                    entry["df"] = Self.jsonNumber(w.df)
                    entry["p"] = Self.jsonNumber(w.p)
                }
                return .map(entry)
            }),
        ])
    }
}
