/// File names as the file system holds them — bytes — carried losslessly in a `String`.
///
/// POSIX names are any bytes but `/` and NUL; Foundation decodes them as UTF-8 and loses (or
/// drops) names that are not. Here valid UTF-8 decodes as usual and every other byte `b` becomes
/// the private-use scalar U+10FF00 + b (as does each byte of a name's own U+10FF00…U+10FFFF
/// scalars, which no real name holds), so `bytes(of:)` gives back exactly the bytes that were
/// read, `display(_:)` shows them as `\xNN`, and a UTF-8 name is the same `String` it always was.
public enum POSIXName {
    private static let escapeBase: UInt32 = 0x10FF00

    /// The lossless `String` for the bytes of a name or path.
    public static func string<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let array = Array(bytes)
        if let valid = String(validating: array, as: UTF8.self), !valid.unicodeScalars.contains(where: { $0.value >= escapeBase }) {
            return valid
        }
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < array.count {
            let length = sequenceLength(array, at: i)
            if length > 0, let s = String(validating: array[i..<(i + length)], as: UTF8.self),
               let scalar = s.unicodeScalars.first, scalar.value < escapeBase {
                scalars.append(scalar)
                i += length
            } else {
                scalars.append(Unicode.Scalar(escapeBase + UInt32(array[i]))!)
                i += 1
            }
        }
        return String(scalars)
    }

    /// The length of the well-formed UTF-8 sequence starting at `i`, or 0 when there is none.
    private static func sequenceLength(_ b: [UInt8], at i: Int) -> Int {
        let lead = b[i]
        let length: Int
        switch lead {
        case 0x00...0x7f: return 1
        case 0xc2...0xdf: length = 2
        case 0xe0...0xef: length = 3
        case 0xf0...0xf4: length = 4
        default: return 0
        }
        guard i + length <= b.count else { return 0 }
        for k in 1..<length where b[i + k] & 0xc0 != 0x80 { return 0 }
        // Overlong, surrogate and beyond-U+10FFFF forms are rejected by String(validating:).
        return length
    }

    /// The bytes a `string(_:)` came from (UTF-8 for any other string).
    public static func bytes(of string: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        for scalar in string.unicodeScalars {
            if scalar.value >= escapeBase { out.append(UInt8(truncatingIfNeeded: scalar.value - escapeBase)) } else { out += Array(String(scalar).utf8) }
        }
        return out
    }

    /// Whether `string` holds a byte that is not UTF-8 (an escaped byte).
    public static func hasRawBytes(_ string: String) -> Bool {
        string.unicodeScalars.contains { $0.value >= escapeBase }
    }

    /// `string` for messages: escaped bytes shown as `\xNN`.
    public static func display(_ string: String) -> String {
        guard hasRawBytes(string) else { return string }
        var out = ""
        for scalar in string.unicodeScalars {
            if scalar.value >= escapeBase {
                let b = scalar.value - escapeBase
                out += "\\x" + String(b >> 4, radix: 16) + String(b & 0xf, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Calls `body` with the NUL-terminated bytes of `path`, for the system calls.
    public static func withCString<R>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        guard hasRawBytes(path) else { return try path.withCString(body) }
        let bytes = self.bytes(of: path).map { CChar(bitPattern: $0) } + [0]
        return try bytes.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}
