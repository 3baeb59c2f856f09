import Foundation

/// A typed parameter or metric value: what a recipe value becomes after validation.
public enum ParamValue: Sendable, Hashable {
    /// An integer.
    case int(Int)
    /// A finite floating-point number.
    case float(Double)
    /// A boolean.
    case bool(Bool)
    /// A string (also the value of an enumeration).
    case string(String)
    /// A list of values.
    case list([ParamValue])
    /// A map from names to values (a nested parameter group or a metrics record).
    case map([String: ParamValue])

    /// The integer, if this is `.int`.
    public var intValue: Int? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// The number as a `Double`, for `.int` and `.float`.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .float(let value): return value
        default: return nil
        }
    }

    /// The boolean, if this is `.bool`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The string, if this is `.string`.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The elements, if this is `.list`.
    public var listValue: [ParamValue]? {
        if case .list(let value) = self { return value }
        return nil
    }

    /// The entries, if this is `.map`.
    public var mapValue: [String: ParamValue]? {
        if case .map(let value) = self { return value }
        return nil
    }
}

// MARK: - Canonical JSON

extension ParamValue {
    /// Canonical JSON: keys sorted by code point, no whitespace, integers in decimal, floats in
    /// Swift's shortest round-trip form (`0.1`, `1e-05`, `2.0`), strings with minimal escapes.
    ///
    /// Two values that are equal after validation always give the same text, so it is what the
    /// stage hash is computed over.
    public var canonicalJSON: String {
        var out = ""
        writeCanonical(into: &out)
        return out
    }

    func writeCanonical(into out: inout String) {
        switch self {
        case .int(let value):
            out += String(value)
        case .float(let value):
            out += ParamValue.canonicalNumber(value)
        case .bool(let value):
            out += value ? "true" : "false"
        case .string(let value):
            ParamValue.writeJSONString(value, into: &out)
        case .list(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.writeCanonical(into: &out)
            }
            out += "]"
        case .map(let entries):
            out += "{"
            for (index, key) in entries.keys.sorted(by: { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }).enumerated() {
                if index > 0 { out += "," }
                ParamValue.writeJSONString(key, into: &out)
                out += ":"
                entries[key]!.writeCanonical(into: &out)
            }
            out += "}"
        }
    }

    /// A finite double in shortest round-trip form; `-0.0` is written as `0.0`.
    static func canonicalNumber(_ value: Double) -> String {
        precondition(value.isFinite, "ParamValue.canonicalNumber: non-finite value \(value)")
        return value == 0 ? "0.0" : "\(value)"
    }

    /// Appends `text` as a JSON string literal, escaping only what JSON requires.
    static func writeJSONString(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// Pretty JSON (two-space indent, sorted keys) for files people read: manifests, metrics.
    public func prettyJSON(indent: String = "") -> String {
        switch self {
        case .list(let values) where !values.isEmpty:
            if values.allSatisfy({ $0.isScalar }) { return canonicalJSON.replacingOccurrences(of: ",", with: ", ") }
            let inner = indent + "  "
            return "[\n" + values.map { inner + $0.prettyJSON(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .map(let entries) where !entries.isEmpty:
            let inner = indent + "  "
            let lines = entries.keys.sorted().map { key -> String in
                var name = ""
                ParamValue.writeJSONString(key, into: &name)
                return inner + name + ": " + entries[key]!.prettyJSON(indent: inner)
            }
            return "{\n" + lines.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return canonicalJSON
        }
    }

    /// Whether this is neither a list nor a map.
    var isScalar: Bool {
        switch self {
        case .list, .map: return false
        default: return true
        }
    }
}

// MARK: - Reading JSON

extension ParamValue {
    /// Parses JSON text (as written by `canonicalJSON` or `prettyJSON`); nil when it is not valid JSON.
    ///
    /// Numbers with a fraction or exponent become `.float`, others `.int`; `null` is not representable
    /// and makes the parse fail.
    public static func parseJSON(_ text: String) -> ParamValue? {
        var parser = JSONReader(scalars: Array(text.unicodeScalars))
        guard let value = parser.value(depth: 0) else { return nil }
        parser.skipSpace()
        return parser.index == parser.scalars.count ? value : nil
    }
}

/// A small recursive-descent JSON reader that keeps the int/float distinction.
private struct JSONReader {
    let scalars: [Unicode.Scalar]
    var index = 0

    mutating func skipSpace() {
        while index < scalars.count, [" ", "\n", "\r", "\t"].contains(scalars[index]) { index += 1 }
    }

    mutating func value(depth: Int) -> ParamValue? {
        guard depth < 200 else { return nil }
        skipSpace()
        guard index < scalars.count else { return nil }
        switch scalars[index] {
        case "{":
            index += 1
            var entries: [String: ParamValue] = [:]
            skipSpace()
            if index < scalars.count, scalars[index] == "}" { index += 1; return .map(entries) }
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard index < scalars.count, scalars[index] == ":" else { return nil }
                index += 1
                guard let item = value(depth: depth + 1) else { return nil }
                entries[key] = item
                skipSpace()
                guard index < scalars.count else { return nil }
                if scalars[index] == "," { index += 1; continue }
                if scalars[index] == "}" { index += 1; return .map(entries) }
                return nil
            }
        case "[":
            index += 1
            var items: [ParamValue] = []
            skipSpace()
            if index < scalars.count, scalars[index] == "]" { index += 1; return .list(items) }
            while true {
                guard let item = value(depth: depth + 1) else { return nil }
                items.append(item)
                skipSpace()
                guard index < scalars.count else { return nil }
                if scalars[index] == "," { index += 1; continue }
                if scalars[index] == "]" { index += 1; return .list(items) }
                return nil
            }
        case "\"":
            return string().map(ParamValue.string)
        case "t", "f":
            for (word, result) in [("true", true), ("false", false)] where matches(word) {
                index += word.unicodeScalars.count
                return .bool(result)
            }
            return nil
        default:
            return number()
        }
    }

    func matches(_ word: String) -> Bool {
        let wanted = Array(word.unicodeScalars)
        return index + wanted.count <= scalars.count && Array(scalars[index..<index + wanted.count]) == wanted
    }

    mutating func string() -> String? {
        guard index < scalars.count, scalars[index] == "\"" else { return nil }
        index += 1
        var out = String.UnicodeScalarView()
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            if scalar == "\"" { return String(out) }
            if scalar != "\\" { out.append(scalar); continue }
            guard index < scalars.count else { return nil }
            let escape = scalars[index]
            index += 1
            switch escape {
            case "\"": out.append("\"")
            case "\\": out.append("\\")
            case "/": out.append("/")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "b": out.append("\u{8}")
            case "f": out.append("\u{c}")
            case "u":
                guard index + 4 <= scalars.count,
                      let code = UInt32(String(String.UnicodeScalarView(scalars[index..<index + 4])), radix: 16),
                      let decoded = Unicode.Scalar(code) else { return nil }
                out.append(decoded)
                index += 4
            default: return nil
            }
        }
        return nil
    }

    mutating func number() -> ParamValue? {
        let start = index
        while index < scalars.count, "+-0123456789.eE".unicodeScalars.contains(scalars[index]) { index += 1 }
        let text = String(String.UnicodeScalarView(scalars[start..<index]))
        if let int = Int(text) { return .int(int) }
        if let double = Double(text), double.isFinite { return .float(double) }
        return nil
    }
}
