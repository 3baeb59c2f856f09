/// Generates `schemas/recipe.schema.json` (JSON Schema draft-07) from a registry, so editors
/// (e.g. the YAML language server) complete and check recipes.
public enum SchemaExport {
    /// The schema as pretty JSON text ending in a newline; deterministic for a given registry.
    public static func json(_ registry: StageRegistry) -> String {
        schema(registry).prettyJSON() + "\n"
    }

    /// The schema as a value.
    public static func schema(_ registry: StageRegistry) -> ParamValue {
        let docs = Dictionary(uniqueKeysWithValues: RecipeKeys.topLevel)
        let stageSchemas = registry.names.map { stageSchema(registry.kind(named: $0)!) }
        var stage: [String: ParamValue] = [
            "type": .string("object"),
            "required": .list([.string("kind")]),
            "properties": .map(["kind": registry.names.isEmpty ? .map(["type": .string("string")])
                                    : .map(["enum": .list(registry.names.map(ParamValue.string))])]),
        ]
        if !stageSchemas.isEmpty { stage["allOf"] = .list(stageSchemas) }
        return .map([
            "$schema": .string("http://json-schema.org/draft-07/schema#"),
            "title": .string("sbcl-run recipe"),
            "type": .string("object"),
            "additionalProperties": .bool(false),
            "required": .list([.string("name"), .string("stages")]),
            "properties": .map([
                "name": .map(["type": .string("string"), "description": .string(docs["name"]!)]),
                "seed": .map(["type": .string("integer"), "minimum": .int(0), "default": .int(0), "description": .string(docs["seed"]!)]),
                "device": .map(["anyOf": .list([.map(["enum": .list(RecipeKeys.devices.map(ParamValue.string))]),
                                                 .map(["type": .string("string"), "pattern": .string(RecipeKeys.cudaOrdinalPattern)])]),
                                "default": .string("auto"), "description": .string(docs["device"]!)]),
                "stages": .map(["type": .string("object"), "minProperties": .int(1), "description": .string(docs["stages"]!),
                                "additionalProperties": .map(stage)]),
            ]),
        ])
    }

    /// `if kind == K then {K's keys}`: an editor offers K's parameters once `kind: K` is written.
    static func stageSchema(_ kind: StageKind) -> ParamValue {
        var properties: [String: ParamValue] = [
            "kind": .map(["const": .string(kind.name), "description": .string(kind.summary)]),
            "inputs": .map(["type": .string("array"), "items": .map(["type": .string("string")]),
                            "description": .string(inputsDoc(kind))]),
        ]
        for parameter in kind.parameters { properties[parameter.name] = parameterSchema(parameter) }
        let required = kind.parameters.filter { if case .required = $0.requirement { return true }; return false }.map(\.name)
        var then: [String: ParamValue] = ["properties": .map(properties), "additionalProperties": .bool(false)]
        if !required.isEmpty { then["required"] = .list(required.map(ParamValue.string)) }
        return .map([
            "if": .map(["properties": .map(["kind": .map(["const": .string(kind.name)])]), "required": .list([.string("kind")])]),
            "then": .map(then),
        ])
    }

    static func inputsDoc(_ kind: StageKind) -> String {
        if kind.inputs.isEmpty { return "takes no inputs" }
        return "stage names: " + kind.inputs.map { slot in
            let count = slot.minCount == slot.maxCount ? "\(slot.minCount)" : "\(slot.minCount)-\(slot.maxCount)"
            return "\(slot.name) (\(count) of \(slot.kinds.joined(separator: "|")))"
        }.joined(separator: ", ")
    }

    static func parameterSchema(_ parameter: Parameter) -> ParamValue {
        var schema = typeSchema(parameter.type, range: parameter.range)
        schema["description"] = .string(parameter.doc)
        if case .defaultValue(let value) = parameter.requirement, !(value.mapValue?.isEmpty ?? false) { schema["default"] = value }
        return .map(schema)
    }

    static func typeSchema(_ type: ParameterType, range: NumericRange?) -> [String: ParamValue] {
        var schema: [String: ParamValue]
        switch type {
        case .int: schema = ["type": .string("integer")]
        case .float: schema = ["type": .string("number")]
        case .bool: schema = ["type": .string("boolean")]
        case .string: schema = ["type": .string("string")]
        case .choice(let options): schema = ["enum": .list(options.map(ParamValue.string))]
        case .list(let element, let minCount, let maxCount):
            schema = ["type": .string("array"), "items": .map(typeSchema(element, range: range))]
            if minCount > 0 { schema["minItems"] = .int(minCount) }
            if let maxCount { schema["maxItems"] = .int(maxCount) }
            return schema
        case .group(let members):
            var properties: [String: ParamValue] = [:]
            for member in members { properties[member.name] = parameterSchema(member) }
            return ["type": .string("object"), "properties": .map(properties), "additionalProperties": .bool(false)]
        }
        if let range, [ParameterType.int, .float].contains(where: { $0.expectation == type.expectation }) {
            if let lower = range.lower { schema[range.lowerInclusive ? "minimum" : "exclusiveMinimum"] = number(lower) }
            if let upper = range.upper { schema[range.upperInclusive ? "maximum" : "exclusiveMaximum"] = number(upper) }
        }
        return schema
    }

    static func number(_ value: Double) -> ParamValue {
        value == value.rounded() && abs(value) < 1e15 ? .int(Int(value)) : .float(value)
    }
}
