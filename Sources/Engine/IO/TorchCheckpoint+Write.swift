import Foundation

extension TorchCheckpoint {
    /// Writes `object` as `torch.save` does since PyTorch 1.6: a ZIP archive of stored entries,
    /// `archive/data.pkl` (pickle protocol 2; dicts as plain dicts, tensors through
    /// `torch._utils._rebuild_tensor_v2`), one storage per tensor in `archive/data/<k>`, with
    /// `archive/version` and `archive/byteorder`. `torch.load(..., weights_only=True)` reads it.
    /// - Throws: `TensorFileError.unwritable`, or `.unsupported` for a tensor type PyTorch has
    ///   no storage class for.
    public static func write(_ object: TorchObject, to url: URL) throws {
        var pickle = PickleWriter(path: url.path)
        try pickle.write(object)
        var zip = ZipWriter()
        zip.add("archive/data.pkl", pickle.finish())
        zip.add("archive/byteorder", Array("little".utf8))
        for (k, storage) in pickle.storages.enumerated() { zip.add("archive/data/\(k)", storage) }
        zip.add("archive/version", Array("3\n".utf8))
        try FileIO.writeAtomically([zip.finish()], to: url)
    }

    /// Writes a state dict (`names → tensors`) with `write(_:to:)`.
    public static func write(stateDict: [(name: String, array: HostArray)], to url: URL) throws {
        try write(.dict(stateDict.map { (.string($0.name), .tensor($0.array)) }), to: url)
    }
}

/// Pickle protocol 2 for `TorchObject`s, collecting tensor storages as it goes.
private struct PickleWriter {
    let path: String
    var out: [UInt8] = [0x80, 0x02]
    var storages: [[UInt8]] = []

    init(path: String) { self.path = path }

    mutating func finish() -> [UInt8] { out + [0x2e] }

    private mutating func global(_ module: String, _ name: String) {
        out.append(0x63)
        out += Array("\(module)\n\(name)\n".utf8)
    }

    private mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        out.append(0x58)
        out += le(UInt64(utf8.count), 4) + utf8
    }

    private mutating func int(_ i: Int) {
        if (0..<256).contains(i) { out += [0x4b, UInt8(i)] }
        else if (0..<65536).contains(i) { out += [0x4d] + le(UInt64(i), 2) }
        else if let small = Int32(exactly: i) { out += [0x4a] + le(UInt64(UInt32(bitPattern: small)), 4) }
        else { out += [0x8a, 8] + le(UInt64(bitPattern: Int64(i)), 8) }
    }

    private func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    mutating func write(_ object: TorchObject) throws {
        switch object {
        case .none: out.append(0x4e)
        case let .bool(b): out.append(b ? 0x88 : 0x89)
        case let .int(i): int(i)
        case let .float(f):
            out.append(0x47)
            out += le(f.bitPattern, 8).reversed()
        case let .string(s): string(s)
        case let .bytes(b):
            out.append(0x42)
            out += le(UInt64(b.count), 4) + b
        case let .list(items):
            out.append(0x5d)
            if !items.isEmpty {
                out.append(0x28)
                for item in items { try write(item) }
                out.append(0x65)
            }
        case let .tuple(items):
            out.append(0x28)
            for item in items { try write(item) }
            out.append(0x74)
        case let .dict(pairs):
            out.append(0x7d)
            if !pairs.isEmpty {
                out.append(0x28)
                for (key, value) in pairs { try write(key); try write(value) }
                out.append(0x75)
            }
        case let .tensor(array):
            guard let storageType = Unpickler.storageTypes.first(where: { $0.value == array.dtype })?.key else {
                throw TensorFileError(path: path, kind: .unsupported, message: "PyTorch has no storage class for \(array.dtype.rawValue) tensors")
            }
            global("torch._utils", "_rebuild_tensor_v2")
            out.append(0x28)
            // The persistent id: ('storage', torch.<Type>Storage, key, location, numel).
            out.append(0x28)
            string("storage")
            global("torch", storageType)
            string(String(storages.count))
            string("cpu")
            int(array.count)
            out += [0x74, 0x51]
            storages.append(array.bytes)
            int(0)
            var strides = [Int](repeating: 1, count: array.shape.count)
            for k in stride(from: array.shape.count - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * array.shape[k + 1] }
            for dims in [array.shape, strides] {
                out.append(0x28)
                for d in dims { int(d) }
                out.append(0x74)
            }
            out.append(0x89)  // requires_grad
            global("collections", "OrderedDict")
            out += [0x29, 0x52]  // backward hooks: OrderedDict()
            out += [0x74, 0x52]
        }
    }
}

/// A ZIP archive of stored (uncompressed) entries, data aligned to 64 bytes as PyTorch aligns it.
private struct ZipWriter {
    var out: [UInt8] = []
    var central: [UInt8] = []
    var count = 0

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    private static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xffff_ffff
    }

    private func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    mutating func add(_ name: String, _ data: [UInt8]) {
        let nameBytes = Array(name.utf8)
        let offset = out.count
        let crc = Self.crc32(data)
        // Pad the local header's extra field so the data starts on a 64-byte boundary.
        let unpadded = offset + 30 + nameBytes.count + 4
        let padding = (64 - unpadded % 64) % 64
        let extra: [UInt8] = [0x50, 0x46] + le(UInt64(padding), 2) + [UInt8](repeating: 0x5a, count: padding)  // 'FP' block, as torch
        let common = le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(UInt64(crc), 4) + le(UInt64(data.count), 4) + le(UInt64(data.count), 4)
            + le(UInt64(nameBytes.count), 2)
        out += le(0x0403_4b50, 4) + le(20, 2) + common + le(UInt64(extra.count), 2) + nameBytes + extra + data
        central += le(0x0201_4b50, 4) + le(20, 2) + le(20, 2) + common + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4)
            + le(UInt64(offset), 4) + nameBytes
        count += 1
    }

    mutating func finish() -> [UInt8] {
        let directoryOffset = out.count
        return out + central + le(0x0605_4b50, 4) + le(0, 2) + le(0, 2) + le(UInt64(count), 2) + le(UInt64(count), 2)
            + le(UInt64(central.count), 4) + le(UInt64(directoryOffset), 4) + le(0, 2)
    }
}
