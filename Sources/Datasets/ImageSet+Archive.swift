import Foundation

/// A compact file form of `ImageSet` for cached artifacts: the magic `SBCLIMG1`, a little-endian
/// UInt32 header length, a JSON header (sizes, class names), Int32 labels, then the pixels.
extension ImageSet {
    private struct Header: Codable {
        var height: Int, width: Int, channels: Int, count: Int
        var classNames: [String]
    }
    private static let magic = Array("SBCLIMG1".utf8)

    /// Writes the set to `path` through a temporary file renamed into place, so a reader never
    /// sees half a file.
    public func write(to path: String) throws {
        // Sorted keys: the same set gives the same bytes in every process (Swift randomises the
        // order of an encoder's keys per process otherwise), so artifacts compare bit for bit.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let header = try encoder.encode(Header(height: height, width: width, channels: channels, count: count, classNames: classNames))
        var bytes = ImageSet.magic
        bytes += (0..<4).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) }
        bytes += header
        bytes.reserveCapacity(bytes.count + 4 * labels.count + pixels.count)
        for label in labels { bytes += (0..<4).map { UInt8(truncatingIfNeeded: UInt32(bitPattern: label) >> (8 * UInt32($0))) } }
        bytes += pixels
        let temporary = path + ".tmp-\(UUID().uuidString)"
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw DatasetError(.io, path: path, "cannot write the image set: \(error.localizedDescription)")
        }
    }

    /// Reads a set written by `write(to:)`.
    ///
    /// - Throws: `.badFormat` for a wrong magic or header, `.truncated` for a short file,
    ///   `.badLabel` for a label outside the classes.
    public static func read(from path: String) throws -> ImageSet {
        let bytes = try FileBytes.read(path)
        guard bytes.count >= 12, Array(bytes[0..<8]) == magic else {
            throw DatasetError(.badFormat, path: path, "not an image set file (magic SBCLIMG1 missing)")
        }
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard 12 + headerLength <= bytes.count,
              let header = try? JSONDecoder().decode(Header.self, from: Data(bytes[12..<(12 + headerLength)])) else {
            throw DatasetError(.badFormat, path: path, "unreadable image set header")
        }
        let labelStart = 12 + headerLength
        let sizes = [header.count, header.height, header.width, header.channels]
        var expected: Int? = sizes.allSatisfy({ $0 >= 0 }) ? 1 : nil
        for size in sizes { expected = expected.flatMap { let (p, o) = $0.multipliedReportingOverflow(by: size); return o ? nil : p } }
        let labelBytes = header.count.multipliedReportingOverflow(by: 4)
        guard let pixelBytes = expected, !labelBytes.overflow,
              case let (end, overflow) = pixelBytes.addingReportingOverflow(labelStart + labelBytes.partialValue), !overflow else {
            throw DatasetError(.badFormat, path: path, "the image set header's sizes \(sizes) are negative or overflow")
        }
        let pixelStart = labelStart + 4 * header.count
        guard bytes.count == end else {
            throw DatasetError(.truncated, path: path, "the file holds \(bytes.count) bytes, its header announces \(end)")
        }
        let labels = (0..<header.count).map { i -> Int32 in
            let k = labelStart + 4 * i
            return Int32(bitPattern: UInt32(bytes[k]) | UInt32(bytes[k + 1]) << 8 | UInt32(bytes[k + 2]) << 16 | UInt32(bytes[k + 3]) << 24)
        }
        let set = ImageSet(height: header.height, width: header.width, channels: header.channels,
                           pixels: Array(bytes[pixelStart...]), labels: labels, classNames: header.classNames)
        try set.validateLabels(path: path)
        return set
    }
}
