/// A minimal unpickler for the data files of CIFAR's python layout: the opcodes of protocols 0–4
/// that dicts of strings, ints, lists and numpy arrays use. Nothing is executed: `GLOBAL` and
/// `REDUCE` build inert values that the CIFAR reader interprets (a numpy `_reconstruct` plus its
/// `BUILD` state).
public indirect enum PickleValue: Equatable, Sendable {
    /// `None`.
    case none
    /// A bool.
    case bool(Bool)
    /// An integer.
    case int(Int)
    /// A float.
    case float(Double)
    /// A text or byte string, as raw bytes (Python 2 `str` read with latin-1, Python 3 `bytes`,
    /// or UTF-8 `unicode`).
    case string([UInt8])
    /// A list.
    case list([PickleValue])
    /// A tuple.
    case tuple([PickleValue])
    /// A dict, in insertion order.
    case dict([(PickleValue, PickleValue)])
    /// A reference to `module.name` (a class or function), never resolved.
    case global(module: String, name: String)
    /// `callable(*args)` and the state a later `BUILD` gave it.
    case object(callable: PickleValue, arguments: [PickleValue], state: PickleValue?)

    /// Equality by structure (dicts compare their pairs in order).
    public static func == (lhs: PickleValue, rhs: PickleValue) -> Bool {
        switch (lhs, rhs) {
        case (.none, .none): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.float(a), .float(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)): return a == b
        case let (.dict(a), .dict(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.global(m1, n1), .global(m2, n2)): return m1 == m2 && n1 == n2
        case let (.object(c1, a1, s1), .object(c2, a2, s2)): return c1 == c2 && a1 == a2 && s1 == s2
        default: return false
        }
    }

    /// The value of `key` (compared as bytes) in a dict; nil otherwise.
    public subscript(key: String) -> PickleValue? {
        guard case let .dict(pairs) = self else { return nil }
        let bytes = Array(key.utf8)
        return pairs.first { if case let .string(k) = $0.0 { return k == bytes } else { return false } }?.1
    }

    /// The text of a string value.
    public var text: String? {
        if case let .string(b) = self { return String(decoding: b, as: UTF8.self) }
        return nil
    }
}

/// Reads one pickle stream.
public struct PickleReader {
    private let bytes: [UInt8]
    private let path: String
    private var offset = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    /// Unpickles the whole of `bytes`; `path` names the file in errors.
    ///
    /// - Throws: `DatasetError.truncated` when the stream ends before `STOP`, `.badFormat` for an
    ///   unsupported opcode or a malformed stream.
    public static func load(_ bytes: [UInt8], path: String) throws -> PickleValue {
        var reader = PickleReader(bytes: bytes, path: path)
        return try reader.run()
    }

