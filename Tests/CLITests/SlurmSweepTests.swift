import Foundation
import XCTest

/// `--launcher slurm` and `sbcl-run sweep status`: the mistakes a user can make, without Slurm;
/// then a real sweep on a one-node Slurm started by `scripts/slurm/local-cluster.sh`.
final class SlurmSweepTests: XCTestCase {
    private var cli: CLIHarness!
    private let recipe = """
        name: tiny
        stages:
          slow: {kind: test_counter, steps: 20, step_seconds: 0.05}
          a: {kind: test_source, value: 3}
          total: {kind: test_sum, inputs: [slow, a]}
        """

    override func setUpWithError() throws {
        cli = try CLIHarness()
        try cli.write("r.yaml", recipe)
    }

    override func tearDown() { cli.remove() }

    private func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CLIResult {
        let (process, out, err) = try cli.start(arguments, environment: environment)
        process.waitUntilExit()
        return try cli.collect(process, out, err)
    }

    private var sweepFolders: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cli.folder.appendingPathComponent("runs").path)) ?? [])
            .filter { $0.contains("-multirun-") }
    }

    func testMistakesEndInAMessageAndAnExitStatus() throws {
        let cases: [([String], Int32, String)] = [
            (["r.yaml", "--launcher", "slurm"], 2, "--launcher slurm submits a sweep; add -m"),
            (["r.yaml", "-m", "stages.a.value=1,2", "--slurm", "-p cpu"], 2, "--slurm gives sbatch options for --launcher slurm"),
            (["r.yaml", "-m", "stages.a.value=1,2", "--launcher", "pbs"], 2, "--launcher pbs: expected local or slurm"),
            (["r.yaml", "-m", "stages.a.value=1,2", "--launcher", "slurm", "--slurm", "--array=0-9"], 2, "--slurm: leave out --array"),
            (["r.yaml", "-m", "stages.a.value=1,2", "--launcher", "slurm", "--slurm", "--comment='x"], 2, "unbalanced quote"),
            (["sweep", "status", "."], 2, "is not a sweep folder (it has no sweep.json)"),
            (["sweep", "status"], 2, "expected 'sbcl-run sweep status SWEEP_DIR'"),
            (["sweep", "stats", "."], 2, "expected 'sweep status SWEEP_DIR' or 'sweep task SWEEP_DIR INDEX', found 'stats'"),
        ]
        for (arguments, status, message) in cases {
            let result = try run(arguments)
            XCTAssertEqual(result.status, status, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        XCTAssertEqual(sweepFolders, [], "nothing is left behind")
    }

    func testMissingOrRefusingSbatchLeavesNothingBehind() throws {
        let bin = cli.folder.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let missing = try run(["r.yaml", "-m", "stages.a.value=1,2", "--launcher", "slurm"], environment: ["PATH": bin.path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("error: sbatch not found on PATH: --launcher slurm needs Slurm's commands"), missing.stderr)

        let sbatch = bin.appendingPathComponent("sbatch")
        try Data("#!/bin/sh\necho 'sbatch: error: Invalid partition name specified' >&2\nexit 1\n".utf8).write(to: sbatch)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: sbatch.path)
        let refused = try run(["r.yaml", "-m", "stages.a.value=1,2", "--launcher", "slurm", "--slurm", "-p gpu"],
                              environment: ["PATH": bin.path])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("error: sbatch refused the job (exit status 1): sbatch: error: Invalid partition name"),
                      refused.stderr)
        XCTAssertEqual(sweepFolders, [])
    }

    func testStatusOfALocalSweep() throws {
        XCTAssertEqual(try run(["r.yaml", "-m", "stages.a.value=1,2", "-q"]).status, 0)
        let folder = try XCTUnwrap(sweepFolders.first)
        let status = try run(["sweep", "status", "runs/\(folder)"])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.hasPrefix("sweep tiny (local): 2 points: 2 done, 0 failed, 0 running, 0 pending\n"), status.stdout)
        XCTAssertTrue(status.stdout.contains("\ncomparison:\nstages.a.value  top1 "), status.stdout)
        let compare = try run(["compare", "runs/\(folder)"])
        XCTAssertEqual(compare.status, 0, compare.stderr)
        XCTAssertTrue(compare.stdout.contains("0-stages.a.value=1") && compare.stdout.contains("1-stages.a.value=2"),
                      "compare still reads a sweep folder as its points: \(compare.stdout)")
    }

    /// Two grid points as one job array on a real (one-node) Slurm; the shared stage is computed once.
    func testSweepOnARealSlurm() throws {
        let cluster = try LocalSlurm.start()
        defer { cluster.stop() }
        let environment = ["SLURM_CONF": cluster.configuration]
        let submitted = try run(["r.yaml", "-m", "stages.a.value=1,2", "--launcher", "slurm", "--slurm", "--time=5 --cpus-per-task=1"],
                                environment: environment)
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        print(submitted.stdout)
        XCTAssertTrue(submitted.stdout.hasPrefix("submitted Slurm job "), submitted.stdout)
        XCTAssertTrue(submitted.stdout.contains(": 2 array tasks, one per grid point\n"), submitted.stdout)
        let folder = try XCTUnwrap(submitted.stdout.split(separator: "\n").first { $0.hasPrefix("sweep folder: ") }?.dropFirst(14))
        XCTAssertTrue(submitted.stdout.contains("follow it:    sbcl-run sweep status \(folder)\n"), submitted.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(folder)/job.sbatch"))

        let deadline = Date().addingTimeInterval(120)
        var status = try run(["sweep", "status", String(folder)], environment: environment)
        // A point is done once its run folder is complete; Slurm reports the task COMPLETED a moment
        // later, when the process has exited, so wait for both.
        func finished(_ text: String) -> Bool {
            text.contains("comparison:") && text.components(separatedBy: "  COMPLETED  ").count - 1 == 2
        }
        while Date() < deadline, !finished(status.stdout) {
            Thread.sleep(forTimeInterval: 1)
            status = try run(["sweep", "status", String(folder)], environment: environment)
        }
        print(status.stdout)
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("2 points: 2 done, 0 failed, 0 running, 0 pending"), status.stdout)
        XCTAssertEqual(status.stdout.components(separatedBy: "  COMPLETED  ").count - 1, 2, status.stdout)
        let rows = status.stdout.components(separatedBy: "comparison:\n").last?.split(separator: "\n").dropFirst(2)
            .map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
        XCTAssertEqual(rows, ["1 21.0000", "2 22.0000"], status.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(folder)/comparison.txt"))
        let ran = cli.ranLines().map { $0.split(separator: " ")[1] }
        XCTAssertEqual(ran.filter { $0 == "slow" }.count, 1, "the shared stage is computed by one task, reused by the other")
        XCTAssertEqual(ran.filter { $0 == "total" }.count, 2)
    }
}

