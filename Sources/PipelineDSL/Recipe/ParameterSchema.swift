/// The type of a stage parameter, as the recipe validator and the JSON schema see it.
public indirect enum ParameterType: Sendable {
    /// A whole number (a plain YAML scalar such as `1000`).
    case int
    /// A finite number; integers are accepted and widened.
    case float
    /// `true` or `false`.
    case bool
    /// Any scalar text.
    case string
    /// One of the listed strings.
    case choice([String])
    /// A list whose elements all have the element type, with an optional length bound.
    case list(of: ParameterType, minCount: Int = 0, maxCount: Int? = nil)
    /// A nested group of named parameters, validated like a stage's own.
    case group([Parameter])

    /// A short human name for messages: "an integer", "one of rank, ccl, supcon", ...
    public var expectation: String {
        switch self {
        case .int: return "an integer"
        case .float: return "a number"
        case .bool: return "true or false"
        case .string: return "a string"
        case .choice(let options): return "one of " + options.joined(separator: ", ")
        case .list(let element, _, _): return "a list of \(element.pluralName)"
        case .group: return "a mapping"
        }
    }

    var pluralName: String {
        switch self {
        case .int: return "integers"
        case .float: return "numbers"
        case .bool: return "booleans"
        case .string: return "strings"
        case .choice(let options): return "values from " + options.joined(separator: ", ")
        case .list: return "lists"
        case .group: return "mappings"
        }
    }
}

/// Whether a parameter must be written, may be left out, or takes a default.
public enum Requirement: Sendable {
    /// The recipe must set it.
    case required
    /// It may be absent; the stage sees no value (add it with `+key=value`).
    case optional
    /// Absent means this value, which is written into the resolved recipe and the hash.
    case defaultValue(ParamValue)
}

/// Bounds on a number (or on each number of a list).
public struct NumericRange: Sendable, Equatable {
    /// The lower bound, if any.
    public var lower: Double?
    /// Whether `lower` itself is allowed.
    public var lowerInclusive: Bool
    /// The upper bound, if any.
    public var upper: Double?
    /// Whether `upper` itself is allowed.
    public var upperInclusive: Bool

    /// Creates a range from optional bounds.
    public init(lower: Double? = nil, lowerInclusive: Bool = true, upper: Double? = nil, upperInclusive: Bool = true) {
        self.lower = lower
        self.lowerInclusive = lowerInclusive
        self.upper = upper
        self.upperInclusive = upperInclusive
    }

    /// `lower ≤ x ≤ upper`.
    public static func closed(_ lower: Double, _ upper: Double) -> NumericRange {
        NumericRange(lower: lower, upper: upper)
    }

    /// `x ≥ lower`.
    public static func atLeast(_ lower: Double) -> NumericRange { NumericRange(lower: lower) }

    /// `x > lower`.
    public static func greaterThan(_ lower: Double) -> NumericRange { NumericRange(lower: lower, lowerInclusive: false) }

    /// `x ≤ upper`.
    public static func atMost(_ upper: Double) -> NumericRange { NumericRange(upper: upper) }

    /// `lower < x ≤ upper`, or with `upperInclusive: false`, `lower < x < upper`.
    public static func openClosed(_ lower: Double, _ upper: Double, upperInclusive: Bool = true) -> NumericRange {
        NumericRange(lower: lower, lowerInclusive: false, upper: upper, upperInclusive: upperInclusive)
    }

    /// Whether `value` lies within the bounds.
    public func contains(_ value: Double) -> Bool {
        if let lower, lowerInclusive ? value < lower : value <= lower { return false }
        if let upper, upperInclusive ? value > upper : value >= upper { return false }
        return true
    }

    /// Mathematical notation: `> 0`, `>= 1`, `in [0, 1]`, `in (0, 1)`.
    public var description: String {
        switch (lower, upper) {
        case let (lower?, upper?):
            return "in \(lowerInclusive ? "[" : "(")\(Self.format(lower)), \(Self.format(upper))\(upperInclusive ? "]" : ")")"
        case let (lower?, nil):
            return "\(lowerInclusive ? ">=" : ">") \(Self.format(lower))"
        case let (nil, upper?):
            return "\(upperInclusive ? "<=" : "<") \(Self.format(upper))"
        case (nil, nil):
            return "any number"
        }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }
}

