import Foundation

/// A stage's state in the cache, as `plan` prints it.
public enum StageStatus: String, Sendable {
    /// A complete, verified entry exists.
    case cached
    /// No entry, but checkpoints of an interrupted run exist: a run resumes from them.
    case partial
    /// Nothing yet: a run computes it.
    case pending
}

/// The `plan` command's output: text and the JSON of docs/method.md, "CLI contract".
public enum PlanReport {
    /// The status of one stage.
    public static func status(of stage: PlannedStage, cache: ArtifactCache) -> StageStatus {
        if case .valid = cache.state(of: stage.hash) { return .cached }
        return cache.hasCheckpoint(stage.hash) ? .partial : .pending
    }

    /// `{"recipe": name, "stages": [{"name", "kind", "hash", "status", "inputs"}]}` in run order.
    public static func json(_ plan: Plan, cache: ArtifactCache) -> ParamValue {
        json(plan) { status(of: $0, cache: cache) }
    }

    /// The same JSON with statuses from `status` (the executor passes the states it already verified).
    public static func json(_ plan: Plan, status: (PlannedStage) -> StageStatus) -> ParamValue {
        .map([
            "recipe": .string(plan.recipe.name),
            "stages": .list(plan.stages.map { stage in
                var fields: [String: ParamValue] = [
                    "name": .string(stage.name), "kind": .string(stage.kind.name), "hash": .string(stage.hash),
                    "status": .string(status(stage).rawValue),
                    "inputs": .list(stage.spec.inputs.map(ParamValue.string)),
                ]
                if let ranks = stage.ranksInHash { fields["ranks"] = .int(ranks) }
                if let reason = stage.unavailable { fields["unavailable"] = .string(reason) }
                if let memory = stage.memory {
                    fields["memory"] = .map(["estimated_bytes": .int(memory.bytes), "breakdown": .string(memory.breakdown)])
                }
                return .map(fields)
            }),
        ])
    }

    /// A table: one line per stage with status, short hash, kind, estimated peak memory and inputs;
    /// with `memoryLimit`, the stages a run would refuse for memory are named below it.
    public static func text(_ plan: Plan, cache: ArtifactCache, memoryLimit: Int? = nil) -> String {
        let rows = plan.stages.map { stage -> [String] in
            [stage.name, stage.kind.name, status(of: stage, cache: cache).rawValue, String(stage.hash.prefix(12)),
             stage.memory.map { MemoryEstimate.format($0.bytes) } ?? "-",
             stage.spec.inputs.isEmpty ? "-" : stage.spec.inputs.joined(separator: ", ")]
        }
        let refused = memoryLimit.map { limit in
            plan.refusals(memoryLimit: limit) { status(of: $0, cache: cache) == .cached }
        } ?? []
        let byRanks = plan.stages.compactMap { stage in stage.ranksInHash.map { "\(stage.name) (\($0) ranks)" } }
        return "recipe \(plan.recipe.name) (\(plan.stages.count) stages, seed \(plan.recipe.seed))\n"
            + Table.render(header: ["stage", "kind", "status", "hash", "memory", "inputs"], rows: rows)
            + (byRanks.isEmpty ? "" : "per-rank batch norm: the number of ranks is in the hash of "
                                      + byRanks.joined(separator: ", ") + "\n")
            + refused.map { "a run would be refused: \($0)\n" }.joined()
    }
}

/// Plain-text tables with aligned columns.
public enum Table {
    /// Renders rows under a header, columns padded to their widest cell.
    public static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
