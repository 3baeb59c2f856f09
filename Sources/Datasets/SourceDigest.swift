import Foundation

/// A stable digest of a data set's source files, for the stage hash. Each file's MD5 is computed
/// once and remembered in a small JSON file keyed by path, size and modification time, so large
/// trees are not re-read every run.
public enum SourceDigest {
    private struct Remembered: Codable {
        var size: Int64
        var modified: Double
        var md5: String
    }

    /// The digest of `files` (absolute paths): MD5 over "relative-path md5" lines in sorted
    /// order, where paths are relative to `root` so that moving the data keeps the digest.
    ///
    /// - Parameter cacheFile: where per-file digests are remembered (created if missing, written
    ///   atomically); nil to always read the files.
    /// - Throws: `.missingFile` for a file that does not exist.
    public static func digest(files: [String], root: String, cacheFile: String?) throws -> String {
        let fm = FileManager.default
        var remembered: [String: Remembered] = [:]
        if let cacheFile, let data = fm.contents(atPath: cacheFile) {
            remembered = (try? JSONDecoder().decode([String: Remembered].self, from: data)) ?? [:]
        }
        var changed = false
        var lines: [String] = []
        let prefix = root.hasSuffix("/") ? root : root + "/"
        for file in files {
            guard let attributes = try? fm.attributesOfItem(atPath: file) else {
                throw DatasetError(.missingFile, path: file, "source file not found")
            }
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let md5: String
            if let known = remembered[file], known.size == size, known.modified == modified {
                md5 = known.md5
            } else {
                md5 = try fileMD5(file)
                remembered[file] = Remembered(size: size, modified: modified, md5: md5)
                changed = true
            }
            let relative = file.hasPrefix(prefix) ? String(file.dropFirst(prefix.count)) : file
            lines.append("\(relative) \(md5)")
        }
        if changed, let cacheFile {
            try? fm.createDirectory(atPath: (cacheFile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if let data = try? JSONEncoder().encode(remembered) {
                try? data.write(to: URL(fileURLWithPath: cacheFile), options: .atomic)
            }
        }
        return MD5.hex(Array(lines.sorted().joined(separator: "\n").utf8))
    }

    /// The MD5 of a file, read in 4 MiB pieces.
    public static func fileMD5(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DatasetError(.missingFile, path: path, "cannot open the file")
        }
        defer { try? handle.close() }
        var md5 = MD5()
        while let chunk = try? handle.read(upToCount: 4 << 20), !chunk.isEmpty { md5.update(chunk) }
        return md5.hexDigest()
    }
}
