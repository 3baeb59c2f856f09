import Foundation

/// Extraction of (gzipped) tar archives: ustar, GNU long names and pax `path` records; regular
/// files and folders only. Paths that leave the destination are refused.
public enum TarReader {
    /// One regular file of an archive.
    public struct Entry: Sendable {
        /// Its path inside the archive.
        public var path: String
        /// Its contents.
        public var contents: [UInt8]
    }

    /// The regular files of an uncompressed tar stream.
    ///
    /// - Throws: `.truncated` or `.badFormat` naming `path` (the archive).
    public static func entries(_ tar: [UInt8], path: String) throws -> [Entry] {
        var out: [Entry] = []
        var offset = 0
        var longName: String?
        while offset + 512 <= tar.count {
            let header = tar[offset..<(offset + 512)]
            if header.allSatisfy({ $0 == 0 }) { return out }
            func field(_ start: Int, _ length: Int) -> String {
                let bytes = tar[(offset + start)..<(offset + start + length)].prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            let sizeText = field(124, 12).trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeText.isEmpty ? "0" : sizeText, radix: 8), size >= 0 else {
                throw DatasetError(.badFormat, path: path, "tar header at byte \(offset) has a bad size field \"\(sizeText)\"")
            }
            let type = tar[offset + 156]
            var name = field(0, 100)
            if field(257, 5) == "ustar" {
                let prefix = field(345, 155)
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            let dataStart = offset + 512
            guard dataStart + size <= tar.count else {
                throw DatasetError(.truncated, path: path, "the archive ends inside \(name) (needs \(size) bytes at byte \(dataStart))")
            }
            let data = tar[dataStart..<(dataStart + size)]
            switch type {
            case UInt8(ascii: "L"):
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):
                for record in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                    let parts = record.split(separator: " ", maxSplits: 1)
                    if parts.count == 2, parts[1].hasPrefix("path=") { longName = String(parts[1].dropFirst(5)) }
                }
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                out.append(Entry(path: longName ?? name, contents: Array(data)))
                longName = nil
            default:
                longName = nil // folders, links and others are not needed
            }
            offset = dataStart + (size + 511) / 512 * 512
        }
        if offset < tar.count || out.isEmpty {
            throw DatasetError(.truncated, path: path, "the tar archive ends without its end-of-archive blocks")
        }
        return out
    }

    /// Extracts a `.tar.gz` file under `destination`, refusing absolute paths and `..`.
    public static func extractGzipped(_ archive: String, to destination: String) throws {
        let tar = try Gzip.inflate(try FileBytes.read(archive), path: archive)
        let fm = FileManager.default
        for entry in try entries(tar, path: archive) {
            let parts = entry.path.split(separator: "/")
            guard !entry.path.hasPrefix("/"), !parts.contains("..") else {
                throw DatasetError(.badFormat, path: archive, "refusing to extract \(entry.path) outside the destination")
            }
            let target = destination + "/" + parts.joined(separator: "/")
            try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard fm.createFile(atPath: target, contents: Data(entry.contents)) else {
                throw DatasetError(.io, path: target, "cannot write a file extracted from \(archive)")
            }
        }
    }
}
