import Foundation
import XCTest

/// A run that dies leaves a clean state: `run.json` says `failed` with the reason, the report says
/// what is missing, and no lease or staging folder is left; after an uncatchable kill the next
/// command finds the stale `running` record and marks it, and stale leases are reclaimed.
final class InterruptedRunTests: XCTestCase {
    private var cli: CLIHarness!

    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private let counterRecipe = "name: long\nstages:\n  count: {kind: test_counter, steps: 40, step_seconds: 0.01}\n  a: {kind: test_source, value: 1}\n"

    /// The run folders under `runs`, oldest first.
    private func runFolders() throws -> [URL] {
        let runs = cli.folder.appendingPathComponent("runs")
        return try FileManager.default.contentsOfDirectory(at: runs, includingPropertiesForKeys: nil)
            .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("run.json").path) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    private func runJSON(_ folder: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent("run.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func leftovers() -> [String] {
        let manager = FileManager.default
        let locks = (try? manager.contentsOfDirectory(atPath: cli.cacheDirectory.appendingPathComponent("locks").path)) ?? []
        let tmp = (try? manager.contentsOfDirectory(atPath: cli.cacheDirectory.appendingPathComponent("tmp").path)) ?? []
        return locks.map { "locks/\($0)" } + tmp.map { "tmp/\($0)" }
    }

    /// Starts the counter recipe, hanging after checkpointing step 5, and waits for that step.
    private func startHanging() throws -> (Process, URL, URL, String) {
        try cli.write("long.yaml", counterRecipe)
        let hash = try cli.stageHash(of: "count", recipe: "long.yaml")
        let state = cli.cacheDirectory.appendingPathComponent("checkpoints/\(hash)/state.txt")
        let (process, out, err) = try cli.start(["long.yaml"], environment: ["SBCL_TEST_HANG_AT_STEP": "5"])
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, (try? String(contentsOf: state, encoding: .utf8)) != "5" { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(try? String(contentsOf: state, encoding: .utf8), "5", "the stage never reached step 5")
        return (process, out, err, hash)
    }

    func testAFailingStageLeavesAFailedRunAReportSayingWhatIsMissingAndNoLeftovers() throws {
        try cli.write("fail.yaml", "name: fail\nstages:\n  a: {kind: test_source, value: 1}\n  f: {kind: test_fail, message: disk on fire, inputs: [a]}\n  b: {kind: test_sum, inputs: [a]}\n")
        let result = try cli.run(["fail.yaml"])
        XCTAssertNotEqual(result.status, 0)
        let folder = try XCTUnwrap(try runFolders().last)
        let json = try runJSON(folder)
        XCTAssertEqual(json["status"] as? String, "failed")
        XCTAssertTrue((json["failure"] as? String ?? "").contains("disk on fire"), "\(json)")
        let report = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(report.contains("disk on fire"), "the report names the failure")
        XCTAssertTrue(report.contains("not run: &#39;b&#39;") || report.contains("not run: 'b'"), "the report says which stage did not run")
        XCTAssertEqual(leftovers(), [])
    }

    func testSIGTERMAndSIGINTMarkTheRunFailedAndReleaseTheLeaseAndStaging() throws {
        for (signal, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            try? FileManager.default.removeItem(at: cli.cacheDirectory)
            try? FileManager.default.removeItem(at: cli.folder.appendingPathComponent("runs"))
            let (process, out, err, _) = try startHanging()
            XCTAssertFalse(leftovers().isEmpty, "a running stage holds its lease and staging folder")
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            _ = try cli.collect(process, out, err)
            XCTAssertEqual(process.terminationStatus, 128 + signal, "exit status after \(name)")
            let folder = try XCTUnwrap(try runFolders().last)
            let json = try runJSON(folder)
            XCTAssertEqual(json["status"] as? String, "failed", name)
            XCTAssertEqual(json["failure"] as? String, "the run was interrupted by \(name)")
            let stages = try XCTUnwrap(json["stages"] as? [[String: Any]])
            XCTAssertEqual(stages.map { $0["outcome"] as? String }, ["failed", "pending"])
            let report = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
            XCTAssertTrue(report.contains("interrupted by \(name)"), "the report says why (\(name))")
            XCTAssertEqual(leftovers(), [], "no lease or staging folder after \(name)")
            // The checkpoint survives: the next run resumes.
            let resumed = try cli.run(["long.yaml"])
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            XCTAssertTrue(resumed.stderr.contains("resuming at step 5"), resumed.stderr)
        }
    }

    func testAfterSIGKILLTheNextCommandMarksTheStaleRunAndGCReclaimsTheLease() throws {
        let (process, out, err, _) = try startHanging()
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = try cli.collect(process, out, err)
        let killed = try XCTUnwrap(try runFolders().last)
        XCTAssertEqual(try runJSON(killed)["status"] as? String, "running", "SIGKILL cannot be caught: the record is stale")
        XCTAssertTrue(leftovers().contains { $0.hasSuffix(".lease") }, "the killed process's lease is left")

        let gc = try cli.run(["cache", "gc"])
        XCTAssertEqual(gc.status, 0, gc.stderr)
        XCTAssertTrue(gc.stdout.contains("1 dead leases"), gc.stdout)
        XCTAssertEqual(leftovers(), [], "gc removes the dead lease and the staging folder")

        try cli.write("other.yaml", "name: other\nstages:\n  a: {kind: test_source, value: 2}\n")
        let next = try cli.run(["other.yaml"])
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertTrue(next.stderr.contains("marked the earlier run \(killed.path) failed"), next.stderr)
        let json = try runJSON(killed)
        XCTAssertEqual(json["status"] as? String, "failed")
        let failure = try XCTUnwrap(json["failure"] as? String)
        XCTAssertTrue(failure.contains("its process \(process.processIdentifier) is gone"), failure)
        let stages = try XCTUnwrap(json["stages"] as? [[String: Any]])
        XCTAssertEqual(stages.first?["outcome"] as? String, "failed")
        let report = try String(contentsOf: killed.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(report.contains("is gone"), "the stale run's report is rewritten to say it was interrupted")
    }

    func testALiveRunIsNotMarkedStale() throws {
        let (process, out, err, _) = try startHanging()
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            _ = try? cli.collect(process, out, err)
        }
        try cli.write("other.yaml", "name: other\nstages:\n  a: {kind: test_source, value: 2}\n")
        let first = try XCTUnwrap(try runFolders().first)
        XCTAssertEqual(try cli.run(["other.yaml"]).status, 0)
        XCTAssertEqual(try runJSON(first)["status"] as? String, "running")
    }
}

/// A checkpoint folder replaced by a symbolic link does not make a run write outside the cache.
final class CheckpointLinkTests: XCTestCase {
    func testARunRemovesTheLinkAndStartsFromScratchLeavingItsTargetAlone() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("long.yaml", "name: long\nstages:\n  count: {kind: test_counter, steps: 5, step_seconds: 0}\n")
        let hash = try cli.stageHash(of: "count", recipe: "long.yaml")
        let outside = cli.folder.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try Data("3".utf8).write(to: outside.appendingPathComponent("state.txt"))
        let checkpoints = cli.cacheDirectory.appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: checkpoints.appendingPathComponent(hash), withDestinationURL: outside)

        let verify = try cli.run(["cache", "verify"])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stdout.contains("damaged checkpoint \(hash): checkpoint the folder is a symbolic link"), verify.stdout)

        let result = try cli.run(["long.yaml"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("was a symbolic link (to \(outside.path)); removed it without following it, starting from scratch"), result.stderr)
        XCTAssertFalse(result.stderr.contains("resuming"), result.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path), ["state.txt"])
        XCTAssertEqual(try String(contentsOf: outside.appendingPathComponent("state.txt"), encoding: .utf8), "3", "nothing written outside the cache")
        XCTAssertEqual(try String(contentsOf: cli.cacheDirectory.appendingPathComponent("objects/\(hash)/files/resume.txt"), encoding: .utf8), "0")
        XCTAssertEqual(try cli.run(["cache", "verify"]).status, 0)
    }
}