/// The one-node Slurm of `scripts/slurm/local-cluster.sh`, in a folder and on ports of its own.
struct LocalSlurm {
    let directory: String
    let configuration: String
    let script: String

    /// Starts it, or skips the test with the reason it cannot.
    static func start(file: String = #filePath) throws -> LocalSlurm {
        guard getuid() == 0 else { throw XCTSkip("a local Slurm needs root (slurmd starts jobs as their user); not root here") }
        let root = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-slurm-test").path
        let cluster = LocalSlurm(directory: directory, configuration: "\(directory)/etc/slurm.conf",
                                 script: root.appendingPathComponent("scripts/slurm/local-cluster.sh").path)
        let (status, output) = cluster.call("start")
        guard status == 0 else { throw XCTSkip("cannot start a local Slurm: \(output.trimmingCharacters(in: .whitespacesAndNewlines))") }
        return cluster
    }

    func stop() { _ = call("stop") }

    private func call(_ command: String) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, command]
        var environment = ProcessInfo.processInfo.environment
        environment["SBCL_SLURM_DIR"] = directory
        environment["SBCL_SLURM_PORT"] = "16837"
        process.environment = environment
        // A file, not a pipe: should a daemon keep the script's output open, reading a pipe to its end would never return.
        let log = URL(fileURLWithPath: directory + ".log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        guard let handle = try? FileHandle(forWritingTo: log) else { return (127, "cannot write \(log.path)") }
        process.standardOutput = handle
        process.standardError = handle
        do { try process.run() } catch { return (127, "cannot run \(script): \(error)") }
        process.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return (process.terminationStatus, output)
    }
}
