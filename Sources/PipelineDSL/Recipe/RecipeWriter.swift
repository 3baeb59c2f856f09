/// Writes a validated recipe back as YAML with every default filled in: the resolved recipe
/// a run folder keeps, which `sbcl-run` can run again as is.
public enum RecipeWriter {
    /// The resolved recipe as YAML text; parameters appear in their kind's schema order.
    public static func yaml(_ recipe: Recipe, registry: StageRegistry) -> String {
        var out = "name: \(scalar(.string(recipe.name)))\nseed: \(recipe.seed)\ndevice: \(recipe.device)\nstages:\n"
        for stage in recipe.stages {
            out += "  \(key(stage.name)):\n    kind: \(stage.kind)\n"
            if !stage.inputs.isEmpty { out += "    inputs: [\(stage.inputs.map(key).joined(separator: ", "))]\n" }
            let order = registry.kind(named: stage.kind)?.parameters.map(\.name) ?? []
            let names = order.filter { stage.parameters[$0] != nil } + stage.parameters.values.keys.filter { !order.contains($0) }.sorted()
            for name in names { write(name, stage.parameters[name]!, indent: "    ", into: &out) }
        }
        return out
    }

    static func write(_ name: String, _ value: ParamValue, indent: String, into out: inout String) {
        if case .map(let entries) = value {
            if entries.isEmpty { out += "\(indent)\(key(name)): {}\n"; return }
            out += "\(indent)\(key(name)):\n"
            for child in entries.keys.sorted() { write(child, entries[child]!, indent: indent + "  ", into: &out) }
        } else {
            out += "\(indent)\(key(name)): \(scalar(value))\n"
        }
    }

    /// A value in YAML flow syntax that reads back to the same `ParamValue`.
    public static func scalar(_ value: ParamValue) -> String {
        switch value {
        case .int(let number): return String(number)
        case .float(let number): return ParamValue.canonicalNumber(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .string(let text):
            var quoted = ""
            ParamValue.writeJSONString(text, into: &quoted)  // a JSON string is a YAML double-quoted scalar
            return quoted
        case .list(let items): return "[" + items.map(scalar).joined(separator: ", ") + "]"
        case .map(let entries): return "{" + entries.keys.sorted().map { "\(key($0)): \(scalar(entries[$0]!))" }.joined(separator: ", ") + "}"
        }
    }

    static func key(_ name: String) -> String {
        name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } && !name.isEmpty ? name : scalar(.string(name))
    }
}
