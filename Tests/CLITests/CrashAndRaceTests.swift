import Foundation
import XCTest

/// A stage killed with SIGKILL resumes from its checkpoint; two processes share one cache safely.
final class CrashAndRaceTests: XCTestCase {
    private var cli: CLIHarness!

    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    func testKilledStageResumesFromItsCheckpoint() throws {
        try cli.write("long.yaml", "name: long\nstages:\n  count: {kind: test_counter, steps: 40, step_seconds: 0.01}\n")
        let hash = try cli.stageHash(of: "count", recipe: "long.yaml")
        let state = cli.cacheDirectory.appendingPathComponent("checkpoints/\(hash)/state.txt")
        // The stage checkpoints step 12 and then waits, so the kill lands mid-stage whatever the load.
        let (process, out, err) = try cli.start(["long.yaml"], environment: ["SBCL_TEST_HANG_AT_STEP": "12"])
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, (try? String(contentsOf: state, encoding: .utf8)) != "12" {
            Thread.sleep(forTimeInterval: 0.01)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = try? cli.collect(process, out, err)
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(try String(contentsOf: state, encoding: .utf8), "12", "the stage never reached step 12")

        let plan = try cli.run(["plan", "long.yaml"])
        XCTAssertTrue(plan.stdout.contains("partial"), plan.stdout)
        let resumed = try cli.run(["long.yaml"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("[count] resuming from checkpoint"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("[count] resuming at step 12"), resumed.stderr)
        let files = cli.cacheDirectory.appendingPathComponent("objects/\(hash)/files")
        XCTAssertEqual(try String(contentsOf: files.appendingPathComponent("resume.txt"), encoding: .utf8), "12")
        XCTAssertEqual(try String(contentsOf: files.appendingPathComponent("value.txt"), encoding: .utf8), "40")
        XCTAssertTrue(try cli.run(["plan", "long.yaml"]).stdout.contains("cached"))
        XCTAssertEqual(cli.ranLines().count, 2, "one killed run and one resumed run")
        let temporaries = try FileManager.default.contentsOfDirectory(atPath: cli.cacheDirectory.appendingPathComponent("tmp").path)
        XCTAssertEqual(temporaries, [], "the killed run's staging folder is cleared by the next writer of that entry")
    }

    func testTwoProcessesRacingOnOneCache() throws {
        try cli.write("race.yaml", """
            name: race
            stages:
              slow: {kind: test_counter, steps: 25, step_seconds: 0.02}
              a: {kind: test_source, value: 3}
              total: {kind: test_sum, inputs: [slow, a]}
            """)
        let first = try cli.start(["race.yaml"], tag: "1")
        let second = try cli.start(["race.yaml"], tag: "2")
        first.0.waitUntilExit()
        second.0.waitUntilExit()
        let results = try [first, second].map { try cli.collect($0.0, $0.1, $0.2) }
        for result in results { XCTAssertEqual(result.status, 0, result.stderr) }
        XCTAssertTrue(results.allSatisfy { $0.stdout.contains("top1 28.0000") }, results.map(\.stdout).joined())
        let ran = cli.ranLines().map { String($0.split(separator: " ")[1]) }.sorted()
        XCTAssertEqual(ran, ["a", "slow", "total"], "each stage computed exactly once across both processes")
        XCTAssertEqual(try cli.run(["cache", "verify"]).status, 0)
        let temporaries = try FileManager.default.contentsOfDirectory(atPath: cli.cacheDirectory.appendingPathComponent("tmp").path)
        XCTAssertEqual(temporaries, [])
    }
}
