/// A stage's parameters after validation and defaults, with typed accessors.
///
/// Accessors trap when the name is not a parameter of the expected type: the schema guarantees
/// the value, so a mismatch is a bug in the stage, not in the recipe.
public struct ResolvedParameters: Sendable, Hashable {
    /// Every present parameter by name (optional ones that were left out are absent).
    public var values: [String: ParamValue]

    /// Wraps validated values.
    public init(_ values: [String: ParamValue]) { self.values = values }

    /// The raw value, or nil when an optional parameter was left out.
    public subscript(name: String) -> ParamValue? { values[name] }

    /// An integer parameter.
    public func int(_ name: String) -> Int {
        guard let value = values[name]?.intValue else { fatalMismatch(name, "int") }
        return value
    }

    /// A number parameter (an integer parameter is widened).
    public func double(_ name: String) -> Double {
        guard let value = values[name]?.doubleValue else { fatalMismatch(name, "float") }
        return value
    }

    /// A boolean parameter.
    public func bool(_ name: String) -> Bool {
        guard let value = values[name]?.boolValue else { fatalMismatch(name, "bool") }
        return value
    }

    /// A string or choice parameter.
    public func string(_ name: String) -> String {
        guard let value = values[name]?.stringValue else { fatalMismatch(name, "string") }
        return value
    }

    /// An optional string parameter: nil when left out.
    public func optionalString(_ name: String) -> String? { values[name]?.stringValue }

    /// A list of numbers.
    public func doubles(_ name: String) -> [Double] {
        guard let list = values[name]?.listValue else { fatalMismatch(name, "list") }
        return list.map { $0.doubleValue ?? .nan }
    }

    /// A list of integers.
    public func ints(_ name: String) -> [Int] {
        guard let list = values[name]?.listValue else { fatalMismatch(name, "list") }
        return list.map { $0.intValue ?? 0 }
    }

    /// A list of strings.
    public func strings(_ name: String) -> [String] {
        guard let list = values[name]?.listValue else { fatalMismatch(name, "list") }
        return list.map { $0.stringValue ?? "" }
    }

    /// A nested parameter group.
    public func group(_ name: String) -> ResolvedParameters {
        guard let map = values[name]?.mapValue else { fatalMismatch(name, "group") }
        return ResolvedParameters(map)
    }

    /// The parameters as one map value (what light stages store and the hash covers).
    public var asValue: ParamValue { .map(values) }

    private func fatalMismatch(_ name: String, _ type: String) -> Never {
        preconditionFailure("ResolvedParameters.\(type)(\"\(name)\"): no \(type) parameter of that name; present: \(values.keys.sorted())")
    }
}
