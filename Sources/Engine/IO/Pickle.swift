/// A restricted unpickler for `torch.save`'s `data.pkl`: the opcodes of pickle protocols 2–5 that
/// state dicts use. It builds inert values and never runs code: the only globals it accepts are the
/// handful that rebuild tensors and ordered dicts (`allowedGlobals`); any other global, and any
/// opcode that constructs objects by other means, is refused with a sentence naming it.
///
/// Hostile input is bounded: containers nest at most `maxDepth` deep, a container cannot be
/// changed once it sits inside another (so no cycles), and every length is checked against the
/// bytes that remain.
struct Unpickler {
    /// What the pickle builds.
    indirect enum Value {
        case none
        case bool(Bool)
        case int(Int64)
        /// An integer wider than 64 bits: its little-endian two's-complement bytes.
        case bigInt([UInt8])
        case float(Double)
        case string(String)
        case bytes([UInt8])
        case tuple(PickleTuple)
        case list(PickleList)
        case dict(PickleDict)
        /// An accepted global (a callable or a storage type), not yet applied.
        case global(module: String, name: String)
        /// A tensor storage from a persistent id: the archive key, element type and count.
        case storage(Storage)
        /// A tensor view of a storage.
        case tensor(TensorView)

        /// How deeply containers nest inside this value (0 for scalars).
        var depth: Int {
            switch self {
            case let .tuple(t): return t.depth
            case let .list(l): return l.depth
            case let .dict(d): return d.depth
            default: return 0
            }
        }
    }

