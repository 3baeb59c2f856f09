/// A stage kind's settings as one typed value, declared beside its parameter table.
///
/// The table (`fields`) is the one place where a parameter's name, type, default, range and doc
/// live: the kind's `parameters` (and so validation, the JSON schema and `plan`) are generated from
/// it, and `init(_:)` decodes validated parameters into the value through the same table. The
/// value is what a kind's validation, hash material, memory estimate and run read; nothing reads a
/// parameter by its string key elsewhere.
///
/// A conforming type gives every stored property a placeholder initial value and hands the
/// placeholder value out as `unset` (its internal `init()`); the placeholders are never seen,
/// since decoding writes every field. Outside code gets settings by decoding or from `defaults`.
public protocol StageSettings: Sendable {
    /// The parameters, each bound to the property it decodes into, in the order `plan` shows them.
    static var fields: [SettingsField<Self>] { get }
    /// The value with placeholder properties, before decoding.
    static var unset: Self { get }
    /// Checks what the parameter ranges cannot say (one parameter against another); the planner
    /// reports a thrown error as a recipe error on the stage.
    func validate() throws
}

extension StageSettings {
    /// The kind's parameter table, generated from `fields`.
    public static var parameters: [Parameter] { fields.map(\.parameter) }

    /// Decodes validated parameters (a stage's resolved parameters, or an input's).
    public init(_ parameters: ResolvedParameters) {
        self = Self.unset
        for field in Self.fields { field.decode(parameters, &self) }
    }

    /// The settings every parameter at its default (for tests and documentation).
    public static var defaults: Self {
        var values: [String: ParamValue] = [:]
        for parameter in parameters {
            if case let .defaultValue(value) = parameter.requirement { values[parameter.name] = value }
        }
        return Self(ResolvedParameters(values))
    }

    public func validate() throws {}

    /// A copy with some settings changed: `ClusteringStage.Settings.defaults.with { $0.every = 5 }`.
    public func with(_ change: (inout Self) -> Void) -> Self {
        var copy = self
        change(&copy)
        return copy
    }
}

/// One parameter of a `StageSettings` table and how its validated value lands in the settings.
public struct SettingsField<Root>: Sendable {
    /// The parameter as validation, the schema and `plan` see it.
    public let parameter: Parameter
    /// Writes the parameter's validated value into the settings.
    let decode: @Sendable (ResolvedParameters, inout Root) -> Void

    /// A field from a parameter and its decoder (the typed factories below cover the usual cases).
    public init(_ parameter: Parameter, decode: @escaping @Sendable (ResolvedParameters, inout Root) -> Void) {
        self.parameter = parameter
        self.decode = decode
    }

    /// An integer.
    public static func int(_ name: String, _ property: WritableKeyPath<Root, Int> & Sendable, default value: Int,
                           range: NumericRange? = nil, doc: String) -> Self {
        Self(.int(name, default: value, range: range, doc: doc)) { p, root in root[keyPath: property] = p.int(name) }
    }

    /// A number.
    public static func float(_ name: String, _ property: WritableKeyPath<Root, Double> & Sendable, default value: Double,
                             range: NumericRange? = nil, doc: String) -> Self {
        Self(.float(name, default: value, range: range, doc: doc)) { p, root in root[keyPath: property] = p.double(name) }
    }

    /// A number held in single precision (the engine's).
    public static func float(_ name: String, _ property: WritableKeyPath<Root, Float> & Sendable, default value: Double,
                             range: NumericRange? = nil, doc: String) -> Self {
        Self(.float(name, default: value, range: range, doc: doc)) { p, root in root[keyPath: property] = Float(p.double(name)) }
    }

    /// `true` or `false`.
    public static func bool(_ name: String, _ property: WritableKeyPath<Root, Bool> & Sendable, default value: Bool,
                            doc: String) -> Self {
        Self(.bool(name, default: value, doc: doc)) { p, root in root[keyPath: property] = p.bool(name) }
    }

    /// Free text with a default.
    public static func string(_ name: String, _ property: WritableKeyPath<Root, String> & Sendable, default value: String,
                              doc: String) -> Self {
        Self(.string(name, default: value, doc: doc)) { p, root in root[keyPath: property] = p.string(name) }
    }

    /// Free text that may be left out (nil).
    public static func optionalString(_ name: String, _ property: WritableKeyPath<Root, String?> & Sendable, doc: String) -> Self {
        Self(.optionalString(name, doc: doc)) { p, root in root[keyPath: property] = p.optionalString(name) }
    }

    /// One of a closed set: the enum's raw values are the recipe's words, in declaration order.
    public static func choice<Value>(_ name: String, _ property: WritableKeyPath<Root, Value> & Sendable, default value: Value,
                                     doc: String) -> Self
    where Value: RawRepresentable & CaseIterable & Sendable, Value.RawValue == String {
        Self(.choice(name, Value.allCases.map(\.rawValue), default: value.rawValue, doc: doc)) { p, root in
            guard let decoded = Value(rawValue: p.string(name)) else {
                preconditionFailure("SettingsField.choice(\(name)): '\(p.string(name))' passed validation but is not a \(Value.self)")
            }
            root[keyPath: property] = decoded
        }
    }

    /// A list of numbers.
    public static func floatList(_ name: String, _ property: WritableKeyPath<Root, [Double]> & Sendable, default value: [Double],
                                 range: NumericRange? = nil, minCount: Int = 0, maxCount: Int? = nil, doc: String) -> Self {
        Self(.floatList(name, default: value, range: range, minCount: minCount, maxCount: maxCount, doc: doc)) { p, root in
            root[keyPath: property] = p.doubles(name)
        }
    }

    /// A list of integers.
    public static func intList(_ name: String, _ property: WritableKeyPath<Root, [Int]> & Sendable, default value: [Int],
                               range: NumericRange? = nil, minCount: Int = 0, maxCount: Int? = nil, doc: String) -> Self {
        Self(.intList(name, default: value, range: range, minCount: minCount, maxCount: maxCount, doc: doc)) { p, root in
            root[keyPath: property] = p.ints(name)
        }
    }
}
