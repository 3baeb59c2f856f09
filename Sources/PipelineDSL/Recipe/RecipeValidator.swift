/// Turns a `SourceNode` tree into a `Recipe`, collecting every problem before throwing.
public struct RecipeValidator {
    /// The kinds a recipe may use.
    public let registry: StageRegistry
    private(set) var diagnostics: [Diagnostic] = []

    /// Creates a validator over a registry.
    public init(registry: StageRegistry) { self.registry = registry }

    /// Validates a whole recipe; throws `RecipeError` with all problems found.
    public static func validate(_ root: SourceNode, registry: StageRegistry) throws -> Recipe {
        var validator = RecipeValidator(registry: registry)
        let recipe = validator.recipe(from: root)
        if !validator.diagnostics.isEmpty { throw RecipeError(validator.diagnostics) }
        return recipe!
    }

    /// "one of a, b, c", or a note that this build registers no kinds.
    var knownKinds: String {
        registry.names.isEmpty ? "a registered kind, but this build registers none" : "one of \(registry.names.joined(separator: ", "))"
    }

    mutating func report(_ location: SourceLocation, _ keyPath: String, _ message: String, suggestion: String? = nil) {
        diagnostics.append(Diagnostic(location: location, keyPath: keyPath, message: message, suggestion: suggestion))
    }

    mutating func recipe(from root: SourceNode) -> Recipe? {
        guard let entries = root.entries else {
            report(root.location, "", "expected a mapping with name, seed and stages at the top level, found \(root.found)")
            return nil
        }
        let file = root.location.file
        var name: String?, seed = 0, device = "auto"
        var stagesNode: SourceNode?
        let known = RecipeKeys.topLevel.map(\.0)
        for entry in entries {
            switch entry.key {
            case "name":
                name = convert(entry.value, as: .string, range: nil, keyPath: "name")?.stringValue
            case "seed":
                seed = convert(entry.value, as: .int, range: .atLeast(0), keyPath: "seed")?.intValue ?? 0
            case "device":
                if case .scalar(let text, _, _) = entry.value, !entry.value.isNull, RecipeKeys.isDevice(text) {
                    device = text
                } else {
                    var written: String?
                    if case .scalar(let text, _, _) = entry.value { written = text }
                    report(entry.value.location, "device", "expected one of \(RecipeKeys.deviceSummary), found \(entry.value.found)",
                           suggestion: written.flatMap { Suggestion.closest(to: $0, among: RecipeKeys.devices) })
                }
            case "stages":
                stagesNode = entry.value
            default:
                report(entry.keyLocation, entry.key, "unknown key; expected one of \(known.joined(separator: ", "))",
                       suggestion: Suggestion.closest(to: entry.key, among: known))
            }
        }
        if name == nil, !entries.contains(where: { $0.key == "name" }) {
            report(root.location, "name", "missing required key: expected the recipe's name")
        }
        guard let stagesNode else {
            report(root.location, "stages", "missing required key: expected a mapping of stages")
            return nil
        }
        guard let stageEntries = stagesNode.entries, !stageEntries.isEmpty else {
            report(stagesNode.location, "stages", "expected a non-empty mapping from stage names to stages, found "
                   + (stagesNode.entries == nil ? stagesNode.found : "an empty mapping"))
            return nil
        }
        var stages: [StageSpec] = []
        var inputNodes: [String: [SourceNode]] = [:]
        for entry in stageEntries {
            if let (stage, inputs) = stage(entry) {
                stages.append(stage)
                inputNodes[stage.name] = inputs
            }
        }
        let names = Set(stageEntries.map(\.key))
        let byName = Dictionary(stages.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        stages = stages.map { resolveInputs($0, inputNodes: inputNodes[$0.name]!, stages: byName, allNames: names) }
        reportCycles(stages)
        return Recipe(file: file, name: name ?? "", seed: seed, device: device, stages: stages)
    }

    /// Validates one stage's own keys; inputs are resolved once every stage is known.
    mutating func stage(_ entry: SourceEntry) -> (StageSpec, [SourceNode])? {
        let path = "stages.\(entry.key)"
        if entry.key.isEmpty || !entry.key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
            report(entry.keyLocation, path, "expected a stage name of letters, digits, '_' or '-', found '\(entry.key)'")
        }
        guard let fields = entry.value.entries else {
            report(entry.value.location, path, "expected a mapping with kind, inputs and parameters, found \(entry.value.found)")
            return nil
        }
        guard let kindEntry = fields.first(where: { $0.key == "kind" }) else {
            report(entry.value.location, "\(path).kind", "missing required key: expected \(knownKinds)")
            return nil
        }
        guard let kindName = convert(kindEntry.value, as: .string, range: nil, keyPath: "\(path).kind")?.stringValue else { return nil }
        guard let kind = registry.kind(named: kindName) else {
            report(kindEntry.value.location, "\(path).kind",
                   "unknown stage kind '\(kindName)'; expected \(knownKinds)",
                   suggestion: Suggestion.closest(to: kindName, among: registry.names))
            return nil
        }
        var inputs: [SourceNode] = []
        var parameterEntries: [SourceEntry] = []
        for field in fields where field.key != "kind" {
            if field.key == "inputs" {
                switch field.value {
                case .sequence(let items, _): inputs = items
                case .scalar where field.value.isNull: inputs = []
                case .scalar: inputs = [field.value]  // `inputs: data` reads as a one-element list
                case .mapping:
                    report(field.value.location, "\(path).inputs", "expected a list of stage names, found a mapping")
                }
            } else {
                parameterEntries.append(field)
            }
        }
        let parameters = group(parameterEntries, schema: kind.parameters, at: entry.value.location, keyPath: path,
                               extraKeys: RecipeKeys.stageKeys)
        let spec = StageSpec(name: entry.key, kind: kindName, inputs: [], inputSlots: [],
                             parameters: ResolvedParameters(parameters), location: entry.keyLocation)
        return (spec, inputs)
    }

    /// Validates a mapping against parameters: unknown keys, missing required ones, defaults.
    mutating func group(_ entries: [SourceEntry], schema: [Parameter], at location: SourceLocation, keyPath: String,
                        extraKeys: [String] = []) -> [String: ParamValue] {
        var values: [String: ParamValue] = [:]
        let names = schema.map(\.name)
        for entry in entries {
            guard let parameter = schema.first(where: { $0.name == entry.key }) else {
                let expected = names.isEmpty ? "this kind takes no parameters" : "expected one of \((extraKeys + names).joined(separator: ", "))"
                report(entry.keyLocation, "\(keyPath).\(entry.key)", "unknown key; \(expected)",
                       suggestion: Suggestion.closest(to: entry.key, among: names + extraKeys))
                continue
            }
            if let value = convert(entry.value, as: parameter.type, range: parameter.range, keyPath: "\(keyPath).\(entry.key)") {
                values[entry.key] = value
            }
        }
        for parameter in schema where !entries.contains(where: { $0.key == parameter.name }) {
            switch parameter.requirement {
            case .required:
                report(location, "\(keyPath).\(parameter.name)", "missing required parameter: expected \(parameter.type.expectation) (\(parameter.doc))")
            case .optional:
                break
            case .defaultValue(let value):
                if case .group(let members) = parameter.type {
                    values[parameter.name] = .map(group([], schema: members, at: location, keyPath: "\(keyPath).\(parameter.name)"))
                } else {
                    values[parameter.name] = value
                }
            }
        }
        return values
    }
}
