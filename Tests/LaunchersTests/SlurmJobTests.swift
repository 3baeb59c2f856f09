import Foundation
@testable import Launchers
import PipelineDSL
import XCTest

/// The job script, the `--slurm` options and the submission, against a stand-in `sbatch`.
final class SlurmJobTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-launchers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    private func sweepFolder(threads: Int? = nil) throws -> SweepFolder {
        let sweep = try Sweep.parse(["stages.loss.temperature=0.1,0.2", "seed=3", "stages.classifier.epochs=5,10"])
        return SweepFolder(directory: folder.appendingPathComponent("my sweep"), recipeName: "smoke", recipeFile: "recipes/smoke.yaml",
                           sweep: sweep, launcher: "slurm", cache: folder.appendingPathComponent("cache"),
                           runs: folder, workingDirectory: folder, threads: threads)
    }

    /// An `sbatch` on a private PATH that records its arguments and answers with `reply`.
    private func fakeSbatch(status: Int32 = 0, reply: String) throws -> CommandRunner {
        let bin = folder.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let script = bin.appendingPathComponent("sbatch")
        try Data("#!/bin/sh\necho \"$@\" > \"\(folder.path)/sbatch-args\"\n\(reply)\nexit \(status)\n".utf8).write(to: script)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        return CommandRunner(path: bin.path)
    }

    func testOptionsAreSplitLikeAShell() throws {
        XCTAssertEqual(try SlurmOptions(parsing: "").words, [])
        XCTAssertEqual(try SlurmOptions(parsing: "  -p cpu --time=1:00:00 --comment='two words' --x=\"a b\" --y=c\\ d").words,
                       ["-p", "cpu", "--time=1:00:00", "--comment=two words", "--x=a b", "--y=c d"])
    }

    func testOptionsSbclRunOwnsAreRefused() {
        for text in ["--array=0-3", "-a 1", "--wrap 'echo'", "--parsable"] {
            XCTAssertThrowsError(try SlurmOptions(parsing: text), text) { error in
                XCTAssertTrue((error as? UsageError)?.message.hasPrefix("--slurm: leave out") == true, "\(error)")
            }
        }
        XCTAssertThrowsError(try SlurmOptions(parsing: "--comment='open")) { error in
            XCTAssertEqual((error as? UsageError)?.message, "--slurm \"--comment='open\": unbalanced quote or trailing backslash")
        }
        XCTAssertThrowsError(try SlurmOptions(parsing: "cpu --time=5")) { error in
            XCTAssertTrue((error as? UsageError)?.message.contains("found 'cpu'") == true, "\(error)")
        }
        XCTAssertThrowsError(try SlurmOptions(parsing: "--ntasks=two")) { error in
            XCTAssertEqual((error as? UsageError)?.message, "--slurm: --ntasks two: expected a whole number of at least 1")
        }
    }

    func testRanksPerPoint() throws {
        let cases: [(String, Int)] = [("", 1), ("-p cpu", 1), ("-n 2", 2), ("-n4", 4), ("--ntasks=3", 3), ("--ntasks 5", 5),
                                      ("--ntasks-per-node=2 --nodes=3", 6), ("--ntasks-per-node 2 -N 2-4", 4), ("-N 2", 1)]
        for (text, ranks) in cases { XCTAssertEqual(try SlurmOptions(parsing: text).ranksPerPoint, ranks, text) }
    }

    func testScriptRunsOneArrayTaskPerPoint() throws {
        let job = SlurmJob(sweep: try sweepFolder(), options: try SlurmOptions(parsing: "-p cpu"), executable: "/opt/sbcl/sbcl-run")
        let script = try job.script
        let directory = folder.appendingPathComponent("my sweep").path
        XCTAssertTrue(script.hasPrefix("#!/bin/bash\n"), script)
        XCTAssertTrue(script.contains("#SBATCH --array=0-3\n"), script)
        XCTAssertTrue(script.contains("#SBATCH --output=\(directory)/logs/point-%a.out\n"), script)
        XCTAssertTrue(script.contains("\n/opt/sbcl/sbcl-run sweep task '\(directory)' \"$SLURM_ARRAY_TASK_ID\"\n"), script)
        XCTAssertTrue(script.contains("over stages.loss.temperature, stages.classifier.epochs: 4 grid points"), script)
        XCTAssertFalse(script.contains("srun"), script)
    }

    func testMultiRankPointsRunUnderSrun() throws {
        let job = SlurmJob(sweep: try sweepFolder(threads: 2), options: try SlurmOptions(parsing: "--ntasks=2"), executable: "/x/sbcl-run")
        let script = try job.script
        XCTAssertTrue(script.contains("\nsrun /x/sbcl-run sweep task "), script)
        XCTAssertTrue(script.contains("\"$SLURM_ARRAY_TASK_ID\" --threads 2\n"), script)
        XCTAssertTrue(script.contains("2 ranks per task (srun)"), script)
    }

    func testSubmissionRecordsTheJob() throws {
        var job = SlurmJob(sweep: try sweepFolder(), options: try SlurmOptions(parsing: "--time=5 -p 'cpu nodes'"), executable: "/x/sbcl-run")
        let id = try job.submit(runner: try fakeSbatch(reply: "echo '4242;cluster'"))
        XCTAssertEqual(id, "4242")
        let args = try String(contentsOf: folder.appendingPathComponent("sbatch-args"), encoding: .utf8)
        XCTAssertEqual(args, "--parsable --time=5 -p cpu nodes \(folder.path)/my sweep/job.sbatch\n")
        let read = try SweepFolder(reading: folder.appendingPathComponent("my sweep").path)
        XCTAssertEqual(read.jobID, "4242")
        XCTAssertEqual(read.submitCommand.first, "sbatch")
        XCTAssertEqual(read.points.count, 4)
        XCTAssertEqual(read.points[3].folder, "3-stages.loss.temperature=0.2,stages.classifier.epochs=10")
        XCTAssertEqual(read.points[3].overrides, ["seed=3", "stages.loss.temperature=0.2", "stages.classifier.epochs=10"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("my sweep/logs").path))
    }

    func testSbatchRefusalIsReportedWithItsMessage() throws {
        var job = SlurmJob(sweep: try sweepFolder(), options: try SlurmOptions(parsing: "-p nowhere"), executable: "/x/sbcl-run")
        let runner = try fakeSbatch(status: 1, reply: "echo 'sbatch: error: invalid partition specified: nowhere' >&2")
        XCTAssertThrowsError(try job.submit(runner: runner)) { error in
            XCTAssertEqual((error as? RunError)?.message,
                           "sbatch refused the job (exit status 1): sbatch: error: invalid partition specified: nowhere")
        }
        XCTAssertThrowsError(try job.submit(runner: CommandRunner(path: folder.appendingPathComponent("empty").path))) { error in
            XCTAssertTrue((error as? RunError)?.message.hasPrefix("sbatch not found on PATH") == true, "\(error)")
        }
    }

    func testAFolderThatIsNotASweepIsAUsageError() throws {
        XCTAssertThrowsError(try SweepFolder(reading: folder.path)) { error in
            XCTAssertTrue((error as? UsageError)?.message.contains("is not a sweep folder (it has no sweep.json)") == true, "\(error)")
        }
        try Data("{\"recipe\": 3}".utf8).write(to: folder.appendingPathComponent("sweep.json"))
        XCTAssertThrowsError(try SweepFolder(reading: folder.path)) { error in
            XCTAssertTrue((error as? UsageError)?.message.hasSuffix("is damaged: it does not describe a sweep") == true, "\(error)")
        }
    }
}
