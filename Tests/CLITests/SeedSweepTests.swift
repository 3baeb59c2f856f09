import Foundation
import XCTest

/// A seeded sweep of the smoke recipe as a user runs it: two settings of the long tail × three
/// seeds (`--seeds 3`), shortened to one first-stage epoch. The stages whose hash leaves the seed
/// out (the data set, and the long tail once per setting) are computed once; the grouped table's
/// means are the runs' own `metrics.json`; the report pages show the spread.
final class SeedSweepTests: XCTestCase {
    private var cli: CLIHarness!

    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private var smokeRecipe: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("recipes/smoke.yaml").path
    }

    private func json(_ url: URL) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func testSeededSweepComputesSharedStagesOnceAndAveragesTheRuns() throws {
        let sweep = try cli.run([smokeRecipe, "-m", "stages.lt.factor=0.1,0.12", "--seeds", "3", "stages.encoder.epochs=1",
                                 "stages.clusters.warmup_epochs=0", "stages.classifier.epochs=3",
                                 "stages.data.test_per_class_limit=50", "--threads", "2", "-q"], testStages: false)
        XCTAssertEqual(sweep.status, 0, sweep.stderr)
        XCTAssertTrue(sweep.stdout.contains("grouped by stages.lt.factor over seeds 0–2"), sweep.stdout)
        let runs = cli.folder.appendingPathComponent("runs")
        let sweepFolder = runs.appendingPathComponent(try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: runs.path).first))
        let points = try FileManager.default.contentsOfDirectory(atPath: sweepFolder.path).filter { $0.first!.isNumber }
            .sorted { Int($0.prefix { $0.isNumber })! < Int($1.prefix { $0.isNumber })! }
        XCTAssertEqual(points, ["0-stages.lt.factor=0.1,seed=0", "1-stages.lt.factor=0.1,seed=1", "2-stages.lt.factor=0.1,seed=2",
                                "3-stages.lt.factor=0.12,seed=0", "4-stages.lt.factor=0.12,seed=1", "5-stages.lt.factor=0.12,seed=2"])

        // Count each stage's executions from the runs' own records.
        var ran: [String: Int] = [:], hashes: [String: Set<String>] = [:]
        for point in points {
            let stages = try XCTUnwrap(try json(sweepFolder.appendingPathComponent("\(point)/run.json"))["stages"] as? [[String: Any]])
            for stage in stages {
                let name = try XCTUnwrap(stage["name"] as? String)
                if stage["outcome"] as? String == "ran" { ran[name, default: 0] += 1 }
                hashes[name, default: []].insert(try XCTUnwrap(stage["hash"] as? String))
            }
        }
        XCTAssertEqual(ran["data"], 1, "the data set's hash has no seed: computed once for the whole sweep")
        XCTAssertEqual(ran["lt"], 2, "the long tail's hash has no seed: computed once per setting")
        XCTAssertEqual(hashes["lt"]?.count, 2)
        for stage in ["encoder", "classifier", "evaluation"] {
            XCTAssertEqual(ran[stage], 6, "\(stage) depends on the seed: one per point")
            XCTAssertEqual(hashes[stage]?.count, 6, stage)
        }

        // The grouped table's means equal the runs' own metrics.json.
        let compare = try cli.run(["compare", sweepFolder.path, "--json"], testStages: false)
        XCTAssertEqual(compare.status, 0, compare.stderr)
        let grouped = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(compare.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(grouped["group_by"] as? [String], ["stages.lt.factor"])
        let groups = try XCTUnwrap(grouped["groups"] as? [[String: Any]])
        XCTAssertEqual(groups.map { $0["n"] as? Int }, [3, 3])
        XCTAssertEqual(groups.map { $0["seeds"] as? [Int] }, [[0, 1, 2], [0, 1, 2]])
        for (index, group) in groups.enumerated() {
            let metrics = try XCTUnwrap(group["metrics"] as? [String: [String: Any]])
            for name in ["top1", "top5", "many", "medium", "few"] {
                let own = try points[(index * 3)..<(index * 3 + 3)].map { point in
                    try XCTUnwrap(try json(sweepFolder.appendingPathComponent("\(point)/metrics.json"))[name] as? Double)
                }
                let mean = own.reduce(0, +) / 3
                let sd = (own.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2).squareRoot()
                XCTAssertEqual(try XCTUnwrap(metrics[name]?["mean"] as? Double), mean, accuracy: 1e-9, "\(name) of group \(index)")
                XCTAssertEqual(try XCTUnwrap(metrics[name]?["sd"] as? Double), sd, accuracy: 1e-9, "\(name) of group \(index)")
            }
        }
        let differences = try XCTUnwrap(grouped["differences"] as? [[String: Any]])
        XCTAssertEqual(differences.count, 5, "one pair of groups, five headline metrics")
        XCTAssertNotNil(differences.first?["p"] as? Double)

        let table = try cli.run(["compare", sweepFolder.path, "--group-by", "stages.lt.factor", "--baseline", "0.12", "--markdown"], testStages: false)
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("| top1 | stages.lt.factor=0.12 | stages.lt.factor=0.1 |"), table.stdout)
        let unknown = try cli.run(["compare", sweepFolder.path, "--group-by", "factor"], testStages: false)
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("--group-by: no run has the key 'factor'; did you mean "), unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("stages.lt.factor"), unknown.stderr)

        XCTAssertTrue(FileManager.default.fileExists(atPath: sweepFolder.appendingPathComponent("groups.json").path))
        let page = try String(contentsOf: sweepFolder.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("<h2>Over seeds</h2>"))
        XCTAssertTrue(page.contains("mean ± sd, every seed a dot"))
        XCTAssertEqual(page.components(separatedBy: "r=\"2.6\"").count - 1, 6 * 5 + 6 * 10, "a dot per seed per metric and per class")
        let runPage = try String(contentsOf: sweepFolder.appendingPathComponent("\(points[4])/report.html"), encoding: .utf8)
        XCTAssertTrue(runPage.contains("This run is seed 1 of 3 runs of the same setting"), runPage)

        let refused = try cli.run([smokeRecipe, "--seeds", "2", "seed=5"], testStages: false)
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("--seeds 2 sets the seed"), refused.stderr)
    }
}
