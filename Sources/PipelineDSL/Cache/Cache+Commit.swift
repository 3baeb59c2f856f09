import Foundation

extension ArtifactCache {
    /// A fresh temporary folder for writing the entry of `hash`; its `files/` subfolder is the
    /// stage's output directory. Call only while holding the entry's lock.
    public func makeStaging(_ hash: String) throws -> URL {
        // Holding the lock, any other temporary folder of this hash belongs to a dead writer.
        let tmp = root.appendingPathComponent("tmp")
        for leftover in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] where leftover.hasPrefix("\(hash).") {
            try? FileManager.default.removeItem(at: tmp.appendingPathComponent(leftover))
        }
        let name = "\(hash).\(ProcessInfo.processInfo.processIdentifier).\(UUID().uuidString.prefix(8))"
        let staging = root.appendingPathComponent("tmp/\(name)")
        do {
            try FileManager.default.createDirectory(at: staging.appendingPathComponent("files"), withIntermediateDirectories: true)
        } catch {
            throw RunError("cannot create \(staging.path): \(error.localizedDescription)")
        }
        return staging
    }

    /// Digests the staged files, writes the manifest and renames the folder into place, then
    /// removes the entry's checkpoints. Call only while holding the entry's lock.
    ///
    /// The manifest's `files` are filled in here; other fields come from `manifest`.
    @discardableResult
    public func commit(staging: URL, manifest: Manifest) throws -> Manifest {
        var manifest = manifest
        do {
            let files = try Self.listFiles(in: staging.appendingPathComponent("files"))
            manifest.files = try files.keys.sorted().map { path in
                var digest = try Self.digest(of: files[path]!)
                digest.path = path
                return digest
            }
            let text = manifest.value.prettyJSON() + "\n"
            try Data(text.utf8).write(to: staging.appendingPathComponent("manifest.json"), options: .atomic)
            let target = entryDirectory(manifest.hash)
            if FileManager.default.fileExists(atPath: target.path) {
                // Only a damaged entry can be here (the lock excludes concurrent writers): replace it.
                try discard(manifest.hash)
            }
            try FileManager.default.moveItem(at: staging, to: target)
        } catch let error as RunError {
            throw error
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw RunError("cannot store the artifact of \(manifest.stageName) in the cache: \(error.localizedDescription)")
        }
        try? FileManager.default.removeItem(at: checkpointDirectory(manifest.hash))
        return manifest
    }

    /// Removes an entry (renaming it away first, so no reader ever sees half of it).
    public func discard(_ hash: String) throws {
        let target = entryDirectory(hash)
        guard FileManager.default.fileExists(atPath: target.path) else { return }
        let trash = root.appendingPathComponent("tmp/\(hash).discarded.\(UUID().uuidString.prefix(8))")
        do {
            try FileManager.default.moveItem(at: target, to: trash)
            try FileManager.default.removeItem(at: trash)
        } catch {
            throw RunError("cannot remove damaged cache entry \(target.path): \(error.localizedDescription)")
        }
    }
}
