import Foundation
@testable import PipelineDSL
import XCTest

/// The cache lock on a shared file system: a dead or silent holder's lease is reclaimed, a live
/// one's never.
final class CacheLeaseTests: XCTestCase {
    private var folder: TemporaryFolder!
    private static let hash = String(repeating: "cd", count: 32)
    private var hash: String { Self.hash }

    override func setUpWithError() throws { folder = try TemporaryFolder() }
    override func tearDown() { folder.remove() }

    private func cache(staleAfter: TimeInterval) throws -> ArtifactCache {
        try ArtifactCache(root: folder.url.appendingPathComponent("cache"), lockPolicy: LockPolicy(staleAfter: staleAfter))
    }

    /// Writes a lease as another process would have left it.
    private static func writeLease(_ cache: ArtifactCache, host: String, pid: Int32, bootID: String = "", heartbeat: String,
                                   beat: Int = 7) throws {
        let text = "host=\(host)\nboot_id=\(bootID)\npid=\(pid)\nstart_time=\ntoken=t\nacquired=\(heartbeat)\n"
            + "heartbeat=\(heartbeat)\nbeat=\(beat)\n"
        try Data(text.utf8).write(to: cache.root.appendingPathComponent("locks/\(hash).lease"))
    }

    private func lock(_ cache: ArtifactCache) throws -> (seconds: Double, waited: Bool, reclaims: [String]) {
        var waited = false
        var reclaims: [String] = []
        let started = Date()
        try cache.withLock(hash, onWait: { waited = true }, onReclaim: { reclaims.append($0) }) {}
        return (Date().timeIntervalSince(started), waited, reclaims)
    }

    func testSilentHolderOnAnotherHostIsReclaimedAfterTheTimeout() throws {
        let cache = try cache(staleAfter: 0.5)
        try Self.writeLease(cache, host: "node-that-died", pid: 4242, heartbeat: "2020-01-01T00:00:00Z")
        XCTAssertFalse(cache.isLocked(hash), "a heartbeat years old holds nothing")
        let result = try lock(cache)
        XCTAssertTrue(result.waited)
        XCTAssertGreaterThanOrEqual(result.seconds, 0.5, "the waiter watches the lease for one full timeout first")
        XCTAssertEqual(result.reclaims.count, 1)
        XCTAssertTrue(result.reclaims[0].contains("host node-that-died, pid 4242"), result.reclaims[0])
        XCTAssertTrue(result.reclaims[0].contains("no heartbeat for"), result.reclaims[0])
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.root.appendingPathComponent("locks/\(hash).lease").path),
                       "released after use")
    }

    func testDeadProcessOnThisHostIsReclaimedAtOnce() throws {
        let cache = try cache(staleAfter: 60)
        let exited = Process()
        exited.executableURL = URL(fileURLWithPath: "/bin/true")
        try exited.run()
        exited.waitUntilExit()
        try Self.writeLease(cache, host: HostIdentity.hostName, pid: exited.processIdentifier, bootID: HostIdentity.bootID,
                       heartbeat: ISO8601DateFormatter().string(from: Date()))
        XCTAssertFalse(cache.isLocked(hash))
        let result = try lock(cache)
        XCTAssertLessThan(result.seconds, 5, "no timeout to wait out when the holder is provably dead")
        XCTAssertEqual(result.reclaims.count, 1)
        XCTAssertTrue(result.reclaims[0].contains("its process \(exited.processIdentifier) is gone"), result.reclaims[0])
    }

    func testLeaseFromAnEarlierBootOfThisHostIsDead() throws {
        guard !HostIdentity.bootID.isEmpty else { throw XCTSkip("this system has no boot id") }
        let cache = try cache(staleAfter: 60)
        try Self.writeLease(cache, host: HostIdentity.hostName, pid: getpid(), bootID: "an-earlier-boot",
                       heartbeat: ISO8601DateFormatter().string(from: Date()))
        let result = try lock(cache)
        XCTAssertEqual(result.reclaims.count, 1)
        XCTAssertTrue(result.reclaims[0].contains("rebooted"), result.reclaims[0])
    }

    /// A holder on "another host" (a thread writing its lease by hand) that keeps beating keeps
    /// its lock for several timeouts, until it releases it.
    func testLiveHolderOnAnotherHostIsNeverRobbed() throws {
        let cache = try cache(staleAfter: 1)
        let path = cache.root.appendingPathComponent("locks/\(hash).lease")
        try Self.writeLease(cache, host: "busy-node", pid: 1, heartbeat: "2020-01-01T00:00:00Z", beat: 0)
        let holder = Thread {
            for beat in 1...30 {
                Thread.sleep(forTimeInterval: 0.1)
                try? Self.writeLease(cache, host: "busy-node", pid: 1, heartbeat: "2020-01-01T00:00:00Z", beat: beat)
            }
            try? FileManager.default.removeItem(at: path)
        }
        holder.start()
        let result = try lock(cache)
        XCTAssertEqual(result.reclaims, [], "a beating holder is never robbed")
        XCTAssertGreaterThanOrEqual(result.seconds, 2.9, "the waiter got the lock only when the holder let go")
    }

    /// Two real holders in one process: the heartbeat thread keeps the first one's lease alive
    /// through several stale timeouts while the second waits.
    func testHeartbeatKeepsAHeldLockThroughManyTimeouts() throws {
        let cache = try cache(staleAfter: 1)
        let started = DispatchSemaphore(value: 0)
        let first = Thread {
            try? cache.withLock(Self.hash) {
                started.signal()
                Thread.sleep(forTimeInterval: 3)
            }
        }
        first.start()
        started.wait()
        XCTAssertTrue(cache.isLocked(hash))
        let text = try String(contentsOf: cache.root.appendingPathComponent("locks/\(hash).lease"), encoding: .utf8)
        XCTAssertTrue(text.contains("host=\(HostIdentity.hostName)\n") && text.contains("pid=\(getpid())\n"), text)
        let result = try lock(cache)
        XCTAssertTrue(result.waited)
        XCTAssertEqual(result.reclaims, [])
        XCTAssertGreaterThanOrEqual(result.seconds, 2.7, "three stale timeouts")
    }

    func testStaleTimeoutFromTheEnvironment() throws {
        XCTAssertEqual(try LockPolicy(staleSeconds: nil), .standard)
        XCTAssertEqual(try LockPolicy(staleSeconds: "30").staleAfter, 30)
        XCTAssertEqual(try LockPolicy(staleSeconds: "30").heartbeatInterval, 3)
        XCTAssertThrowsError(try LockPolicy(staleSeconds: "soon")) { error in
            XCTAssertEqual((error as? UsageError)?.message, "SBCL_LOCK_STALE_SECONDS=soon: expected a number of seconds, at least 0.1")
        }
    }
}
