import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One lease file, `locks/<hash>.lease`: its creation with `link()`, reading, reclaiming and
/// release. `ArtifactCache.withLock` explains the protocol.
struct LeaseFile: Sendable {
    /// The lease's path.
    let path: String

    /// Creates the lease for `holder` if no one holds it. Returns the open descriptor of the
    /// lease (the holder rewrites its heartbeat through it), or nil when another holds it.
    ///
    /// The record is written to a file of our own and hard-linked to the lease's name: `link()`
    /// is atomic on NFS as on local disks, and where its reply is lost the link count of our file
    /// (2) still tells that it succeeded.
    func tryCreate(for holder: LockHolder) throws -> Int32? {
        let mine = "\(path).\(holder.host).\(holder.pid).\(holder.token.prefix(8))"
        let descriptor = open(mine, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw RunError("cannot create the cache lock \(mine): \(Self.lastError)") }
        defer { unlink(mine) }
        guard Self.write(holder.text, to: descriptor) else {
            let reason = Self.lastError
            close(descriptor)
            throw RunError("cannot write the cache lock \(mine): \(reason)")
        }
        if link(mine, path) == 0 { return descriptor }
        let reason = errno
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_nlink == 2 { return descriptor }
        close(descriptor)
        if reason == EEXIST { return nil }
        throw RunError("cannot take the cache lock \(path): \(String(cString: strerror(reason)))")
    }

    /// The lease's text, opened afresh (on NFS, an open revalidates the client's cached copy),
    /// or nil when there is no lease.
    func contents() -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Removes a lease judged dead while it still reads `expected`. The lease is renamed to a
    /// name of our own first, so of several waiters one alone reclaims it; if the holder wrote a
    /// heartbeat in the meantime it is alive after all, and the lease is linked back.
    /// Returns whether it was removed.
    func reclaim(expected: String) -> Bool {
        let aside = "\(path).reclaimed.\(getpid()).\(UUID().uuidString.prefix(8))"
        guard rename(path, aside) == 0 else { return false }
        defer { unlink(aside) }
        guard LeaseFile(path: aside).contents() == expected else {
            link(aside, path)
            return false
        }
        return true
    }

    /// Whether `descriptor` is still the file at the lease's path (a holder paused for longer
    /// than the stale timeout may have lost it).
    func isHeld(through descriptor: Int32) -> Bool {
        var atPath = stat(), held = stat()
        guard stat(path, &atPath) == 0, fstat(descriptor, &held) == 0 else { return false }
        return atPath.st_ino == held.st_ino && atPath.st_dev == held.st_dev
    }

    /// Removes the lease if it is still ours, and closes the descriptor.
    func release(_ descriptor: Int32) {
        if isHeld(through: descriptor) { unlink(path) }
        close(descriptor)
    }

    /// Replaces the file's content through `descriptor` and flushes it to the server.
    static func write(_ text: String, to descriptor: Int32) -> Bool {
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        return written == bytes.count && ftruncate(descriptor, off_t(bytes.count)) == 0 && fsync(descriptor) == 0
    }

    static var lastError: String { String(cString: strerror(errno)) }
}

/// The holder's heartbeat: a thread that rewrites the lease's `heartbeat` and `beat` every
/// `interval` until stopped.
final class LeaseHeartbeat: @unchecked Sendable {
    // `holder` and `stopped` are only touched with `condition` locked; a beat is written with it
    // locked too, so after `stop()` returns no beat is in progress or to come.
    private let condition = NSCondition()
    private var stopped = false
    private var holder: LockHolder
    private let descriptor: Int32
    private let interval: TimeInterval

    init(holder: LockHolder, descriptor: Int32, interval: TimeInterval) {
        (self.holder, self.descriptor, self.interval) = (holder, descriptor, interval)
    }

    /// Writes the first heartbeat at once, then starts the thread.
    func start() {
        condition.lock()
        beat()
        condition.unlock()
        Thread.detachNewThread { [self] in
            condition.lock()
            defer { condition.unlock() }
            while !stopped {
                _ = condition.wait(until: Date().addingTimeInterval(interval))
                if !stopped { beat() }
            }
        }
    }

    /// Stops the heartbeat.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func beat() {
        holder.beat += 1
        holder.heartbeat = ISO8601DateFormatter().string(from: Date())
        _ = LeaseFile.write(holder.text, to: descriptor)
    }
}
