/// The dictionary literal at the start of a `.npy` file, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
struct NPYHeader: Equatable {
    /// The element type.
    var dtype: DType
    /// Whether the data is stored big-endian (`>` byte order).
    var bigEndian: Bool
    /// Whether the data is in Fortran (column-major) order.
    var fortranOrder: Bool
    /// The array's dimensions.
    var shape: [Int]

    /// A problem in the header text; the reader adds the file name.
    struct ParseError: Error {
        var kind: TensorFileError.Kind
        var message: String
    }

    /// The header literal numpy writes, without padding: keys in numpy's order.
    func literal() -> String {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        let order = dtype.byteSize == 1 ? "|" : (bigEndian ? ">" : "<")
        return "{'descr': '\(order)\(dtype.numpyCode!)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
    }

    /// Parses the header literal.
    static func parse(_ text: String) throws -> NPYHeader {
        var scanner = Scanner(chars: Array(text.unicodeScalars))
        guard case let .dict(pairs) = try scanner.value() else {
            throw ParseError(kind: .malformedHeader, message: "header is not a dictionary literal")
        }
        scanner.skipSpace()
        guard scanner.atEnd else { throw ParseError(kind: .malformedHeader, message: "unexpected text after the header dictionary") }
        func lookup(_ key: String) throws -> Value {
            guard let v = pairs.first(where: { $0.0 == key })?.1 else {
                throw ParseError(kind: .malformedHeader, message: "header lacks the '\(key)' key")
            }
            return v
        }
        let extra = pairs.map(\.0).filter { !["descr", "fortran_order", "shape"].contains($0) }
        if !extra.isEmpty { throw ParseError(kind: .malformedHeader, message: "header has unexpected keys \(extra)") }

        guard case let .string(descr) = try lookup("descr") else {
            throw ParseError(kind: .unsupported, message: "structured dtypes (a 'descr' that is not a string) are not supported")
        }
        guard case let .bool(fortran) = try lookup("fortran_order") else {
            throw ParseError(kind: .malformedHeader, message: "'fortran_order' is not True or False")
        }
        guard case let .tuple(shape) = try lookup("shape") else {
            throw ParseError(kind: .malformedHeader, message: "'shape' is not a tuple of integers")
        }
        guard let order = descr.first, let dtype = DType(numpyCode: String(descr.dropFirst())), dtype != .bfloat16 else {
            throw ParseError(kind: .unsupported, message: "dtype '\(descr)' is not supported (expected e.g. '<f4', '<f8', '<i8', '<i4', '|u1', '|b1')")
        }
        let bigEndian: Bool
        switch order {
        case "<", "|", "=": bigEndian = false
        case ">": bigEndian = dtype.byteSize > 1
        default: throw ParseError(kind: .unsupported, message: "dtype '\(descr)' has an unknown byte-order character")
        }
        return NPYHeader(dtype: dtype, bigEndian: bigEndian, fortranOrder: fortran, shape: shape)
    }

    /// A Python literal value of the kinds a `.npy` header uses.
    private enum Value {
        case string(String)
        case bool(Bool)
        case tuple([Int])
        case dict([(String, Value)])
        case list
    }

    private struct Scanner {
        let chars: [Unicode.Scalar]
        var i = 0
        var atEnd: Bool { i >= chars.count }

        func fail(_ message: String) -> ParseError {
            ParseError(kind: .malformedHeader, message: "\(message) at character \(i) of the header")
        }

        mutating func skipSpace() {
            while i < chars.count, chars[i] == " " || chars[i] == "\t" || chars[i] == "\n" || chars[i] == "\r" { i += 1 }
        }

        mutating func value() throws -> Value {
            skipSpace()
            guard i < chars.count else { throw fail("unexpected end") }
            switch chars[i] {
            case "{": return try dict()
            case "(": return try tuple()
            case "[": return try skipList()
            case "'", "\"": return .string(try string())
            default:
                if word("True") { return .bool(true) }
                if word("False") { return .bool(false) }
                throw fail("unexpected character '\(chars[i])'")
            }
        }

        mutating func word(_ w: String) -> Bool {
            let ws = Array(w.unicodeScalars)
            guard i + ws.count <= chars.count, Array(chars[i..<i + ws.count]) == ws else { return false }
            i += ws.count
            return true
        }

        mutating func string() throws -> String {
            let quote = chars[i]
            i += 1
            var s = String.UnicodeScalarView()
            while i < chars.count, chars[i] != quote {
                if chars[i] == "\\" { i += 1; guard i < chars.count else { break } }
                s.append(chars[i])
                i += 1
            }
            guard i < chars.count else { throw fail("unterminated string") }
            i += 1
            return String(s)
        }

        mutating func dict() throws -> Value {
            i += 1
            var pairs: [(String, Value)] = []
            while true {
                skipSpace()
                guard i < chars.count else { throw fail("unterminated dictionary") }
                if chars[i] == "}" { i += 1; return .dict(pairs) }
                guard chars[i] == "'" || chars[i] == "\"" else { throw fail("expected a quoted key") }
                let key = try string()
                skipSpace()
                guard i < chars.count, chars[i] == ":" else { throw fail("expected ':'") }
                i += 1
                pairs.append((key, try value()))
                skipSpace()
                guard i < chars.count else { throw fail("unterminated dictionary") }
                if chars[i] == "," { i += 1 } else if chars[i] != "}" { throw fail("expected ',' or '}'") }
            }
        }

        mutating func tuple() throws -> Value {
            i += 1
            var items: [Int] = []
            while true {
                skipSpace()
                guard i < chars.count else { throw fail("unterminated tuple") }
                if chars[i] == ")" { i += 1; return .tuple(items) }
                let start = i
                while i < chars.count, ("0"..."9").contains(chars[i]) { i += 1 }
                guard i > start, let n = Int(String(String.UnicodeScalarView(chars[start..<i]))) else {
                    throw fail("expected a non-negative integer in the shape")
                }
                if i < chars.count, chars[i] == "L" { i += 1 }  // Python 2 long literal.
                items.append(n)
                skipSpace()
                guard i < chars.count else { throw fail("unterminated tuple") }
                if chars[i] == "," { i += 1 } else if chars[i] != ")" { throw fail("expected ',' or ')'") }
            }
        }

        /// Skips a list literal (a structured dtype's descr), which is then reported as unsupported.
        mutating func skipList() throws -> Value {
            var depth = 0
            while i < chars.count {
                if chars[i] == "[" { depth += 1 }
                if chars[i] == "]" { depth -= 1; if depth == 0 { i += 1; return .list } }
                if chars[i] == "'" || chars[i] == "\"" { _ = try string(); continue }
                i += 1
            }
            throw fail("unterminated list")
        }
    }
}