    private init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    private func fail(_ message: String) -> DatasetError {
        DatasetError(.badFormat, path: path, "pickle: \(message) at byte \(offset)")
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - offset else {
            throw DatasetError(.truncated, path: path, "the pickle stream ends at byte \(bytes.count), inside a value that needs \(n) bytes from byte \(offset)")
        }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    private mutating func littleEndian(_ n: Int) throws -> Int {
        var v: UInt64 = 0
        for (k, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
        return Int(truncatingIfNeeded: v)
    }

    private mutating func line() throws -> String {
        guard let end = bytes[offset...].firstIndex(of: 0x0a) else {
            throw DatasetError(.truncated, path: path, "the pickle stream ends inside a text line at byte \(offset)")
        }
        defer { offset = end + 1 }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow") }
        return v
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw fail("MARK missing") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private mutating func run() throws -> PickleValue {
        while true {
            let op = try take(1).first!
            switch op {
            case 0x80: _ = try take(1) // PROTO
            case 0x95: _ = try take(8) // FRAME
            case 0x2e: return try pop() // STOP
            case 0x28: marks.append(stack.count) // MARK
            case 0x7d: stack.append(.dict([])) // EMPTY_DICT
            case 0x5d: stack.append(.list([])) // EMPTY_LIST
            case 0x29: stack.append(.tuple([])) // EMPTY_TUPLE
            case 0x4e: stack.append(.none)
            case 0x88: stack.append(.bool(true)) // NEWTRUE
            case 0x89: stack.append(.bool(false)) // NEWFALSE
            case 0x4b: stack.append(.int(try littleEndian(1))) // BININT1
            case 0x4d: stack.append(.int(try littleEndian(2))) // BININT2
            case 0x4a: stack.append(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4))))) // BININT
            case 0x8a: // LONG1
                let n = try littleEndian(1)
                let raw = try take(n)
                var v: Int64 = 0
                for (k, b) in raw.enumerated() where k < 8 { v |= Int64(b) << (8 * Int64(k)) }
                if n > 0, n < 8, raw.last! & 0x80 != 0 { v -= Int64(1) << (8 * Int64(n)) }
                stack.append(.int(Int(v)))
            case 0x49: // INT (text)
                let text = try line()
                if text == "00" || text == "01" { stack.append(.bool(text == "01")) } else {
                    guard let v = Int(text) else { throw fail("bad INT \(text)") }
                    stack.append(.int(v))
                }
            case 0x47: // BINFLOAT, big-endian
                var v: UInt64 = 0
                for b in try take(8) { v = v << 8 | UInt64(b) }
                stack.append(.float(Double(bitPattern: v)))
            case 0x55, 0x43, 0x8c: stack.append(.string(Array(try take(try littleEndian(1))))) // SHORT_BINSTRING/BYTES/UNICODE
            case 0x54, 0x42, 0x58: stack.append(.string(Array(try take(try littleEndian(4))))) // BINSTRING/BINBYTES/BINUNICODE
            case 0x8d, 0x8e: stack.append(.string(Array(try take(try littleEndian(8))))) // BINUNICODE8/BINBYTES8
            case 0x71: memo[try littleEndian(1)] = stack.last // BINPUT
            case 0x72: memo[try littleEndian(4)] = stack.last // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last // MEMOIZE
            case 0x68, 0x6a: // BINGET, LONG_BINGET
                let key = try littleEndian(op == 0x68 ? 1 : 4)
                guard let v = memo[key] else { throw fail("memo \(key) missing") }
                stack.append(v)
            case 0x70: memo[Int(try line()) ?? -1] = stack.last // PUT
            case 0x67: // GET
                let key = Int(try line()) ?? -1
                guard let v = memo[key] else { throw fail("memo \(key) missing") }
                stack.append(v)
            case 0x61: // APPEND
                let v = try pop()
                guard case var .list(items) = try pop() else { throw fail("APPEND to a non-list") }
                items.append(v)
                stack.append(.list(items))
            case 0x65: // APPENDS
                let values = try popMark()
                guard case var .list(items) = try pop() else { throw fail("APPENDS to a non-list") }
                items += values
                stack.append(.list(items))
            case 0x73: // SETITEM
                let value = try pop(), key = try pop()
                guard case var .dict(pairs) = try pop() else { throw fail("SETITEM on a non-dict") }
                pairs.append((key, value))
                stack.append(.dict(pairs))
            case 0x75: // SETITEMS
                let values = try popMark()
                guard values.count % 2 == 0, case var .dict(pairs) = try pop() else { throw fail("bad SETITEMS") }
                for k in stride(from: 0, to: values.count, by: 2) { pairs.append((values[k], values[k + 1])) }
                stack.append(.dict(pairs))
            case 0x74: stack.append(.tuple(try popMark())) // TUPLE
            case 0x85: stack.append(.tuple([try pop()])) // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b])) // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c])) // TUPLE3
            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                stack.append(.global(module: module, name: name))
            case 0x93: // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard let m = module.text, let n = name.text else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(.global(module: m, name: n))
            case 0x52, 0x81: // REDUCE, NEWOBJ
                guard case let .tuple(args) = try pop() else { throw fail("REDUCE arguments are not a tuple") }
                let callable = try pop()
                stack.append(PickleReader.reduce(callable, args))
            case 0x62: // BUILD
                let state = try pop()
                guard case let .object(callable, args, _) = try pop() else { throw fail("BUILD on a non-object") }
                stack.append(.object(callable: callable, arguments: args, state: state))
            default:
                throw fail(String(format: "unsupported opcode 0x%02x", op))
            }
        }
    }

    /// `_codecs.encode(text, 'latin1')` is how Python 3 pickles `bytes` in protocol 2: undo it
    /// here; everything else stays an inert object.
    private static func reduce(_ callable: PickleValue, _ args: [PickleValue]) -> PickleValue {
        if case .global("_codecs", "encode") = callable, args.count == 2, case let .string(utf8) = args[0] {
            let scalars = String(decoding: utf8, as: UTF8.self).unicodeScalars
            if scalars.allSatisfy({ $0.value < 256 }) { return .string(scalars.map { UInt8($0.value) }) }
        }
        return .object(callable: callable, arguments: args, state: nil)
    }
}
