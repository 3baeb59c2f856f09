import Foundation

/// Reading whole files with errors that name them.
enum FileBytes {
    /// The contents of `path`; `DatasetError.missingFile` when it does not exist.
    static func read(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError(.missingFile, path: path, "file not found")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError(.io, path: path, "cannot read the file")
        }
        return [UInt8](data)
    }

    /// The contents of `path`, inflated when it starts with the gzip magic bytes `1f 8b`.
    static func readMaybeGzipped(_ path: String) throws -> [UInt8] {
        let raw = try read(path)
        if raw.count >= 2, raw[0] == 0x1f, raw[1] == 0x8b {
            return try Gzip.inflate(raw, path: path)
        }
        return raw
    }

    /// A big-endian 32-bit word at `offset`.
    static func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
