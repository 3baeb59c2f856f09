import Foundation
import XCTest

/// The failure of a node or process holding a cache lock: its lock is reclaimed and the waiting
/// run completes; a live holder, heart-beating, keeps its lock however long it takes.
final class LockReclaimTests: XCTestCase {
    private var cli: CLIHarness!

    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private func waitFor(_ what: String, seconds: Double = 30, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, !condition() { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertTrue(condition(), "timed out waiting for \(what)")
    }

    func testKilledHolderIsReclaimedAndTheWaiterResumesItsWork() throws {
        try cli.write("long.yaml", "name: long\nstages:\n  count: {kind: test_counter, steps: 30, step_seconds: 0.01}\n")
        let hash = try cli.stageHash(of: "count", recipe: "long.yaml")
        let state = cli.cacheDirectory.appendingPathComponent("checkpoints/\(hash)/state.txt")
        // A second without a heartbeat would make the lock stale: the holder beats every 0.1 s.
        let stale = ["SBCL_LOCK_STALE_SECONDS": "1"]
        let holder = try cli.start(["long.yaml"], tag: "holder", environment: stale.merging(["SBCL_TEST_HANG_AT_STEP": "12"]) { $1 })
        waitFor("the holder to reach step 12") { (try? String(contentsOf: state, encoding: .utf8)) == "12" }
        let waiter = try cli.start(["long.yaml"], tag: "waiter", environment: stale)
        waitFor("the second run to wait") { ((try? String(contentsOf: waiter.2, encoding: .utf8)) ?? "").contains("waiting") }
        Thread.sleep(forTimeInterval: 3)  // three stale timeouts: a live holder keeps its lock
        XCTAssertTrue(waiter.0.isRunning, "the waiter must still be waiting")
        XCTAssertFalse(try String(contentsOf: waiter.2, encoding: .utf8).contains("reclaimed"), "a live holder was robbed")

        kill(holder.0.processIdentifier, SIGKILL)
        holder.0.waitUntilExit()
        waiter.0.waitUntilExit()
        let result = try cli.collect(waiter.0, waiter.1, waiter.2)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("[count] reclaimed the cache lock of \(hash.prefix(12)) from host "), result.stderr)
        XCTAssertTrue(result.stderr.contains("its process \(holder.0.processIdentifier) is gone"), result.stderr)
        XCTAssertTrue(result.stderr.contains("[count] resuming at step 12"), result.stderr)
        XCTAssertTrue(try cli.run(["plan", "long.yaml"]).stdout.contains("cached"))
        XCTAssertEqual(try cli.run(["cache", "verify"]).status, 0)
    }

    /// A holder that is alive but frozen (SIGSTOP: its heartbeat stops too) loses its lock after
    /// the stale timeout, as a holder on a node that froze would.
    func testFrozenHolderLosesItsLockAfterTheTimeout() throws {
        try cli.write("long.yaml", "name: long\nstages:\n  count: {kind: test_counter, steps: 30, step_seconds: 0.01}\n")
        let hash = try cli.stageHash(of: "count", recipe: "long.yaml")
        let state = cli.cacheDirectory.appendingPathComponent("checkpoints/\(hash)/state.txt")
        let stale = ["SBCL_LOCK_STALE_SECONDS": "0.5"]
        let holder = try cli.start(["long.yaml"], tag: "holder", environment: stale.merging(["SBCL_TEST_HANG_AT_STEP": "12"]) { $1 })
        defer {
            kill(holder.0.processIdentifier, SIGKILL)
            holder.0.waitUntilExit()
        }
        waitFor("the holder to reach step 12") { (try? String(contentsOf: state, encoding: .utf8)) == "12" }
        kill(holder.0.processIdentifier, SIGSTOP)
        let (process, out, err) = try cli.start(["long.yaml"], tag: "waiter", environment: stale)
        process.waitUntilExit()
        let result = try cli.collect(process, out, err)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("[count] reclaimed the cache lock of \(hash.prefix(12)) from host "), result.stderr)
        XCTAssertTrue(result.stderr.contains(": no heartbeat for "), result.stderr)
        XCTAssertTrue(result.stderr.contains("[count] resuming at step 12"), result.stderr)
    }

    /// A node that died holding a lock, as its lease looks from here: another host name, a
    /// heartbeat that never moves.
    func testLockOfANodeThatStoppedHeartBeatingIsReclaimed() throws {
        try cli.write("r.yaml", "name: r\nstages:\n  a: {kind: test_source, value: 3}\n")
        let hash = try cli.stageHash(of: "a", recipe: "r.yaml")
        let locks = cli.cacheDirectory.appendingPathComponent("locks")
        try FileManager.default.createDirectory(at: locks, withIntermediateDirectories: true)
        try cli.write("cache/locks/\(hash).lease", """
            host=node-17\nboot_id=0b5e6d\npid=4242\nstart_time=99\ntoken=x\nacquired=2026-01-01T00:00:00Z
            heartbeat=2026-01-01T00:10:00Z\nbeat=60\n
            """)
        let started = Date()
        let (process, out, err) = try cli.start(["r.yaml"], environment: ["SBCL_LOCK_STALE_SECONDS": "1"])
        process.waitUntilExit()
        let result = try cli.collect(process, out, err)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 1, "one stale timeout watched first")
        XCTAssertTrue(result.stderr.contains("[a] waiting: another process is computing \(hash.prefix(12))"), result.stderr)
        XCTAssertTrue(result.stderr.contains("[a] reclaimed the cache lock of \(hash.prefix(12)) from host node-17, pid 4242, "
                                             + "since 2026-01-01T00:00:00Z, last heartbeat 2026-01-01T00:10:00Z: no heartbeat for "),
                      result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: locks.appendingPathComponent("\(hash).lease").path))
    }

    func testBadStaleTimeoutIsAUsageError() throws {
        try cli.write("r.yaml", "name: r\nstages:\n  a: {kind: test_source, value: 3}\n")
        let (process, out, err) = try cli.start(["r.yaml"], environment: ["SBCL_LOCK_STALE_SECONDS": "-1"])
        process.waitUntilExit()
        let result = try cli.collect(process, out, err)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("SBCL_LOCK_STALE_SECONDS=-1: expected a number of seconds, at least 0.1"), result.stderr)
    }
}
