extension RecipeValidator {
    /// Resolves a stage's input names against the other stages and places them into slots.
    mutating func resolveInputs(_ stage: StageSpec, inputNodes: [SourceNode], stages: [String: StageSpec], allNames: Set<String>) -> StageSpec {
        guard let kind = registry.kind(named: stage.kind) else { return stage }
        let path = "stages.\(stage.name).inputs"
        var resolved = stage
        var counts = [Int](repeating: 0, count: kind.inputs.count)
        var seen: Set<String> = []
        for (index, node) in inputNodes.enumerated() {
            guard case .scalar(let name, _, _) = node, !node.isNull else {
                report(node.location, "\(path)[\(index)]", "expected a stage name, found \(node.found)")
                continue
            }
            if name == stage.name {
                report(node.location, "\(path)[\(index)]", "a stage cannot be its own input")
                continue
            }
            if !seen.insert(name).inserted {
                report(node.location, "\(path)[\(index)]", "stage '\(name)' is listed twice")
                continue
            }
            guard let input = stages[name] else {
                if !allNames.contains(name) {
                    report(node.location, "\(path)[\(index)]", "no stage named '\(name)'",
                           suggestion: Suggestion.closest(to: name, among: allNames.subtracting([stage.name]).sorted()))
                }
                continue  // a stage that exists but failed validation was reported already
            }
            guard let slot = kind.inputs.indices.first(where: { kind.inputs[$0].kinds.contains(input.kind) && counts[$0] < kind.inputs[$0].maxCount }) else {
                let accepted = kind.inputs.flatMap(\.kinds)
                let expected = accepted.isEmpty ? "kind '\(kind.name)' takes no inputs"
                    : "expected a stage of kind \(accepted.joined(separator: ", ")) with a free slot"
                report(node.location, "\(path)[\(index)]", "stage '\(name)' is a \(input.kind) stage; \(expected)")
                continue
            }
            counts[slot] += 1
            resolved.inputs.append(name)
            resolved.inputSlots.append(kind.inputs[slot].name)
        }
        for (slot, count) in zip(kind.inputs, counts) where count < slot.minCount {
            let kinds = slot.kinds.joined(separator: " or ")
            report(stage.location, path, "missing input '\(slot.name)': expected \(slot.minCount == 1 ? "a" : "\(slot.minCount)") \(kinds) stage")
        }
        return resolved
    }

    /// Reports each cycle among the stages' inputs once, at its first stage in file order.
    mutating func reportCycles(_ stages: [StageSpec]) {
        let byName = Dictionary(stages.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let inputs = Dictionary(stages.map { ($0.name, $0.inputs) }, uniquingKeysWith: { first, _ in first })
        let position = Dictionary(stages.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        for cycle in StageGraph.walk(names: stages.map(\.name), inputs: inputs).cycles {
            let first = cycle.dropLast().min { position[$0]! < position[$1]! }!
            let shown = cycle.count <= 12 ? cycle : Array(cycle.prefix(10)) + ["... (\(cycle.count - 1) stages)", cycle.last!]
            report(byName[first]!.location, "stages.\(first).inputs", "stages form a cycle: \(shown.joined(separator: " -> "))")
        }
    }
}
