/// The small JSON subset a safetensors header needs, parsed strictly so a damaged header is
/// reported with its byte position rather than half-read. Objects keep their key order.
enum HeaderJSON: Equatable {
    case object([(key: String, value: HeaderJSON)])
    case array([HeaderJSON])
    case string(String)
    /// A number without fraction or exponent that fits in `Int`.
    case integer(Int)
    /// Any other number.
    case number(Double)
    case bool(Bool)
    case null

    static func == (a: HeaderJSON, b: HeaderJSON) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.array(x), .array(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    /// A syntax error at a byte offset of the header.
    struct SyntaxError: Error {
        var offset: Int
        var message: String
    }

    /// Parses `bytes` as one JSON value followed only by whitespace.
    static func parse(_ bytes: [UInt8]) throws -> HeaderJSON {
        var parser = Parser(bytes: bytes)
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        if parser.position != bytes.count { throw parser.error("unexpected data after the JSON value") }
        return value
    }

    /// Serialises to compact JSON (no spaces), keys in stored order.
    func serialized() -> String {
        switch self {
        case let .object(members):
            return "{" + members.map { HeaderJSON.quoted($0.key) + ":" + $0.value.serialized() }.joined(separator: ",") + "}"
        case let .array(items): return "[" + items.map { $0.serialized() }.joined(separator: ",") + "]"
        case let .string(s): return HeaderJSON.quoted(s)
        case let .integer(i): return String(i)
        case let .number(d): return d.isFinite ? "\(d)" : "null"
        case let .bool(b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    /// `s` as a JSON string literal.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0
        static let maxDepth = 64

        init(bytes: [UInt8]) { self.bytes = bytes }

        func error(_ message: String) -> SyntaxError { SyntaxError(offset: position, message: message) }

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[position]) { position += 1 }
        }

        mutating func expect(_ literal: String, giving value: HeaderJSON) throws -> HeaderJSON {
            let utf8 = Array(literal.utf8)
            guard position + utf8.count <= bytes.count, Array(bytes[position..<position + utf8.count]) == utf8 else {
                throw error("expected \(literal)")
            }
            position += utf8.count
            return value
        }

        mutating func value(depth: Int) throws -> HeaderJSON {
            guard depth < Parser.maxDepth else { throw error("nesting deeper than \(Parser.maxDepth)") }
            skipWhitespace()
            guard position < bytes.count else { throw error("unexpected end of the header") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try expect("true", giving: .bool(true))
            case UInt8(ascii: "f"): return try expect("false", giving: .bool(false))
            case UInt8(ascii: "n"): return try expect("null", giving: .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("unexpected character '\(Character(Unicode.Scalar(bytes[position])))'")
            }
        }

        mutating func object(depth: Int) throws -> HeaderJSON {
            position += 1
            var members: [(key: String, value: HeaderJSON)] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try string()
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
                position += 1
                members.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                guard position < bytes.count else { throw error("unexpected end of the header inside an object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                throw error("expected ',' or '}' in an object")
            }
        }

        mutating func array(depth: Int) throws -> HeaderJSON {
            position += 1
            var items: [HeaderJSON] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                guard position < bytes.count else { throw error("unexpected end of the header inside an array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                throw error("expected ',' or ']' in an array")
            }
        }

        mutating func hex4() throws -> UInt32 {
            guard position + 4 <= bytes.count,
                  let v = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16) else {
                throw error("bad \\u escape")
            }
            position += 4
            return v
        }

        mutating func string() throws -> String {
            position += 1
            var scalars = String.UnicodeScalarView()
            var run: [UInt8] = []
            func flush() throws {
                guard !run.isEmpty else { return }
                guard let s = String(validating: run, as: UTF8.self) else { throw error("string is not valid UTF-8") }
                scalars.append(contentsOf: s.unicodeScalars)
                run.removeAll(keepingCapacity: true)
            }
            while true {
                guard position < bytes.count else { throw error("unterminated string") }
                let c = bytes[position]
                if c == UInt8(ascii: "\"") { position += 1; try flush(); return String(scalars) }
                if c < 0x20 { throw error("control character in a string") }
                if c != UInt8(ascii: "\\") { run.append(c); position += 1; continue }
                try flush()
                position += 1
                guard position < bytes.count else { throw error("unterminated escape") }
                let e = bytes[position]
                position += 1
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard position + 2 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
                              bytes[position + 1] == UInt8(ascii: "u") else { throw error("unpaired surrogate") }
                        position += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    scalars.append(scalar)
                default: throw error("unknown escape \\\(Character(Unicode.Scalar(e)))")
                }
            }
        }

        mutating func number() throws -> HeaderJSON {
            let start = position
            var isInteger = true
            if bytes[position] == UInt8(ascii: "-") { position += 1 }
            func digits() -> Int {
                let s = position
                while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
                return position - s
            }
            guard digits() > 0 else { throw error("expected digits") }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                isInteger = false
                position += 1
                guard digits() > 0 else { throw error("expected digits after '.'") }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                isInteger = false
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
                guard digits() > 0 else { throw error("expected exponent digits") }
            }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            if isInteger, let i = Int(text) { return .integer(i) }
            guard let d = Double(text) else { throw error("bad number \(text)") }
            return .number(d)
        }
    }
}

/// JSON string literals for the tools (`sbcl-bench`'s results): the header writer's escaping.
public enum JSONText {
    /// `s` as a JSON string literal, quotes included.
    public static func quoted(_ s: String) -> String { HeaderJSON.quoted(s) }
}
