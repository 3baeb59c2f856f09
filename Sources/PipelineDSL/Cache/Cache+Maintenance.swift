import Foundation

extension ArtifactCache {
    /// One entry as `cache ls` shows it.
    public struct Listing: Sendable {
        /// The entry's hash.
        public var hash: String
        /// Its manifest, if it parses.
        public var manifest: Manifest?
        /// Total bytes of its files.
        public var bytes: Int
    }

    /// Every complete entry, sorted by creation time then hash (manifest unverified: fast).
    public func list() -> [Listing] {
        let hashes = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("objects").path)) ?? []
        return hashes.sorted().map { hash in
            let url = entryDirectory(hash).appendingPathComponent("manifest.json")
            let manifest = FileManager.default.contents(atPath: url.path)
                .flatMap { String(data: $0, encoding: .utf8) }.flatMap(ParamValue.parseJSON).flatMap(Manifest.init)
            return Listing(hash: hash, manifest: manifest, bytes: manifest?.files.reduce(0) { $0 + $1.size } ?? 0)
        }.sorted { ($0.manifest?.createdAt ?? "", $0.hash) < ($1.manifest?.createdAt ?? "", $1.hash) }
    }

    /// Verifies every entry; returns the damaged ones with reasons.
    public func verifyAll() -> [(hash: String, reason: String)] {
        list().compactMap { listing in
            if case .damaged(let reason) = state(of: listing.hash) { return (listing.hash, reason) }
            return nil
        }
    }

    /// Checks every checkpoint folder (see `CheckpointFile`): a checkpoint that does not match its
    /// digest, has none, or is a symbolic link, and a folder that is a link. One line per
    /// problem, by hash; folders whose lock is held (a stage writing them now) are skipped.
    public func verifyCheckpoints() -> [(hash: String, reason: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("checkpoints").path)) ?? []
        return names.sorted().filter { !isLocked($0) }.flatMap { hash in
            CheckpointFile.problems(inFolder: checkpointDirectory(hash)).map { (hash: hash, reason: "checkpoint \($0)") }
        }
    }

    /// What `gc` removed.
    public struct CollectionReport: Sendable {
        /// Damaged entries removed.
        public var damaged: [String] = []
        /// Unused entries removed by age.
        public var expired: [String] = []
        /// Leftover temporary folders removed.
        public var temporaries = 0
        /// Checkpoint folders removed (their entry is complete, or no checkpoint in them verifies).
        public var checkpoints = 0
        /// Lease files of processes that are gone (killed with SIGKILL, or a host rebooted).
        public var leases = 0
    }

    /// Removes damaged entries, temporary leftovers of dead writers, checkpoints of complete
    /// entries, checkpoint folders with no checkpoint that verifies (damaged, or links), leases
    /// of dead processes and, with `olderThan`, entries created longer ago than that many seconds.
    ///
    /// Entries whose lock is held by a running process are left alone.
    public func collectGarbage(olderThan maximumAge: TimeInterval? = nil, now: Date = Date()) throws -> CollectionReport {
        var report = CollectionReport()
        let formatter = ISO8601DateFormatter()
        for listing in list() where !isLocked(listing.hash) {
            if case .damaged = state(of: listing.hash) {
                try discard(listing.hash)
                report.damaged.append(listing.hash)
            } else if let maximumAge, let created = listing.manifest.flatMap({ formatter.date(from: $0.createdAt) }),
                      now.timeIntervalSince(created) > maximumAge {
                try discard(listing.hash)
                report.expired.append(listing.hash)
            }
        }
        let fileManager = FileManager.default
        for name in (try? fileManager.contentsOfDirectory(atPath: root.appendingPathComponent("tmp").path)) ?? [] {
            let hash = String(name.prefix { $0 != "." })
            if !isLocked(hash) {
                try? fileManager.removeItem(at: root.appendingPathComponent("tmp/\(name)"))
                report.temporaries += 1
            }
        }
        for hash in (try? fileManager.contentsOfDirectory(atPath: root.appendingPathComponent("checkpoints").path)) ?? [] {
            guard !isLocked(hash) else { continue }
            let folder = checkpointDirectory(hash)
            if fileManager.fileExists(atPath: entryDirectory(hash).path) || !CheckpointFile.isUsable(folder) {
                // A link is removed itself (`removeItem` does not follow it); a folder's links likewise.
                try? fileManager.removeItem(at: folder)
                report.checkpoints += 1
            }
        }
        let locks = root.appendingPathComponent("locks")
        for name in (try? fileManager.contentsOfDirectory(atPath: locks.path)) ?? [] where name.hasSuffix(".lease") {
            let hash = String(name.dropLast(".lease".count))
            let lease = lease(of: hash)
            guard let text = lease.contents(), LockHolder(text: text)?.deathCertificate != nil, lease.reclaim(expected: text) else { continue }
            report.leases += 1
        }
        return report
    }
}
