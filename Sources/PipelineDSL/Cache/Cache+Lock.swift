import Foundation

/// When a cache lock whose holder shows no sign of life is taken from it.
public struct LockPolicy: Sendable, Equatable {
    /// Seconds a waiter watches a lease go without a heartbeat before it reclaims it.
    public var staleAfter: TimeInterval

    /// Seconds between the holder's heartbeats: a tenth of `staleAfter`, so a live holder would
    /// have to miss ten beats in a row to lose its lock.
    public var heartbeatInterval: TimeInterval { staleAfter / 10 }

    /// The longest pause between a waiter's looks at the lease.
    var longestPoll: TimeInterval { min(0.5, max(0.01, heartbeatInterval / 2)) }

    /// Two minutes: long enough for a file server's hiccup, short enough after a node's failure.
    public static let standard = LockPolicy(staleAfter: 120)

    /// A policy reclaiming after `staleAfter` seconds without a heartbeat.
    public init(staleAfter: TimeInterval) { self.staleAfter = staleAfter }

    /// The policy a number of seconds as text asks for (the executables read it from
    /// `SBCL_LOCK_STALE_SECONDS`); `standard` when nil or empty.
    public init(staleSeconds text: String?) throws {
        guard let text, !text.isEmpty else { self = .standard; return }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0.1, seconds <= 1e9 else {
            throw UsageError("SBCL_LOCK_STALE_SECONDS=\(text): expected a number of seconds, at least 0.1")
        }
        self.init(staleAfter: seconds)
    }
}

extension ArtifactCache {
    /// Runs `body` holding the exclusive lock of entry `hash`, a lease file `locks/<hash>.lease`
    /// that holds on a file system shared by several nodes (NFS, Lustre) as well as on a local disk.
    ///
    /// `flock` is not used: across NFS clients it is emulated, or not shared at all, and a lock
    /// held by a node that died can outlive it. Instead:
    /// - **Taking it.** The holder writes its record (host, boot id, pid, the pid's start time, a
    ///   token, a heartbeat time and count) to a file of its own and `link()`s it to the lease's
    ///   name, which succeeds for one process only, on NFS too.
    /// - **Holding it.** A thread rewrites the heartbeat every `lockPolicy.heartbeatInterval`
    ///   (in place, then `fsync`, so other nodes see it).
    /// - **Waiting.** A waiter re-reads the lease (opened afresh each time, which revalidates an
    ///   NFS client's cache) until it is gone, then takes it. It reclaims the lease of a holder
    ///   that is provably dead (same host name, and the boot id differs, or the pid is gone or
    ///   names a process started at another time), at once; and of any holder whose lease it has
    ///   watched stay unchanged for `lockPolicy.staleAfter` seconds. That is timed on the waiter's
    ///   own clock from when it first saw that content, so node clocks need not agree; the price
    ///   is that a dead node's lock costs its first waiter one full timeout.
    /// - **Reclaiming.** The waiter renames the lease to a name of its own (one waiter wins),
    ///   checks the content is still what it judged dead (else links it back: the holder lived),
    ///   removes it and competes for the lock again.
    ///
    /// A live holder's lock is never taken while its heartbeat runs. A holder stopped for longer
    /// than the timeout (SIGSTOP, a frozen node) loses it; if it wakes it finishes its stage and
    /// commits the same entry a second time, atomically, so readers never see half of it.
    ///
    /// `onWait` is called once when another process holds the lock; `onReclaim` with a sentence
    /// when a dead holder's lock is taken.
    public func withLock<T>(_ hash: String, onWait: () -> Void = {}, onReclaim: (String) -> Void = { _ in },
                            _ body: () throws -> T) throws -> T {
        let lease = lease(of: hash)
        let holder = LockHolder.current()
        var waited = false
        var seen: (text: String, since: TimeInterval)?
        var pause = 0.005
        while true {
            if let descriptor = try lease.tryCreate(for: holder) {
                let heartbeat = LeaseHeartbeat(holder: holder, descriptor: descriptor, interval: lockPolicy.heartbeatInterval)
                heartbeat.start()
                // An interrupted process gives its lease back before it exits.
                let release = Interruption.add { _ in
                    heartbeat.stop()
                    lease.release(descriptor)
                }
                defer {
                    Interruption.remove(release)
                    heartbeat.stop()
                    lease.release(descriptor)
                }
                return try body()
            }
            if !waited {
                waited = true
                onWait()
            }
            guard let text = lease.contents() else { continue }  // released since: try again at once
            let now = ProcessInfo.processInfo.systemUptime
            if seen?.text != text { seen = (text, now) }
            let owner = LockHolder(text: text)
            let silence = now - (seen?.since ?? now)
            let reason = owner?.deathCertificate
                ?? (silence > lockPolicy.staleAfter ? String(format: "no heartbeat for %.1f s", silence) : nil)
            if let reason, lease.reclaim(expected: text) {
                onReclaim("reclaimed the cache lock of \(hash.prefix(12)) from \(owner?.summary ?? "an unreadable lease"): \(reason)")
                seen = nil
                continue
            }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, lockPolicy.longestPoll)
        }
    }

    /// Whether some process may hold the lock of `hash` right now (`gc` leaves such entries
    /// alone). A glance, not a watch: a holder on another host counts as holding while its last
    /// heartbeat, on its own clock, is within the stale timeout.
    public func isLocked(_ hash: String) -> Bool {
        guard let text = lease(of: hash).contents() else { return false }
        guard let owner = LockHolder(text: text) else { return true }
        if owner.deathCertificate != nil { return false }
        guard owner.host != HostIdentity.hostName, let beat = ISO8601DateFormatter().date(from: owner.heartbeat) else { return true }
        return Date().timeIntervalSince(beat) < lockPolicy.staleAfter
    }

    func lease(of hash: String) -> LeaseFile { LeaseFile(path: root.appendingPathComponent("locks/\(hash).lease").path) }
}