    /// A storage named by a persistent id.
    struct Storage {
        var key: String
        var dtype: DType
        var count: Int
    }

    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`: elements of a storage.
    struct TensorView {
        var storage: Storage
        var offset: Int
        var shape: [Int]
        var stride: [Int]
    }

    final class PickleTuple {
        let items: [Value]
        let depth: Int
        init(_ items: [Value]) {
            self.items = items
            depth = 1 + (items.map(\.depth).max() ?? 0)
        }
    }

    final class PickleList {
        var items: [Value] = []
        var depth = 1
        /// Set once the list sits inside another container; it may not change after that.
        var sealed = false
    }

    final class PickleDict {
        var pairs: [(key: Value, value: Value)] = []
        var depth = 1
        var sealed = false
    }

    /// Containers nested deeper than this are refused (state dicts nest 3 or 4 deep).
    static let maxDepth = 100

    /// The globals the unpickler accepts, by module and name.
    static let allowedGlobals = Set([
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "collections.OrderedDict", "_codecs.encode",
    ] + storageTypes.keys.map { "torch." + $0 })

    /// PyTorch's legacy storage classes and the element type each holds.
    static let storageTypes: [String: DType] = [
        "FloatStorage": .float32, "DoubleStorage": .float64, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
        "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16, "CharStorage": .int8,
        "ByteStorage": .uint8, "BoolStorage": .bool,
    ]

    private let bytes: ArraySlice<UInt8>
    private let path: String
    private let what: String
    private(set) var position: Int
    private var stack: [Value] = []
    private var marks: [Int] = []
    private var memo: [Int: Value] = [:]
    private let persistentLoad: (Value) throws -> Value

    /// An unpickler over `bytes` starting at its first index; `what` names the stream in errors
    /// (e.g. `archive/data.pkl`), `persistentLoad` turns a persistent id into a value.
    init(_ bytes: ArraySlice<UInt8>, path: String, what: String, persistentLoad: @escaping (Value) throws -> Value) {
        self.bytes = bytes
        self.path = path
        self.what = what
        self.position = bytes.startIndex
        self.persistentLoad = persistentLoad
    }

    func fail(_ message: String, kind: TensorFileError.Kind = .inconsistent) -> TensorFileError {
        TensorFileError(path: path, kind: kind, message: "\(what): \(message)")
    }

    // MARK: Reading bytes

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.endIndex - position else {
            throw fail("the pickle declares \(n) bytes at offset \(position - bytes.startIndex) but only \(bytes.endIndex - position) remain", kind: .truncated)
        }
        defer { position += n }
        return bytes[position..<position + n]
    }

    private mutating func byte() throws -> UInt8 { try take(1).first! }

    private mutating func unsigned(_ n: Int) throws -> UInt64 {
        var value: UInt64 = 0
        for (k, b) in try take(n).enumerated() { value |= UInt64(b) << (8 * UInt64(k)) }
        return value
    }

    private mutating func length(_ n: Int) throws -> Int {
        let value = try unsigned(n)
        guard value <= UInt64(bytes.endIndex - position) else {
            throw fail("the pickle declares a \(value)-byte item at offset \(position - bytes.startIndex) but only \(bytes.endIndex - position) bytes remain", kind: .truncated)
        }
        return Int(value)
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0a) else { throw fail("a GLOBAL name runs to the end of the pickle", kind: .truncated) }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    // MARK: The stack

    private mutating func pop() throws -> Value {
        guard let v = stack.popLast() else { throw fail("the pickle pops an empty stack (damaged data)") }
        if let mark = marks.last, stack.count < mark { throw fail("the pickle pops past a MARK (damaged data)") }
        return v
    }

    private mutating func popToMark() throws -> [Value] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw fail("the pickle uses a MARK it never set (damaged data)") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    /// Marks `value` as placed inside a container and checks the nesting bound.
    private func seal(_ value: Value) throws {
        switch value {
        case let .list(l): l.sealed = true
        case let .dict(d): d.sealed = true
        default: break
        }
        if value.depth >= Self.maxDepth {
            throw fail("containers nest more than \(Self.maxDepth) deep; a checkpoint never does")
        }
    }

    private func tuple(_ items: [Value]) throws -> Value {
        for item in items { try seal(item) }
        return .tuple(PickleTuple(items))
    }

    private func append(_ items: [Value], to target: Value) throws {
        guard case let .list(list) = target else { throw fail("APPEND to something that is not a list") }
        // Sealing the items first also catches a list appended to itself.
        for item in items { try seal(item) }
        guard !list.sealed else { throw fail("the pickle changes a list after nesting it (a recursive structure), which a checkpoint never does") }
        for item in items {
            list.items.append(item)
            list.depth = max(list.depth, item.depth + 1)
        }
    }

    private func setItems(_ items: [Value], in target: Value) throws {
        guard case let .dict(dict) = target else { throw fail("SETITEM on something that is not a dict") }
        guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
        for item in items { try seal(item) }
        guard !dict.sealed else { throw fail("the pickle changes a dict after nesting it (a recursive structure), which a checkpoint never does") }
        for k in stride(from: 0, to: items.count, by: 2) {
            dict.pairs.append((items[k], items[k + 1]))
            dict.depth = max(dict.depth, items[k + 1].depth + 1, items[k].depth + 1)
        }
    }

    // MARK: Running

    /// Runs the pickle to its STOP and returns the value; `position` is then just after it.
    mutating func load() throws -> Value {
        while true {
            let opcode = try byte()
            switch opcode {
            case 0x80: // PROTO
                let version = try byte()
                guard version <= 5 else { throw fail("pickle protocol \(version) is newer than 5", kind: .unsupported) }
            case 0x95: _ = try take(8)  // FRAME: a length hint only
            case 0x2e: // STOP
                let value = try pop()
                guard stack.isEmpty, marks.isEmpty else { throw fail("the pickle stops with items left on its stack (damaged data)") }
                return value
            case 0x28: marks.append(stack.count)  // MARK
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popToMark()  // POP_MARK
            case 0x32: // DUP
                guard let top = stack.last else { throw fail("DUP on an empty stack") }
                stack.append(top)
            case 0x4e: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4a: stack.append(.int(Int64(Int32(truncatingIfNeeded: try unsigned(4)))))  // BININT
            case 0x4b: stack.append(.int(Int64(try unsigned(1))))  // BININT1
            case 0x4d: stack.append(.int(Int64(try unsigned(2))))  // BININT2
            case 0x8a: stack.append(try long(try length(1)))  // LONG1
            case 0x8b: stack.append(try long(try length(4)))  // LONG4
            case 0x47: // BINFLOAT, big-endian
                var bits: UInt64 = 0
                for b in try take(8) { bits = bits << 8 | UInt64(b) }
                stack.append(.float(Double(bitPattern: bits)))
            case 0x58: stack.append(.string(try text(try length(4))))  // BINUNICODE
            case 0x8c: stack.append(.string(try text(try length(1))))  // SHORT_BINUNICODE
            case 0x8d: stack.append(.string(try text(try length(8))))  // BINUNICODE8
            case 0x54: stack.append(.string(try text(try length(4))))  // BINSTRING (Python 2 str)
            case 0x55: stack.append(.string(try text(try length(1))))  // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try take(try length(4)))))  // BINBYTES
            case 0x43: stack.append(.bytes(Array(try take(try length(1)))))  // SHORT_BINBYTES
            case 0x8e: stack.append(.bytes(Array(try take(try length(8)))))  // BINBYTES8
            case 0x29: stack.append(.tuple(PickleTuple([])))  // EMPTY_TUPLE
            case 0x74: stack.append(try tuple(try popToMark()))  // TUPLE
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let n = Int(opcode) - 0x84
                var items: [Value] = []
                for _ in 0..<n { items.insert(try pop(), at: 0) }
                stack.append(try tuple(items))
            case 0x5d: stack.append(.list(PickleList()))  // EMPTY_LIST
            case 0x7d: stack.append(.dict(PickleDict()))  // EMPTY_DICT
            case 0x61: // APPEND
                let item = try pop()
                guard let target = stack.last else { throw fail("APPEND without a list") }
                try append([item], to: target)
            case 0x65: // APPENDS
                let items = try popToMark()
                guard let target = stack.last else { throw fail("APPENDS without a list") }
                try append(items, to: target)
            case 0x73: // SETITEM
                let value = try pop(), key = try pop()
                guard let target = stack.last else { throw fail("SETITEM without a dict") }
                try setItems([key, value], in: target)
            case 0x75: // SETITEMS
                let items = try popToMark()
                guard let target = stack.last else { throw fail("SETITEMS without a dict") }
                try setItems(items, in: target)
            case 0x71: try put(Int(try unsigned(1)))  // BINPUT
            case 0x72: try put(Int(try unsigned(4)))  // LONG_BINPUT
            case 0x94: try put(memo.count)  // MEMOIZE
            case 0x68: try get(Int(try unsigned(1)))  // BINGET
            case 0x6a: try get(Int(try unsigned(4)))  // LONG_BINGET
            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                stack.append(try global(module, name))
            case 0x93: // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case let .string(n) = name, case let .string(m) = module else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(try global(m, n))
            case 0x52: // REDUCE
                let arguments = try pop(), callable = try pop()
                stack.append(try reduce(callable, arguments))
            case 0x62: // BUILD: an object's state; only an OrderedDict's attributes (`_metadata`) come here.
                let state = try pop()
                guard let target = stack.last, case .dict = target else {
                    throw fail("BUILD sets the state of something other than an OrderedDict, which this reader does not construct", kind: .unsupported)
                }
                _ = state
            case 0x51: // BINPERSID
                let id = try pop()
                stack.append(try persistentLoad(id))
            default:
                throw fail(Self.refusal(opcode), kind: .unsupported)
            }
        }
    }

    private static func refusal(_ opcode: UInt8) -> String {
        let names: [UInt8: String] = [0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x69: "INST", 0x6f: "OBJ", 0x82: "EXT1", 0x83: "EXT2",
                                      0x84: "EXT4", 0x50: "PERSID", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
                                      0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x96: "BYTEARRAY8",
                                      0x49: "INT", 0x4c: "LONG", 0x46: "FLOAT", 0x53: "STRING", 0x56: "UNICODE",
                                      0x70: "PUT", 0x67: "GET", 0x6c: "LIST", 0x64: "DICT"]
        let hex = String(opcode, radix: 16)
        if let name = names[opcode] {
            return "pickle opcode \(name) (0x\(hex)) is not used by state dicts and is refused"
        }
        return "unknown pickle opcode 0x\(hex) (damaged data, or not a pickle)"
    }

    private mutating func long(_ n: Int) throws -> Value {
        let raw = Array(try take(n))
        guard n <= 8 else { return .bigInt(raw) }
        var value: UInt64 = 0
        for (k, b) in raw.enumerated() { value |= UInt64(b) << (8 * UInt64(k)) }
        if n > 0, n < 8, raw[n - 1] & 0x80 != 0 { value |= ~UInt64(0) << (8 * UInt64(n)) }  // sign-extend
        return .int(Int64(bitPattern: value))
    }

    private mutating func text(_ n: Int) throws -> String {
        String(decoding: try take(n), as: UTF8.self)
    }

    private mutating func put(_ index: Int) throws {
        guard let top = stack.last else { throw fail("memo PUT on an empty stack") }
        memo[index] = top
    }

    private mutating func get(_ index: Int) throws {
        guard let value = memo[index] else { throw fail("memo GET \(index) of an entry never stored (damaged data)") }
        stack.append(value)
    }

    private func global(_ module: String, _ name: String) throws -> Value {
        guard Self.allowedGlobals.contains(module + "." + name) else {
            throw fail("the pickle refers to the global \(module).\(name), which this reader refuses: it rebuilds tensors, numbers, strings, lists and dicts only and never runs code", kind: .unsupported)
        }
        return .global(module: module, name: name)
    }

    // MARK: Calls

    private func reduce(_ callable: Value, _ arguments: Value) throws -> Value {
        guard case let .global(module, name) = callable, case let .tuple(tuple) = arguments else {
            throw fail("REDUCE of something other than an accepted global with a tuple of arguments")
        }
        let args = tuple.items
        func int(_ k: Int, _ what: String) throws -> Int {
            guard k < args.count, case let .int(v) = args[k], let i = Int(exactly: v) else { throw fail("\(name): \(what) is not an integer") }
            return i
        }
        func ints(_ k: Int, _ what: String) throws -> [Int] {
            guard k < args.count, case let .tuple(t) = args[k] else { throw fail("\(name): \(what) is not a tuple") }
            return try t.items.map {
                guard case let .int(v) = $0, let i = Int(exactly: v) else { throw fail("\(name): \(what) holds a non-integer") }
                return i
            }
        }
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard let first = args.first, case let .storage(storage) = first else { throw fail("\(name): the first argument is not a storage") }
            return .tensor(TensorView(storage: storage, offset: try int(1, "the storage offset"), shape: try ints(2, "the size"),
                                      stride: try ints(3, "the stride")))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let first = args.first, case .tensor = first else { throw fail("\(name): the first argument is not a tensor") }
            return first
        case ("collections", "OrderedDict"):
            let dict = PickleDict()
            if let first = args.first, case let .list(pairs) = first {
                for pair in pairs.items {
                    guard case let .tuple(t) = pair, t.items.count == 2 else { throw fail("OrderedDict: an item is not a (key, value) pair") }
                    dict.pairs.append((t.items[0], t.items[1]))
                    dict.depth = max(dict.depth, t.depth)
                }
            }
            return .dict(dict)
        case ("_codecs", "encode"):
            guard let first = args.first, case let .string(s) = first else { throw fail("_codecs.encode: the first argument is not a string") }
            // Protocol 2 writes Python 3 bytes as encode(text, 'latin1'): each character is one byte.
            return .bytes(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        default:
            throw fail("\(module).\(name) is not callable here (a storage type is only a persistent id's tag)", kind: .unsupported)
        }
    }
}
