import Foundation

/// TFRecord framing, the container of TensorBoard event files: for each record, its length as a
/// little-endian UInt64, the masked CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data.
package enum TFRecord {
    /// A malformed or truncated record.
    package struct FormatError: Error, CustomStringConvertible {
        /// Byte offset of the bad record.
        package var offset: Int
        /// What is wrong.
        package var reason: String
        package var description: String { "TFRecord at byte \(offset): \(reason)" }
    }

    /// One framed record.
    package static func framed(_ data: [UInt8]) -> [UInt8] {
        let length = littleEndian(UInt64(data.count))
        return length + littleEndian(CRC32C.masked(CRC32C.checksum(length))) + data
            + littleEndian(CRC32C.masked(CRC32C.checksum(data)))
    }

    /// The records of a file's bytes, each checked against both CRCs.
    package static func records(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var records: [[UInt8]] = [], offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 12 else { throw FormatError(offset: offset, reason: "truncated header") }
            let header = Array(bytes[offset..<(offset + 8)])
            let length = header.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard readUInt32(bytes, at: offset + 8) == CRC32C.masked(CRC32C.checksum(header)) else {
                throw FormatError(offset: offset, reason: "length CRC mismatch")
            }
            let start = offset + 12
            guard length <= UInt64(bytes.count - start), bytes.count - start - Int(length) >= 4 else {
                throw FormatError(offset: offset, reason: "truncated data (\(length) bytes announced)")
            }
            let data = Array(bytes[start..<(start + Int(length))])
            guard readUInt32(bytes, at: start + Int(length)) == CRC32C.masked(CRC32C.checksum(data)) else {
                throw FormatError(offset: offset, reason: "data CRC mismatch")
            }
            records.append(data)
            offset = start + Int(length) + 4
        }
        return records
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }
}
