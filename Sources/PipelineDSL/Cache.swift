import Foundation

/// The content-addressed artifact cache: one entry per stage hash.
///
/// Layout under `root`: `objects/<hash>/` (a `manifest.json` and a `files/` folder),
/// `tmp/` (entries being written; renamed into `objects/` when complete), `locks/<hash>.lease`
/// (one lease per entry, so concurrent processes, on one node or several sharing the folder,
/// neither corrupt an entry nor compute it twice; see `withLock`)
/// and `checkpoints/<hash>/` (a running stage's checkpoints, kept across crashes until the entry
/// is complete).
public final class ArtifactCache: Sendable {
    /// The cache folder.
    public let root: URL
    /// When a lock whose holder stopped heart-beating is reclaimed.
    public let lockPolicy: LockPolicy

    /// Opens a cache at `root`, creating its folders unless `create` is false (read-only uses
    /// such as `plan` leave a missing cache missing: every entry then reads as absent).
    public init(root: URL, create: Bool = true, lockPolicy: LockPolicy = .standard) throws {
        self.root = root.standardizedFileURL
        self.lockPolicy = lockPolicy
        guard create else { return }
        do {
            for folder in ["objects", "tmp", "locks", "checkpoints"] {
                try FileManager.default.createDirectory(at: self.root.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
        } catch {
            throw RunError("cannot create the cache at \(self.root.path): \(error.localizedDescription)")
        }
    }

    /// The cache location: `option` (`--cache-dir`), else `configured` (the executables read it from
    /// `SBCL_CACHE_DIR`), else `.sbcl/cache` in `workingDirectory`.
    public static func location(option: String?, configured: String?, workingDirectory: URL) -> URL {
        let base = URL(fileURLWithPath: workingDirectory.path, isDirectory: true)
        if let option, !option.isEmpty { return URL(fileURLWithPath: option, relativeTo: base).standardizedFileURL }
        if let value = configured, !value.isEmpty {
            return URL(fileURLWithPath: value, relativeTo: base).standardizedFileURL
        }
        return base.appendingPathComponent(".sbcl/cache")
    }

    /// The folder of a complete entry.
    public func entryDirectory(_ hash: String) -> URL { root.appendingPathComponent("objects/\(hash)") }

    /// The artifact files of a complete entry.
    public func filesDirectory(_ hash: String) -> URL { entryDirectory(hash).appendingPathComponent("files") }

    /// The checkpoint folder of an entry being computed.
    public func checkpointDirectory(_ hash: String) -> URL { root.appendingPathComponent("checkpoints/\(hash)") }

    /// Whether an interrupted run left checkpoints for `hash`.
    public func hasCheckpoint(_ hash: String) -> Bool {
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: checkpointDirectory(hash).path)) ?? []
        return !contents.isEmpty
    }

    /// What the cache holds for a hash.
    public enum EntryState: Sendable {
        /// No entry.
        case missing
        /// A complete entry whose files match its manifest.
        case valid(Manifest)
        /// An entry that fails verification, with the reason.
        case damaged(String)
    }

    /// Verifies the entry for `hash`: the manifest parses, names this hash, and lists exactly the
    /// files present with matching sizes and SHA-256 digests.
    public func state(of hash: String) -> EntryState {
        let directory = entryDirectory(hash)
        guard FileManager.default.fileExists(atPath: directory.path) else { return .missing }
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent("manifest.json").path) else {
            return .damaged("manifest.json is missing")
        }
        guard let text = String(data: data, encoding: .utf8), let value = ParamValue.parseJSON(text), let manifest = Manifest(value) else {
            return .damaged("manifest.json is not a valid manifest")
        }
        guard manifest.hash == hash else { return .damaged("manifest.json names hash \(manifest.hash)") }
        let present: [String: URL]
        do { present = try Self.listFiles(in: filesDirectory(hash)) } catch {
            return .damaged("cannot list files: \(error.localizedDescription)")
        }
        let listed = Set(manifest.files.map(\.path))
        if let extra = present.keys.sorted().first(where: { !listed.contains($0) }) { return .damaged("unexpected file \(extra)") }
        for file in manifest.files {
            guard let url = present[file.path] else { return .damaged("file \(file.path) is missing") }
            guard let digest = try? Self.digest(of: url), digest.size == file.size, digest.sha256 == file.sha256 else {
                return .damaged("file \(file.path) does not match its digest")
            }
        }
        return .valid(manifest)
    }

    /// Regular files under `directory`, by path relative to it.
    static func listFiles(in directory: URL) throws -> [String: URL] {
        var files: [String: URL] = [:]
        guard FileManager.default.fileExists(atPath: directory.path) else { return files }
        let base = directory.resolvingSymlinksInPath().path
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else {
            return files
        }
        for case let url as URL in enumerator {
            guard (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true else { continue }
            let path = url.resolvingSymlinksInPath().path
            files[String(path.dropFirst(base.count + 1))] = url
        }
        return files
    }

    /// SHA-256 and size of a file, read in 1 MiB chunks.
    static func digest(of url: URL) throws -> FileDigest {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = IncrementalSHA256()
        var size = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(chunk)
            size += chunk.count
        }
        return FileDigest(path: url.lastPathComponent, size: size, sha256: hasher.finalize())
    }
}
