import Foundation

/// A stable digest of a data set's source files, for the stage hash. Each file's MD5 is computed
/// once and remembered in a small JSON file keyed by path, size and modification time, so large
/// trees are not re-read every run. Only regular files are read (`FileBytes`), and image files
/// have their header checked against the pixel limit as they are read, so an image too large to
/// decode is found at plan time.
public enum SourceDigest {
    private struct Remembered: Codable {
        var size: Int64
        var modified: Double
        var md5: String
        /// Height × width from the image's header (images only; absent in older caches).
        var pixels: Int?
        var height: Int?
        var width: Int?
    }

    /// The digest of `files` (absolute paths): MD5 over "relative-path md5" lines in sorted
    /// order, where paths are relative to `root` so that moving the data keeps the digest.
    ///
    /// - Parameter cacheFile: where per-file digests are remembered (created if missing, written
    ///   atomically); nil to always read the files.
    /// - Parameter images: the files among `files` that are images, each with where it was listed
    ///   (`split:line` or its folder): their JPEG or PNG header is read and checked against
    ///   `limits.maxPixels`.
    /// - Throws: `.missingFile` for a file that does not exist, `.notRegularFile` or `.tooLarge`
    ///   for one that cannot be read safely; for an image, the header's error naming the image and
    ///   where it was listed.
    public static func digest(files: [String], root: String, cacheFile: String?, images: [String: String] = [:],
                              limits: ImageLimits = .process) throws -> String {
        let fm = FileManager.default
        var remembered: [String: Remembered] = [:]
        if let cacheFile, let data = try? FileBytes.read(cacheFile, limits: limits) {
            remembered = (try? JSONDecoder().decode([String: Remembered].self, from: Data(data))) ?? [:]
        }
        var changed = false
        var lines: [String] = []
        let prefix = root.hasSuffix("/") ? root : root + "/"
        for file in files {
            let origin = images[file]
            let attributes: (size: Int64, modified: Double)
            switch FileBytes.sizeAndModification(file) {
            case let .success(found): attributes = found
            case .failure:
                throw DatasetError(.missingFile, path: file, "source file not found" + (origin.map { " (listed at \($0))" } ?? ""))
            }
            let md5: String
            if let known = remembered[file], known.size == attributes.size, known.modified == attributes.modified,
               origin == nil || known.pixels != nil {
                if origin != nil, let height = known.height, let width = known.width {
                    try naming(origin) { try limits.checkImage(height: height, width: width, path: file, format: "image") }
                }
                md5 = known.md5
            } else {
                var entry = Remembered(size: attributes.size, modified: attributes.modified, md5: "")
                if let origin {
                    let bytes = try naming(origin) { try FileBytes.read(file, limits: limits) }
                    let size = try naming(origin) { try imageSize(bytes, path: file, limits: limits) }
                    (entry.height, entry.width, entry.pixels) = (size.height, size.width, size.height * size.width)
                    entry.md5 = MD5.hex(bytes)
                } else {
                    entry.md5 = try fileMD5(file, limits: limits)
                }
                md5 = entry.md5
                remembered[file] = entry
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

    /// The full-size (height, width) from a JPEG's or PNG's header, checked against the limit.
    static func imageSize(_ bytes: [UInt8], path: String, limits: ImageLimits) throws -> (height: Int, width: Int) {
        if PNGDecoder.isPNG(bytes) { return try PNGDecoder.header(bytes, path: path, limits: limits) }
        guard JPEGDecoder.isJPEG(bytes) else {
            throw DatasetError(.decodeFailed, path: path, "neither a JPEG nor a PNG (the file starts with \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")))")
        }
        let header = try JPEGDecoder.header(bytes, path: path, limits: limits)
        return (header.height, header.width)
    }

    /// Adds where the image was listed to `body`'s `DatasetError`.
    private static func naming<R>(_ origin: String?, _ body: () throws -> R) throws -> R {
        guard let origin else { return try body() }
        do { return try body() } catch let error as DatasetError {
            throw DatasetError(error.kind, path: error.path, line: error.line, "\(error.message) (listed at \(POSIXName.display(origin)))")
        }
    }

    /// The MD5 of a file, read in 4 MiB pieces; only a regular file of at most
    /// `limits.maxFileBytes` is read.
    ///
    /// - Throws: `.missingFile`, `.notRegularFile`, `.tooLarge` or `.io`, naming the file.
    public static func fileMD5(_ path: String, limits: ImageLimits = .process) throws -> String {
        var md5 = MD5()
        try FileBytes.stream(path, limits: limits) { md5.update($0) }
        return md5.hexDigest()
    }
}
