import Foundation

extension SafeTensors {
    /// Encodes `tensors` (data in the given order) and `metadata` as safetensors bytes.
    /// - Throws: `TensorFileError.unwritable` for an empty, duplicated or reserved tensor name.
    public static func encode(_ tensors: [(name: String, array: HostArray)], metadata: [String: String] = [:],
                              path: String = "") throws -> [UInt8] {
        try encodedChunks(tensors, metadata: metadata, path: path).flatMap { $0 }
    }

    /// The length prefix plus padded header, followed by each tensor's bytes, as separate chunks
    /// so a large checkpoint is written without a second copy in memory.
    static func encodedChunks(_ tensors: [(name: String, array: HostArray)], metadata: [String: String],
                              path: String) throws -> [[UInt8]] {
        var members: [(key: String, value: HeaderJSON)] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { (key: $0, value: HeaderJSON.string(metadata[$0]!)) }
            members.append(("__metadata__", .object(pairs)))
        }
        var seen = Set<String>()
        var offset = 0
        for (name, array) in tensors {
            guard !name.isEmpty, name != "__metadata__", seen.insert(name).inserted else {
                throw TensorFileError(path: path, kind: .unwritable,
                                      message: "tensor name '\(name)' is empty, reserved or used twice")
            }
            let end = offset + array.bytes.count
            members.append((name, .object([
                ("dtype", .string(array.dtype.safetensorsName)),
                ("shape", .array(array.shape.map { .integer($0) })),
                ("data_offsets", .array([.integer(offset), .integer(end)])),
            ])))
            offset = end
        }
        var header = Array(HeaderJSON.object(members).serialized().utf8)
        header.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8))
        let length = UInt64(header.count)
        let prefix = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
        return [prefix + header] + tensors.map(\.array.bytes)
    }

    /// Writes `tensors` and `metadata` to `url` atomically (temporary file, then rename).
    /// - Throws: `TensorFileError.unwritable` naming the file.
    public static func write(_ tensors: [(name: String, array: HostArray)], metadata: [String: String] = [:],
                             to url: URL) throws {
        try FileIO.writeAtomically(encodedChunks(tensors, metadata: metadata, path: url.path), to: url)
    }

    /// Writes `file`'s tensors and metadata to `url` atomically.
    public static func write(_ file: SafeTensorsFile, to url: URL) throws {
        try write(file.tensors, metadata: file.metadata, to: url)
    }
}
