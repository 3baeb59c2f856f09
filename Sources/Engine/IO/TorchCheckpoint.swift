import Foundation

/// Reads files written by `torch.save` without PyTorch and without running any of their code:
/// the zip format of torch ≥ 1.6 (`<name>/data.pkl` plus one stored entry per storage,
/// `<name>/data/<key>`) and the legacy format before it (five pickles in a row, the storages
/// after them). The pickles go through `Unpickler`, which accepts only what rebuilds tensors,
/// numbers, strings, lists and dicts.
public enum TorchCheckpoint {
    /// The first pickle of the legacy format.
    static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]  // 0x1950a86a20f9469cfc6c

    /// Whether `bytes` look like a `torch.save` file (a ZIP archive, or a pickle of protocol 2+).
    public static func isTorchFile(_ bytes: [UInt8]) -> Bool {
        ZipArchive.isZip(bytes) || (bytes.count >= 2 && bytes[0] == 0x80 && (2...5).contains(bytes[1]))
    }

    /// Reads the file at `url`.
    /// - Throws: `TensorFileError` naming the file and the problem (truncated, damaged, a refused
    ///   global or opcode, a tensor outside its storage, an unsupported element type).
    public static func read(contentsOf url: URL) throws -> TorchObject {
        try decode(FileIO.readAll(url), path: url.path)
    }

    /// Decodes the bytes of a `torch.save` file; `path` only names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> TorchObject {
        if ZipArchive.isZip(bytes) { return try decodeZip(bytes, path: path) }
        guard bytes.count >= 2, bytes[0] == 0x80 else {
            throw TensorFileError(path: path, kind: .malformedHeader,
                                  message: "not a PyTorch checkpoint: neither a ZIP archive (torch.save since 1.6) nor a pickle (the legacy format)")
        }
        return try decodeLegacy(bytes, path: path)
    }

    private static func decodeZip(_ bytes: [UInt8], path: String) throws -> TorchObject {
        let archive = try ZipArchive(bytes: bytes, path: path)
        guard let pickleName = archive.entries.map(\.name).first(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }),
              let pickle = try archive.data(pickleName) else {
            throw TensorFileError(path: path, kind: .malformedHeader,
                                  message: "a ZIP archive without data.pkl: not a file written by torch.save")
        }
        let root = String(pickleName.dropLast("data.pkl".count))
        if let order = try archive.data(root + "byteorder"), String(decoding: order, as: UTF8.self) != "little" {
            throw TensorFileError(path: path, kind: .unsupported, message: "the storages are big-endian (written on a big-endian machine); only little-endian files are read")
        }
        var unpickler = Unpickler(pickle, path: path, what: pickleName) { id in try storage(fromPersistentID: id, path: path) }
        let value = try unpickler.load()
        return try convert(value, path: path, depth: 0) { key in
            guard let data = try archive.data(root + "data/" + key) else {
                throw TensorFileError(path: path, kind: .missingTensor, message: "storage '\(key)' is named by \(pickleName) but \(root)data/\(key) is not in the archive")
            }
            return data
        }
    }

    private static func decodeLegacy(_ bytes: [UInt8], path: String) throws -> TorchObject {
        let slice = bytes[...]
        func next(_ what: String, from position: Int,
                  persistentLoad: @escaping (Unpickler.Value) throws -> Unpickler.Value = { _ in
                      throw TensorFileError(path: "", kind: .inconsistent, message: "unexpected persistent id") })
            throws -> (Unpickler.Value, Int) {
            var unpickler = Unpickler(slice[position...], path: path, what: what, persistentLoad: persistentLoad)
            return (try unpickler.load(), unpickler.position)
        }
        let (magic, afterMagic) = try next("the legacy header", from: 0)
        guard case let .bigInt(digits) = magic, digits == legacyMagic else {
            throw TensorFileError(path: path, kind: .malformedHeader,
                                  message: "a pickle that is not a PyTorch checkpoint (no torch.save magic number); refusing to read it")
        }
        let (version, afterVersion) = try next("the legacy header", from: afterMagic)
        guard case .int(1001) = version else {
            throw TensorFileError(path: path, kind: .unsupported, message: "legacy checkpoint protocol \(version) is not 1001")
        }
        let (_, afterInfo) = try next("the legacy header", from: afterVersion)
        var storages: [String: Unpickler.Storage] = [:]
        let (value, afterValue) = try next("the pickled object", from: afterInfo) { id in
            let resolved = try storage(fromPersistentID: id, path: path)
            if case let .storage(s) = resolved { storages[s.key] = s }
            return resolved
        }
        let (keysValue, afterKeys) = try next("the storage list", from: afterValue)
        guard case let .list(keyList) = keysValue else {
            throw TensorFileError(path: path, kind: .malformedHeader, message: "the legacy storage list is not a list")
        }
        var data: [String: ArraySlice<UInt8>] = [:]
        var cursor = afterKeys
        for item in keyList.items {
            guard case let .string(key) = item, let storage = storages[key] else {
                throw TensorFileError(path: path, kind: .inconsistent, message: "the legacy storage list names a storage the object does not use")
            }
            guard cursor + 8 <= bytes.count else {
                throw TensorFileError(path: path, kind: .truncated, message: "the file ends before storage '\(key)'")
            }
            var count: UInt64 = 0
            for k in 0..<8 { count |= UInt64(bytes[cursor + k]) << (8 * UInt64(k)) }
            cursor += 8
            let available = UInt64(bytes.count - cursor) / UInt64(storage.dtype.byteSize)
            guard count <= available else {
                throw TensorFileError(path: path, kind: .truncated, message: "storage '\(key)' declares \(count) elements but the file ends after \(available)")
            }
            let size = Int(count) * storage.dtype.byteSize
            data[key] = bytes[cursor..<cursor + size]
            cursor += size
        }
        return try convert(value, path: path, depth: 0) { key in
            guard let d = data[key] else {
                throw TensorFileError(path: path, kind: .missingTensor, message: "storage '\(key)' is used but its data is not in the file")
            }
            return d
        }
    }

    /// `('storage', torch.XStorage, key, location, numel[, view])` → the storage it names.
    private static func storage(fromPersistentID id: Unpickler.Value, path: String) throws -> Unpickler.Value {
        func fail(_ message: String) -> TensorFileError {
            TensorFileError(path: path, kind: .inconsistent, message: "a persistent id \(message)")
        }
        guard case let .tuple(t) = id, t.items.count >= 5, case .string("storage") = t.items[0] else {
            throw fail("is not ('storage', type, key, location, size)")
        }
        guard case let .global(module, name) = t.items[1], module == "torch", let dtype = Unpickler.storageTypes[name] else {
            throw TensorFileError(path: path, kind: .unsupported, message: "a storage of a type this reader does not know (only float, double, half, bfloat16, long, int, short, char, byte and bool storages)")
        }
        guard case let .string(key) = t.items[2] else { throw fail("has a key that is not a string") }
        guard case let .int(count) = t.items[4], count >= 0, let n = Int(exactly: count) else { throw fail("has a size that is not a non-negative integer") }
        if t.items.count > 5, case .tuple = t.items[5] {
            throw TensorFileError(path: path, kind: .unsupported, message: "storage '\(key)' is a view of another storage (a legacy form this reader does not support)")
        }
        return .storage(Unpickler.Storage(key: key, dtype: dtype, count: n))
    }

    /// The public value of an unpickled one; tensors are cut out of their storages.
    private static func convert(_ value: Unpickler.Value, path: String, depth: Int,
                                storage: (String) throws -> ArraySlice<UInt8>) throws -> TorchObject {
        guard depth <= Unpickler.maxDepth else {
            throw TensorFileError(path: path, kind: .inconsistent, message: "containers nest more than \(Unpickler.maxDepth) deep")
        }
        func inner(_ v: Unpickler.Value) throws -> TorchObject { try convert(v, path: path, depth: depth + 1, storage: storage) }
        switch value {
        case .none: return .none
        case let .bool(b): return .bool(b)
        case let .int(i): return .int(Int(i))
        case .bigInt: throw TensorFileError(path: path, kind: .unsupported, message: "an integer wider than 64 bits")
        case let .float(f): return .float(f)
        case let .string(s): return .string(s)
        case let .bytes(b): return .bytes(b)
        case let .tuple(t): return .tuple(try t.items.map(inner))
        case let .list(l): return .list(try l.items.map(inner))
        case let .dict(d): return .dict(try d.pairs.map { (try inner($0.key), try inner($0.value)) })
        case let .global(module, name):
            throw TensorFileError(path: path, kind: .unsupported, message: "a bare reference to \(module).\(name) where a value was expected")
        case .storage: throw TensorFileError(path: path, kind: .unsupported, message: "a bare storage where a tensor was expected")
        case let .tensor(view): return .tensor(try tensor(view, bytes: storage(view.storage.key), path: path))
        }
    }

    /// The elements of `view` in C order, float types as float32.
    static func tensor(_ view: Unpickler.TensorView, bytes: ArraySlice<UInt8>, path: String) throws -> HostArray {
        let s = view.storage, size = s.dtype.byteSize
        func fail(_ kind: TensorFileError.Kind, _ message: String) -> TensorFileError {
            TensorFileError(path: path, kind: kind, message: "storage '\(s.key)': \(message)")
        }
        let (needed, overflow) = s.count.multipliedReportingOverflow(by: size)
        guard !overflow, bytes.count >= needed else {
            throw fail(.truncated, "declares \(s.count) \(s.dtype.rawValue) elements but the file holds \(bytes.count) bytes for it")
        }
        guard view.shape.count == view.stride.count, view.offset >= 0, view.stride.allSatisfy({ $0 >= 0 }),
              let count = HostArray.elementCount(view.shape) else {
            throw fail(.inconsistent, "a tensor of size \(view.shape), stride \(view.stride) at offset \(view.offset) is malformed")
        }
        var lastIndex = view.offset
        if count > 0 {
            for (d, st) in zip(view.shape, view.stride) {
                let (step, o1) = (d - 1).multipliedReportingOverflow(by: st)
                let (sum, o2) = lastIndex.addingReportingOverflow(step)
                guard !o1, !o2 else { throw fail(.inconsistent, "a tensor of size \(view.shape), stride \(view.stride) overflows") }
                lastIndex = sum
            }
            guard lastIndex < s.count else {
                throw fail(.inconsistent, "a tensor of size \(view.shape), stride \(view.stride) at offset \(view.offset) reaches element \(lastIndex), past the storage's \(s.count)")
            }
            guard count <= s.count else {
                throw fail(.unsupported, "a tensor of \(count) elements over a storage of \(s.count) (an expanded view); save a contiguous copy")
            }
        }
        // C-order strides mean one contiguous run; anything else is gathered element by element.
        var contiguous = true, expected = 1
        for k in stride(from: view.shape.count - 1, through: 0, by: -1) where view.shape[k] != 1 {
            if view.stride[k] != expected { contiguous = false }
            expected *= view.shape[k]
        }
        let base = bytes.startIndex
        var out: [UInt8]
        if contiguous || count == 0 {
            let start = base + view.offset * size
            out = Array(bytes[start..<start + count * size])
        } else {
            out = [UInt8](repeating: 0, count: count * size)
            var index = [Int](repeating: 0, count: view.shape.count)
            for k in 0..<count {
                var element = view.offset
                for d in 0..<index.count { element += index[d] * view.stride[d] }
                let from = base + element * size
                for b in 0..<size { out[k * size + b] = bytes[from + b] }
                var d = index.count - 1
                while d >= 0 {
                    index[d] += 1
                    if index[d] < view.shape[d] { break }
                    index[d] = 0
                    d -= 1
                }
            }
        }
        let array = HostArray(dtype: s.dtype, shape: view.shape, bytes: out)
        return array.dtype.isFloatingPoint ? array.converted(to: .float32) : array
    }
}
