import Foundation
import PipelineDSL

/// Runs grouped by setting across seeds (`sbcl-run compare --group-by`, a seeded sweep's page):
/// per group n, mean ± sd and min–max of each headline metric and of each class's accuracy; per
/// pair of groups (or each group against a baseline) the difference with Welch's t-test. A group
/// names the seeds it lacks: failed runs and seeds that other groups have and it does not are
/// listed, never averaged in.
package struct SeedGroups: Sendable {
    /// One setting's runs.
    package struct Group: Sendable {
        /// `key=value` of the grouping keys, in `keys` order.
        package var values: [(key: String, value: String)]
        /// The runs, by seed.
        package var runs: [RunRecord]
        /// Seeds of the runs with test metrics (the ones averaged).
        package var seeds: [Int]
        /// Seeds whose run failed or has no test metrics (still running, killed), with why.
        package var failed: [(seed: Int, reason: String)]
        /// Seeds another group ran that this one has no run for.
        package var missing: [Int]
        /// Headline metric → its summary over `seeds` (absent when no run has it).
        package var metrics: [String: SeedStatistics.Summary]
        /// Per class, its accuracy's summary (classes in the runs' order).
        package var perClass: [SeedStatistics.Summary?]

        /// `key=value,…` (or `all runs` when nothing is grouped on).
        package var label: String { values.isEmpty ? "all runs" : values.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        /// How many runs are averaged.
        package var n: Int { seeds.count }
    }

    /// One metric's difference between two groups: `group − baseline`.
    package struct Difference: Sendable {
        /// Indices into `groups`.
        package var baseline: Int, group: Int
        /// The metric (`top1`, …, or `class:NAME`).
        package var metric: String
        /// The test; nil when a side has fewer than two seeds.
        package var welch: SeedStatistics.Welch?
        /// The means' difference even without a test (nil when a side lacks the metric).
        package var difference: Double?
        /// The plain-words reading.
        package var verdict: String { difference == nil ? "no values" : SeedStatistics.verdict(welch) }
    }

    /// The keys grouped on.
    package var keys: [String]
    /// Every seed any run has, ascending.
    package var allSeeds: [Int]
    /// The groups, in the order their first run was given.
    package var groups: [Group]
    /// The class names (from the first run that has per-class accuracy).
    package var classNames: [String]
    /// The baseline group's index, when one was named.
    package var baseline: Int?
    /// Headline metrics' differences: every pair (earlier group as the baseline), or each group against `baseline`.
    package var differences: [Difference]

    /// The keys whose recipe values differ between `runs`, except the seed (what a default grouping uses).
    package static func differingKeys(_ runs: [RunRecord]) -> [String] {
        let parameters = runs.map(\.parameters)
        let all = Set(parameters.flatMap(\.keys))
        return all.filter { key in key != "seed" && Set(parameters.map { $0[key] }).count > 1 }.sorted()
    }

    /// Groups `runs` by `keys` (default: `differingKeys`); `baseline` names a group by its label
    /// or its values (`supcon`, `stages.loss.variant=supcon`).
    package init(_ runs: [RunRecord], keys chosen: [String]? = nil, baseline baselineName: String? = nil) throws {
        guard !runs.isEmpty else { throw UsageError("no runs to group") }
        let keys = chosen ?? Self.differingKeys(runs)
        if let unknown = keys.first(where: { key in runs.allSatisfy { $0.parameters[key] == nil } }) {
            let known = Set(runs.flatMap { $0.parameters.keys })
            let near = known.filter { $0.hasSuffix("." + unknown) || $0.contains(unknown) }.sorted().prefix(3)
            throw UsageError("--group-by: no run has the key '\(unknown)'" + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: ", "))?"))
        }
        self.keys = keys
        var order: [String] = []
        var members: [String: [RunRecord]] = [:]
        var valuesOf: [String: [(key: String, value: String)]] = [:]
        for run in runs {
            let values = keys.map { (key: $0, value: run.parameters[$0].map(RunComparison.text) ?? "(absent)") }
            let label = values.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            if members[label] == nil { order.append(label); valuesOf[label] = values }
            members[label, default: []].append(run)
        }
        let seedOf = { (run: RunRecord) in run.parameters["seed"]?.intValue ?? 0 }
        allSeeds = Array(Set(runs.map(seedOf))).sorted()
        let named = runs.first { $0.metrics["per_class"]?.listValue?.isEmpty == false }
        let classCount = named?.metrics["per_class"]?.listValue?.count ?? 0
        classNames = named?.classNames(count: classCount) ?? []
        let allSeeds = self.allSeeds
        groups = order.map { label in
            let runs = members[label]!.sorted { seedOf($0) < seedOf($1) }
            let complete = runs.filter { $0.metric("top1") != nil }
            let failed = runs.filter { $0.metric("top1") == nil }.map { run in
                (seed: seedOf(run), reason: run.failure ?? (run.status == "complete" ? "no test metrics"
                    : run.status == "running" ? "unfinished: still running, or killed" : "status \(run.status)"))
            }
            let present = Set(runs.map(seedOf))
            var metrics: [String: SeedStatistics.Summary] = [:]
            for name in RunRecord.headlineMetrics {
                if let summary = SeedStatistics.Summary(complete.compactMap { $0.metric(name) }) { metrics[name] = summary }
            }
            let perClass = (0..<classCount).map { index in
                SeedStatistics.Summary(complete.compactMap { $0.metrics["per_class"]?.listValue?[safe: index]?.doubleValue })
            }
            return Group(values: valuesOf[label]!, runs: runs, seeds: complete.map(seedOf), failed: failed,
                         missing: allSeeds.filter { !present.contains($0) }, metrics: metrics, perClass: perClass)
        }
        if let baselineName {
            let groups = self.groups
            guard let index = groups.firstIndex(where: { group in
                group.label == baselineName || group.values.map(\.value).joined(separator: ",") == baselineName
            }) else {
                throw UsageError("--baseline '\(baselineName)' names no group; the groups are: "
                                 + groups.map { "'\($0.label)'" }.joined(separator: ", "))
            }
            baseline = index
        }
        var pairs: [(Int, Int)] = []
        if let baseline {
            pairs = groups.indices.filter { $0 != baseline }.map { (baseline, $0) }
        } else {
            for i in groups.indices { for j in groups.indices where j > i { pairs.append((i, j)) } }
        }
        let groups = self.groups
        differences = pairs.flatMap { a, b in
            RunRecord.headlineMetrics.map { name in
                let sa = groups[a].metrics[name], sb = groups[b].metrics[name]
                return Difference(baseline: a, group: b, metric: name, welch: sa.flatMap { x in sb.flatMap { SeedStatistics.welch(x, $0) } },
                                  difference: sa.flatMap { x in sb.map { $0.mean - x.mean } })
            }
        }
    }

    /// Whether the runs hold several seeds of at least one setting (what makes a grouped table worth showing).
    package static func hasRepeatedSeeds(_ runs: [RunRecord]) -> Bool {
        guard Set(runs.map { $0.parameters["seed"]?.intValue ?? 0 }).count > 1 else { return false }
        let keys = differingKeys(runs)
        let labels = runs.map { run in keys.map { run.parameters[$0].map(RunComparison.text) ?? "" } }
        return Set(labels.map { $0.joined(separator: "\u{1}") }).count < runs.count
    }

    /// What each group lacks, one line per group that lacks something.
    package var gaps: [String] {
        groups.compactMap { group in
            var parts: [String] = []
            if !group.failed.isEmpty {
                parts.append(group.failed.map { "seed \($0.seed) \($0.reason.hasPrefix("unfinished") ? "" : "failed ")(\($0.reason))" }
                    .joined(separator: ", "))
            }
            if !group.missing.isEmpty { parts.append("no run for seed\(group.missing.count > 1 ? "s" : "") \(Self.seedList(group.missing))") }
            return parts.isEmpty ? nil : "\(group.label): n=\(group.n); " + parts.joined(separator: "; ") + " (not averaged)"
        }
    }

    /// `0–4`, `0,2,5`, or `-`.
    package static func seedList(_ seeds: [Int]) -> String {
        guard let first = seeds.first, let last = seeds.last else { return "-" }
        if seeds.count > 2, seeds == Array(first...last) { return "\(first)–\(last)" }
        return seeds.map(String.init).joined(separator: ",")
    }

    /// `mean ± sd` with two decimals (`mean` alone for one seed, `-` for none).
    package static func meanSD(_ summary: SeedStatistics.Summary?) -> String {
        guard let summary else { return "-" }
        guard let sd = summary.sd else { return String(format: "%.2f", summary.mean) }
        return String(format: "%.2f ± %.2f", summary.mean, sd)
    }

    /// `min–max` with two decimals.
    package static func range(_ summary: SeedStatistics.Summary?) -> String {
        guard let summary else { return "-" }
        return String(format: "%.2f–%.2f", summary.min, summary.max)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
