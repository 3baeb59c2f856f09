import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A checkpoint verified like a cache artifact before it is trusted.
///
/// Beside each checkpoint file `<name>` lies its digest, `<name>.sha256` (`<sha256> <bytes>`),
/// written with it; the newest good checkpoint is kept as `<name>.previous` (with its digest)
/// when a new one replaces it. On resuming, a checkpoint whose bytes do not match its digest (a
/// truncated file, an edited epoch in its metadata), that has no digest, or that is not a regular
/// file (a symbolic link) is not read: the previous one is used if it verifies, else the stage
/// starts from scratch, and one sentence says which. Links in a checkpoint folder, or a folder
/// replaced by a link, are removed (never followed) before a stage writes there.
public enum CheckpointFile {
    /// The digest file of the checkpoint at `url`.
    public static func digestURL(of url: URL) -> URL { url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".sha256") }

    /// The previous checkpoint kept beside the one at `url`.
    public static func previousURL(of url: URL) -> URL { url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".previous") }

    /// Writes a checkpoint at `url`: `body` writes the file at the URL it is given (a temporary
    /// name in the same folder); its digest is written next to it, the current checkpoint, if it
    /// verifies, becomes the previous one, and the new file takes its place by renaming. A kill
    /// at any point leaves at least one checkpoint that verifies, or none when there was none.
    public static func write(to url: URL, _ body: (URL) throws -> Void) throws {
        let folder = url.deletingLastPathComponent()
        if isLink(folder.path) {
            throw RunError("the checkpoint folder \(folder.path) is a symbolic link; not writing through it")
        }
        let partial = folder.appendingPathComponent(url.lastPathComponent + ".partial")
        let digestPartial = folder.appendingPathComponent(url.lastPathComponent + ".sha256.partial")
        unlink(partial.path)
        try body(partial)
        let digest: FileDigest
        do { digest = try ArtifactCache.digest(of: partial) } catch {
            throw RunError("cannot read back the checkpoint \(partial.path): \(error.localizedDescription)")
        }
        unlink(digestPartial.path)
        do { try Data("\(digest.sha256) \(digest.size)\n".utf8).write(to: digestPartial) } catch {
            throw RunError("cannot write the checkpoint digest \(digestPartial.path): \(error.localizedDescription)")
        }
        let previous = previousURL(of: url)
        if problem(url) == nil {
            try move(url, to: previous)
            try move(digestURL(of: url), to: digestURL(of: previous))
        }
        try move(partial, to: url)
        try move(digestPartial, to: digestURL(of: url))
    }

    /// Why the checkpoint at `url` cannot be trusted, in words (`is missing`, `does not match its
    /// digest …`), or nil when it verifies.
    public static func problem(_ url: URL) -> String? {
        var status = stat()
        guard lstat(url.path, &status) == 0 else { return "is missing" }
        if (status.st_mode & S_IFMT) == S_IFLNK { return "is a symbolic link (not followed)" }
        guard (status.st_mode & S_IFMT) == S_IFREG else { return "is not a regular file" }
        let digestFile = digestURL(of: url)
        var digestStatus = stat()
        guard lstat(digestFile.path, &digestStatus) == 0, (digestStatus.st_mode & S_IFMT) == S_IFREG,
              digestStatus.st_size < 4096, let text = FileManager.default.contents(atPath: digestFile.path).map({ String(decoding: $0, as: UTF8.self) })
        else { return "has no digest file (\(digestFile.lastPathComponent))" }
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, fields[0].count == 64, let size = Int(fields[1]) else {
            return "has an unreadable digest file (\(digestFile.lastPathComponent))"
        }
        guard Int(status.st_size) == size else {
            return "is \(status.st_size) bytes, its digest says \(size) (truncated or damaged)"
        }
        guard let digest = try? ArtifactCache.digest(of: url), digest.sha256 == String(fields[0]) else {
            return "does not match its digest (damaged or edited)"
        }
        return nil
    }

    /// The checkpoint to resume from: the one at `url` when it verifies, else the previous one
    /// when that does, else nil (start from scratch). When `url` or its previous one exists but
    /// is not used, `log` gets one sentence saying why and what happens instead.
    public static func resumable(_ url: URL, log: (String) -> Void) -> URL? {
        let previous = previousURL(of: url)
        let currentProblem = problem(url)
        guard let currentProblem else { return url }
        let previousProblem = problem(previous)
        let exists = currentProblem != "is missing"
        if previousProblem == nil {
            log(exists ? "the checkpoint \(url.path) \(currentProblem); resuming from the previous checkpoint \(previous.lastPathComponent) instead"
                       : "the checkpoint \(url.path) is missing; resuming from the previous checkpoint \(previous.lastPathComponent)")
            return previous
        }
        if exists || previousProblem != "is missing" {
            let what = exists ? "the checkpoint \(url.path) \(currentProblem)" : "the checkpoint \(url.path) is missing"
            let before = previousProblem == "is missing" ? "there is no previous one" : "the previous one \(previousProblem!)"
            log("\(what) and \(before); starting from scratch")
        }
        return nil
    }

    /// Removes what must not be followed in the checkpoint folder `folder` before a stage uses
    /// it: the folder itself when it is a symbolic link (its target is left alone), and any
    /// entry in it that is a link or not a regular file. Returns one sentence per removal.
    public static func clearLinks(in folder: URL) -> [String] {
        var notes: [String] = []
        var status = stat()
        guard lstat(folder.path, &status) == 0 else { return notes }
        if (status.st_mode & S_IFMT) != S_IFDIR {
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: folder.path)).map { " (to \($0))" } ?? ""
            unlink(folder.path)
            notes.append("the checkpoint folder \(folder.path) was \((status.st_mode & S_IFMT) == S_IFLNK ? "a symbolic link\(target)" : "not a folder"); "
                         + "removed it without following it, starting from scratch")
            return notes
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
            let path = folder.appendingPathComponent(name).path
            var entry = stat()
            guard lstat(path, &entry) == 0, (entry.st_mode & S_IFMT) != S_IFREG else { continue }
            if (entry.st_mode & S_IFMT) == S_IFDIR {
                try? FileManager.default.removeItem(atPath: path)  // inside the cache: its links are removed, not followed
            } else {
                unlink(path)
            }
            notes.append("removed \(path) from the checkpoint folder: it is \((entry.st_mode & S_IFMT) == S_IFLNK ? "a symbolic link" : "not a regular file") (not followed)")
        }
        return notes
    }

    /// The problems of the checkpoint folder `folder` as `cache verify` reports them: each
    /// checkpoint file (one with a digest, or a `.safetensors` file) that does not verify, and
    /// entries that are links. Empty when all is well.
    public static func problems(inFolder folder: URL) -> [String] {
        var status = stat()
        guard lstat(folder.path, &status) == 0 else { return [] }
        guard (status.st_mode & S_IFMT) == S_IFDIR else {
            return [(status.st_mode & S_IFMT) == S_IFLNK ? "the folder is a symbolic link" : "it is not a folder"]
        }
        var problems: [String] = []
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        for name in names {
            let url = folder.appendingPathComponent(name)
            var entry = stat()
            guard lstat(url.path, &entry) == 0 else { continue }
            if (entry.st_mode & S_IFMT) == S_IFLNK { problems.append("\(name) is a symbolic link"); continue }
            if name.hasSuffix(".sha256") || name.hasSuffix(".partial") { continue }
            let sealed = names.contains(name + ".sha256") || name.hasSuffix(".safetensors") || name.hasSuffix(".safetensors.previous")
            if sealed, let problem = problem(url) { problems.append("\(name) \(problem)") }
        }
        return problems
    }

    /// Whether the folder holds at least one checkpoint file that verifies (or holds only
    /// files that are not sealed checkpoints, such as a test stage's state): false means a run
    /// would start from scratch anyway.
    static func isUsable(_ folder: URL) -> Bool {
        var status = stat()
        guard lstat(folder.path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { return false }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let sealed = names.filter { names.contains($0 + ".sha256") || $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.previous") }
        return sealed.isEmpty || sealed.contains { problem(folder.appendingPathComponent($0)) == nil }
    }

    static func isLink(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFLNK
    }

    static func move(_ source: URL, to target: URL) throws {
        guard rename(source.path, target.path) == 0 else {
            throw RunError("cannot rename \(source.path) to \(target.lastPathComponent): \(String(cString: strerror(errno)))")
        }
    }
}
