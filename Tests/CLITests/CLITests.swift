import Foundation
import XCTest

/// The CLI contract of SPEC §3, exercised through the built binary.
final class CLITests: XCTestCase {
    private var cli: CLIHarness!

    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private let recipe = """
        name: cli
        stages:
          a: {kind: test_source, value: 2}
          b: {kind: test_source, value: 5}
          total: {kind: test_sum, inputs: [a, b]}
        """

    func testRunPlanAndCachedRerun() throws {
        try cli.write("r.yaml", recipe)
        let plan = try cli.run(["plan", "r.yaml", "--json"])
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["recipe"] as? String, "cli")
        let stages = try XCTUnwrap(json["stages"] as? [[String: Any]])
        XCTAssertEqual(stages.map { $0["name"] as? String }, ["a", "b", "total"])
        XCTAssertEqual(stages.map { $0["status"] as? String }, ["pending", "pending", "pending"])
        XCTAssertEqual(stages[2]["inputs"] as? [String], ["a", "b"])
        XCTAssertEqual((stages[0]["hash"] as? String)?.count, 64)
        XCTAssertEqual(Set(stages.flatMap { $0.keys }), ["name", "kind", "hash", "status", "inputs"])

        let run = try cli.run(["r.yaml", "--threads", "1"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("top1 7.0000"), run.stdout)
        let folder = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("run folder: ") }).dropFirst("run folder: ".count)
        for name in ["recipe.yaml", "log.txt", "metrics.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(folder)/\(name)"), name)
        }
        let rerun = try cli.run(["r.yaml", "stages.b.value=6", "--json"])
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        let outcomes = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(rerun.stdout.utf8)) as? [String: Any])["stages"] as? [[String: String]]
        XCTAssertEqual(outcomes?.map { $0["outcome"] }, ["cached", "ran", "ran"])
        XCTAssertEqual(try cli.run(["plan", "r.yaml"]).stdout.components(separatedBy: "cached").count - 1, 3)
    }

    func testExitStatusesAndMessages() throws {
        try cli.write("bad.yaml", "name: bad\nstages:\n  a: {kind: test_source, valeu: 1}\n  b: {kind: test_sum, inputs: [c]}\n")
        let invalid = try cli.run(["bad.yaml"])
        XCTAssertEqual(invalid.status, 2)
        XCTAssertEqual(invalid.stderr, """
            bad.yaml:3:26: error: stages.a.valeu: unknown key; expected one of kind, inputs, value; did you mean 'value'?
            bad.yaml:4:3: error: stages.b.inputs: missing input 'values': expected a test_source or test_sum or test_counter stage
            bad.yaml:4:32: error: stages.b.inputs[0]: no stage named 'c'
            3 errors in the recipe; nothing was run

            """)
        XCTAssertEqual(try cli.run(["plan", "bad.yaml"]).status, 2)
        XCTAssertEqual(try cli.run(["missing.yaml"]).status, 2)
        let defaultPlan = try cli.run(["plan", "--json"], testStages: false)
        XCTAssertEqual(defaultPlan.status, 0, "without a recipe, plan uses the embedded default: \(defaultPlan.stderr)")
        XCTAssertTrue(defaultPlan.stdout.contains("\"fashion_mnist_lt\""), defaultPlan.stdout)
        XCTAssertEqual(try cli.run(["--bogus"]).status, 2)
        XCTAssertEqual(try cli.run(["cache", "frobnicate"]).status, 2)
        let sweepWithoutM = try cli.run(["bad.yaml", "seed=1,2"])
        XCTAssertEqual(sweepWithoutM.status, 2)
        XCTAssertTrue(sweepWithoutM.stderr.contains("add -m to run the grid"), sweepWithoutM.stderr)
        XCTAssertEqual(try cli.run(["--help"]).status, 0)

        try cli.write("fail.yaml", "name: f\nstages:\n  x: {kind: test_fail, message: disk on fire}\n")
        let failed = try cli.run(["fail.yaml"])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.hasSuffix("error: stage 'x' (test_fail) failed: disk on fire\n"), failed.stderr)

        let hostile = try cli.write("deep.yaml", "a: " + String(repeating: "[", count: 100_000))
        let deep = try cli.run([hostile.lastPathComponent])
        XCTAssertEqual(deep.status, 2)
        XCTAssertTrue(deep.stderr.hasPrefix("deep.yaml:1:67: error: nesting is deeper than 64 levels"), deep.stderr)
    }

    func testSchemaFileIsFresh() throws {
        let committed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("schemas/recipe.schema.json")
        let generated = try cli.run(["schema"], testStages: false)
        XCTAssertEqual(generated.status, 0, generated.stderr)
        let text = try String(contentsOf: committed, encoding: .utf8)
        XCTAssertEqual(generated.stdout, text, "schemas/recipe.schema.json is stale: regenerate it with 'sbcl-run schema --output schemas/recipe.schema.json'")
    }

    func testSweepRunsTheGridSharingStages() throws {
        try cli.write("r.yaml", recipe)
        let sweep = try cli.run(["r.yaml", "-m", "stages.a.value=1,2,3", "stages.total.offset=0,10", "-q"])
        XCTAssertEqual(sweep.status, 0, sweep.stderr)
        let lines = sweep.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 8, sweep.stdout)
        XCTAssertTrue(lines[0].hasPrefix("stages.a.value  stages.total.offset  top1"), lines[0])
        XCTAssertEqual(lines[7].split(separator: " ").prefix(3), ["3", "10", "18.0000"], lines[7])
        let ran = cli.ranLines().map { $0.split(separator: " ")[1] }
        XCTAssertEqual(ran.filter { $0 == "b" }.count, 1, "stage b is shared by all six points")
        XCTAssertEqual(ran.filter { $0 == "a" }.count, 3)
        XCTAssertEqual(ran.filter { $0 == "total" }.count, 6)
        let runs = try FileManager.default.contentsOfDirectory(atPath: cli.folder.appendingPathComponent("runs").path)
        XCTAssertEqual(runs.count, 1)
        let points = try FileManager.default.contentsOfDirectory(atPath: cli.folder.appendingPathComponent("runs/\(runs[0])").path).sorted()
        XCTAssertEqual(points.filter { $0.hasPrefix("0-") || $0.hasPrefix("5-") },
                       ["0-stages.a.value=1,stages.total.offset=0", "5-stages.a.value=3,stages.total.offset=10"])
        XCTAssertTrue(points.contains("comparison.json"))
        let resolved = try String(contentsOfFile: cli.folder.appendingPathComponent("runs/\(runs[0])/5-stages.a.value=3,stages.total.offset=10/recipe.yaml").path, encoding: .utf8)
        XCTAssertTrue(resolved.contains("value: 3.0") && resolved.contains("offset: 10.0"), resolved)

        let json = try cli.run(["r.yaml", "-m", "stages.a.value=1,2", "--json", "-q"])
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.map { ($0["metrics"] as? [String: Double])?["top1"] }, [6, 7])
        XCTAssertEqual(try cli.run(["r.yaml", "-m", "stages.a.value=1,oops"]).status, 2, "every point is validated before any runs")
    }

    func testSweepWithFailingPointsExitsOne() throws {
        try cli.write("f.yaml", "name: f\nstages:\n  x: {kind: test_fail}\n")
        let sweep = try cli.run(["f.yaml", "-m", "stages.x.message=first,second", "-q"])
        XCTAssertEqual(sweep.status, 1)
        let rows = sweep.stdout.split(separator: "\n").dropFirst(2).map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        XCTAssertEqual(rows, ["first FAILED: stage 'x' (test_fail) failed: first", "second FAILED: stage 'x' (test_fail) failed: second"])
    }

    func testPlanLeavesNoCacheBehind() throws {
        try cli.write("r.yaml", recipe)
        XCTAssertEqual(try cli.run(["plan", "r.yaml"]).status, 0)
        XCTAssertEqual(try cli.run(["cache", "ls"]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cli.cacheDirectory.path), "plan and cache ls only read")
    }

    func testCacheCommands() throws {
        try cli.write("r.yaml", recipe)
        XCTAssertEqual(try cli.run(["r.yaml", "-q"]).status, 0)
        let listing = try cli.run(["cache", "ls"])
        XCTAssertTrue(listing.stdout.contains("3 entries in"), listing.stdout)
        XCTAssertEqual(try cli.run(["cache", "verify"]).status, 0)
        let objects = cli.cacheDirectory.appendingPathComponent("objects")
        let victim = try FileManager.default.contentsOfDirectory(atPath: objects.path).sorted()[0]
        try Data("tampered".utf8).write(to: objects.appendingPathComponent("\(victim)/files/value.txt"))
        let verify = try cli.run(["cache", "verify"])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stdout.contains("damaged \(victim): file value.txt does not match its digest"), verify.stdout)
        let gc = try cli.run(["cache", "gc"])
        XCTAssertTrue(gc.stdout.hasPrefix("removed 1 damaged"), gc.stdout)
        XCTAssertEqual(try cli.run(["cache", "verify"]).status, 0)
        XCTAssertEqual(try cli.run(["cache", "ls", "--json"]).status, 0)
    }
}
