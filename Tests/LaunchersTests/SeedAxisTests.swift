import Foundation
@testable import Launchers
import PipelineDSL
import XCTest

/// Seeds as an axis of the grid: `seed=range(N)` and `--seeds N` expand into points whose seeds
/// vary fastest, and under Slurm every seed of every setting is an array task.
final class SeedAxisTests: XCTestCase {
    func testRangeAndSeedsExpandTheGrid() throws {
        let ranged = try Sweep.parse(["stages.loss.variant=rank,supcon", "seed=range(3)"])
        XCTAssertEqual(ranged.axes.map(\.values), [["rank", "supcon"], ["0", "1", "2"]])
        XCTAssertEqual(try Sweep.parse(["seed=range(2, 8, 3)"]).axes.first?.values, ["2", "5"])
        XCTAssertEqual(try Sweep.parse(["seed=range(1)"]).axes.first?.values, ["0"], "range() is an axis even with one value")

        var seeded = try Sweep.parse(["stages.loss.variant=rank,supcon", "stages.encoder.epochs=2"])
        try seeded.addSeeds(3)
        let labels = seeded.points.map { $0.assignments.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        XCTAssertEqual(labels, ["stages.loss.variant=rank,seed=0", "stages.loss.variant=rank,seed=1", "stages.loss.variant=rank,seed=2",
                                "stages.loss.variant=supcon,seed=0", "stages.loss.variant=supcon,seed=1", "stages.loss.variant=supcon,seed=2"])
        XCTAssertEqual(seeded.points[4].overrides.map(\.argument), ["stages.encoder.epochs=2", "stages.loss.variant=supcon", "seed=1"])

        for (arguments, message) in [(["seed=4"], "--seeds 2 sets the seed; drop the seed=… override, or drop --seeds"),
                                     (["seed=range(3)"], "--seeds 2 sets the seed; drop the seed=… override, or drop --seeds")] {
            var sweep = try Sweep.parse(arguments)
            XCTAssertThrowsError(try sweep.addSeeds(2)) { XCTAssertEqual(($0 as? UsageError)?.message, message) }
        }
        var none = try Sweep.parse([])
        XCTAssertThrowsError(try none.addSeeds(0)) { XCTAssertEqual(($0 as? UsageError)?.message, "--seeds 0: expected at least 1 seed") }
        XCTAssertThrowsError(try Sweep.parse(["seed=range(a)"])) {
            XCTAssertEqual(($0 as? UsageError)?.message, "'seed=range(a)': expected range(N), range(START, STOP) or range(START, STOP, STEP) with integers")
        }
        XCTAssertThrowsError(try Sweep.parse(["seed=range(0, 5, 0)"]))
    }

    func testSlurmRunsEverySeedAsAnArrayTask() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-seeds-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var sweep = try Sweep.parse(["stages.loss.variant=rank,supcon"])
        try sweep.addSeeds(5)
        let sweepFolder = SweepFolder(directory: folder.appendingPathComponent("sweep"), recipeName: "smoke", recipeFile: "recipes/smoke.yaml",
                                      sweep: sweep, launcher: "slurm", cache: folder.appendingPathComponent("cache"),
                                      runs: folder, workingDirectory: folder, threads: nil)
        XCTAssertTrue(sweepFolder.seedAxis)
        XCTAssertEqual(sweepFolder.settingAxes, ["stages.loss.variant"])
        XCTAssertEqual(sweepFolder.points.last?.folder, "9-stages.loss.variant=supcon,seed=4")
        let script = try SlurmJob(sweep: sweepFolder, options: try SlurmOptions(parsing: ""), executable: "/opt/sbcl-run").script
        XCTAssertTrue(script.contains("#SBATCH --array=0-9\n"), script)
        XCTAssertTrue(script.contains("over stages.loss.variant, seed: 10 grid points"), script)
    }
}
