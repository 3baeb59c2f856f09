import Foundation
@testable import Launchers
import PipelineDSL
import XCTest

/// A point's state from its run folder and Slurm's word, and Slurm's listings parsed.
final class SweepStatusTests: XCTestCase {
    func testSqueueAndSacctListings() {
        let squeue = "77_0|COMPLETED\n77_1|RUNNING\n77_2|PENDING\n78_0|RUNNING\n"
        XCTAssertEqual(SlurmQueue.parse(squeue, job: "77"), [0: "COMPLETED", 1: "RUNNING", 2: "PENDING"])
        let sacct = "77_0|COMPLETED\n77_1|CANCELLED by 0\n77_[2-5]|PENDING\n77_0.batch|COMPLETED\n"
        XCTAssertEqual(SlurmQueue.parse(sacct, job: "77"), [0: "COMPLETED", 1: "CANCELLED"])
    }

    func testStateOfAPoint() {
        func state(_ run: String?, _ slurm: String?) -> SweepStatus.State { SweepStatus.state(runStatus: run, runFailure: nil, slurm: slurm).0 }
        XCTAssertEqual(state(nil, nil), .pending)
        XCTAssertEqual(state(nil, "PENDING"), .pending)
        XCTAssertEqual(state(nil, "RUNNING"), .running, "the task started and has not written its run folder yet")
        XCTAssertEqual(state("running", "RUNNING"), .running)
        XCTAssertEqual(state("running", nil), .running)
        XCTAssertEqual(state("complete", "COMPLETED"), .done)
        XCTAssertEqual(state("complete", nil), .done)
        XCTAssertEqual(state("failed", "FAILED"), .failed)
        XCTAssertEqual(state("running", "CANCELLED"), .failed, "killed mid-run")
        XCTAssertEqual(state(nil, "FAILED"), .failed, "died before the run folder")
        let (_, why) = SweepStatus.state(runStatus: "running", runFailure: nil, slurm: "TIMEOUT")
        XCTAssertEqual(why, "its Slurm task ended (TIMEOUT) before the run finished")
    }

    func testStatusReadsRunFoldersAndShowsTheComparisonOnlyWhenAllFinished() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-status-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var folder = SweepFolder(directory: root.appendingPathComponent("s"), recipeName: "r", recipeFile: "r.yaml",
                                 sweep: try Sweep.parse(["a.b=1,2"]), launcher: "slurm", cache: root, runs: root,
                                 workingDirectory: root, threads: nil)
        folder.jobID = "9"
        try folder.save()
        func writeRun(_ index: Int, status: String, top1: Double?) throws {
            let run = folder.runDirectory(folder.points[index])
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            try Data("{\"status\": \"\(status)\"}".utf8).write(to: run.appendingPathComponent("run.json"))
            if let top1 { try Data("{\"top1\": \(top1)}".utf8).write(to: run.appendingPathComponent("metrics.json")) }
        }
        try writeRun(0, status: "complete", top1: 41.5)
        var status = SweepStatus(folder: try SweepFolder(reading: folder.directory.path), slurmStates: [0: "COMPLETED", 1: "PENDING"])
        XCTAssertEqual(status.lines.map(\.state), [.done, .pending])
        XCTAssertFalse(status.isFinished)
        XCTAssertTrue(status.text.hasPrefix("sweep r (slurm, Slurm job 9): 2 points: 1 done, 0 failed, 0 running, 1 pending\n"), status.text)
        XCTAssertTrue(status.text.contains("the comparison appears here once every point has finished"), status.text)

        try writeRun(1, status: "complete", top1: 43.25)
        status = SweepStatus(folder: folder, slurmStates: nil)
        XCTAssertTrue(status.isFinished)
        XCTAssertTrue(status.text.contains("comparison:\na.b  top1     run\n"), status.text)
        XCTAssertTrue(status.text.contains("\n1    41.5000  "), status.text)
        XCTAssertTrue(status.text.contains("2    43.2500  "), status.text)
        XCTAssertEqual(status.json.mapValue?["finished"], .bool(true))
    }

    /// A seeded sweep whose Slurm task for one point died before its run folder: the point is
    /// grouped with its own setting as a seed that never started (not as a group of its own), and
    /// `--json` carries the groups' statistics.
    func testASeedThatNeverStartedStaysInItsSettingsGroup() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-status-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = SweepFolder(directory: root.appendingPathComponent("s"), recipeName: "r", recipeFile: "r.yaml",
                                 sweep: try Sweep.parse(["stages.loss.variant=rank,supcon", "seed=range(3)"]), launcher: "slurm",
                                 cache: root, runs: root, workingDirectory: root, threads: nil)
        try folder.save()
        let top1 = ["rank": [60.0, 62.0, 64.0], "supcon": [58.0, 59.0, 0]]
        for point in folder.points {
            let values = Dictionary(uniqueKeysWithValues: point.assignments.map { ($0.key, $0.value) })
            let variant = try XCTUnwrap(values["stages.loss.variant"]), seed = try XCTUnwrap(Int(try XCTUnwrap(values["seed"])))
            if variant == "supcon" && seed == 2 { continue }  // its task died before writing anything
            let run = folder.runDirectory(point)
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            let info = "{\"status\": \"complete\", \"parameters\": {\"stages.loss.variant\": \"\(variant)\", \"seed\": \(seed)}}"
            try Data(info.utf8).write(to: run.appendingPathComponent("run.json"))
            try Data("{\"top1\": \(top1[variant]![seed])}".utf8).write(to: run.appendingPathComponent("metrics.json"))
        }
        let status = SweepStatus(folder: folder, slurmStates: Dictionary(uniqueKeysWithValues: folder.points.map { ($0.index, "COMPLETED") }))
        XCTAssertTrue(status.isFinished)
        XCTAssertEqual(status.count(.failed), 1)
        XCTAssertFalse(status.text.contains("(absent)"), status.text)
        XCTAssertTrue(status.text.contains("never started"), status.text)
        let groups = try XCTUnwrap(status.json.mapValue?["groups"]?.mapValue?["groups"]?.listValue, "\(status.json)")
        XCTAssertEqual(groups.count, 2, "two settings, no third group for the seed that never ran: \(groups)")
        let supcon = try XCTUnwrap(groups.first { "\($0)".contains("supcon") }?.mapValue)
        XCTAssertEqual(supcon["n"]?.intValue, 2, "\(supcon)")
        XCTAssertTrue("\(supcon)".contains("never started"), "\(supcon)")
    }
}
