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
}