/// One parameter a stage kind accepts: its name, type, default, range and a one-line doc.
public struct Parameter: Sendable {
    /// The recipe key (`snake_case`).
    public var name: String
    /// The value's type.
    public var type: ParameterType
    /// Required, optional, or a default value.
    public var requirement: Requirement
    /// Bounds for numbers (applied to each element of a numeric list).
    public var range: NumericRange?
    /// One line for `plan`, the JSON schema and editor tooltips.
    public var doc: String

    /// Creates a parameter. Prefer the typed factories (`.int`, `.float`, ...).
    public init(name: String, type: ParameterType, requirement: Requirement, range: NumericRange? = nil, doc: String) {
        self.name = name
        self.type = type
        self.requirement = requirement
        self.range = range
        self.doc = doc
    }

    /// An integer parameter; `nil` default means required.
    public static func int(_ name: String, default value: Int?, range: NumericRange? = nil, doc: String) -> Parameter {
        Parameter(name: name, type: .int, requirement: value.map { .defaultValue(.int($0)) } ?? .required, range: range, doc: doc)
    }

    /// A number parameter; `nil` default means required.
    public static func float(_ name: String, default value: Double?, range: NumericRange? = nil, doc: String) -> Parameter {
        Parameter(name: name, type: .float, requirement: value.map { .defaultValue(.float($0)) } ?? .required, range: range, doc: doc)
    }

    /// A boolean parameter with a default.
    public static func bool(_ name: String, default value: Bool, doc: String) -> Parameter {
        Parameter(name: name, type: .bool, requirement: .defaultValue(.bool(value)), doc: doc)
    }

    /// A string parameter; `nil` default means required.
    public static func string(_ name: String, default value: String?, doc: String) -> Parameter {
        Parameter(name: name, type: .string, requirement: value.map { .defaultValue(.string($0)) } ?? .required, doc: doc)
    }

    /// A string parameter that may be left out (the stage sees no value).
    public static func optionalString(_ name: String, doc: String) -> Parameter {
        Parameter(name: name, type: .string, requirement: .optional, doc: doc)
    }

    /// One of a fixed set of strings; `nil` default means required.
    public static func choice(_ name: String, _ options: [String], default value: String?, doc: String) -> Parameter {
        precondition(value.map(options.contains) ?? true, "Parameter.choice(\(name)): default \(value!) not in \(options)")
        return Parameter(name: name, type: .choice(options), requirement: value.map { .defaultValue(.string($0)) } ?? .required, doc: doc)
    }

    /// A list of numbers; `nil` default means required.
    public static func floatList(_ name: String, default value: [Double]?, range: NumericRange? = nil,
                                 minCount: Int = 0, maxCount: Int? = nil, doc: String) -> Parameter {
        Parameter(name: name, type: .list(of: .float, minCount: minCount, maxCount: maxCount),
                  requirement: value.map { .defaultValue(.list($0.map(ParamValue.float))) } ?? .required, range: range, doc: doc)
    }

    /// A list of integers; `nil` default means required.
    public static func intList(_ name: String, default value: [Int]?, range: NumericRange? = nil,
                               minCount: Int = 0, maxCount: Int? = nil, doc: String) -> Parameter {
        Parameter(name: name, type: .list(of: .int, minCount: minCount, maxCount: maxCount),
                  requirement: value.map { .defaultValue(.list($0.map(ParamValue.int))) } ?? .required, range: range, doc: doc)
    }

    /// A list of strings; `nil` default means required.
    public static func stringList(_ name: String, default value: [String]?, minCount: Int = 0, maxCount: Int? = nil, doc: String) -> Parameter {
        Parameter(name: name, type: .list(of: .string, minCount: minCount, maxCount: maxCount),
                  requirement: value.map { .defaultValue(.list($0.map(ParamValue.string))) } ?? .required, doc: doc)
    }

    /// A nested group of parameters; it is always present and its members take their own defaults.
    public static func group(_ name: String, _ members: [Parameter], doc: String) -> Parameter {
        Parameter(name: name, type: .group(members), requirement: .defaultValue(.map([:])), doc: doc)
    }
}
