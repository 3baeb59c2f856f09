import Engine
import Foundation
import XCTest

/// Data-parallel runs under `mpirun -np 2` (README, "Several processes and nodes"): synchronised batch norm reproduces one
/// process's gradients; re-clustering gathers the same projections and labels as one process; the
/// smoke recipe finishes with rank 0 alone writing; killing rank 1 ends the job, and the rerun
/// resumes to the very artifact an uninterrupted run makes. These need Open MPI's `mpirun`
/// (scripts/setup.sh test installs it) and fail, not skip, without it.
final class DataParallelTests: XCTestCase {
    private var cli: CLIHarness!

    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private var smokeRecipe: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("recipes/smoke.yaml").path
    }

    /// One step's gradients of a ResNet-20 on a batch of 16, written by `sbcl-bench step`.
    private func stepGradients(ranks: Int, extra: [String] = []) throws -> SafeTensorsFile {
        let file = cli.folder.appendingPathComponent("gradients-\(ranks)-\(extra.joined()).safetensors")
        let arguments = ["step", "--batch", "16", "--size", "16", "--depth", "20", "--threads", "1",
                         "--dump-gradients", file.path] + extra
        let bench = try CLIHarness.sibling("sbcl-bench")
        let result = ranks == 1 ? try cli.runProcess(bench, arguments) : try cli.runMPI(ranks: ranks, arguments, binary: bench)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try SafeTensors.read(contentsOf: file)
    }

    func testSyncBatchNormOnTwoRanksGivesOneProcessGradients() throws {
        let single = try stepGradients(ranks: 1)
        let synchronised = try stepGradients(ranks: 2, extra: ["--sync-batchnorm"])
        let perRank = try stepGradients(ranks: 2)
        XCTAssertEqual(synchronised.metadata["ranks"], "2")
        XCTAssertEqual(synchronised.metadata["loss"], single.metadata["loss"], "the global loss of the same batch")
        let synchronisedGap = try largestRelativeDifference(single, synchronised)
        XCTAssertLessThanOrEqual(synchronisedGap, 1e-5, "sync batch norm on 2 ranks against one process")
        // Per-rank batch norm is a different computation (DataParallel's): the test can tell them apart.
        XCTAssertGreaterThan(try largestRelativeDifference(single, perRank), 1e-2)
    }

    func testReclusteringOnTwoRanksMatchesOneProcess() throws {
        let bench = try CLIHarness.sibling("sbcl-bench")
        let arguments = ["recluster", "--depth", "20", "--threads", "1", "--json"]
        let single = try cli.runProcess(bench, arguments), parallel = try cli.runMPI(ranks: 2, arguments, binary: bench)
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertEqual(parallel.status, 0, parallel.stderr)
        func fields(_ text: String) throws -> [String: Any] {
            let lines = text.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "rank 0 alone prints: \(text)")
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        }
        let one = try fields(single.stdout), two = try fields(parallel.stdout)
        XCTAssertEqual(two["ranks"] as? Int, 2)
        XCTAssertEqual(one["projections_digest"] as? String, two["projections_digest"] as? String, "gathered projections, bit for bit")
        XCTAssertEqual(one["subclasses_digest"] as? String, two["subclasses_digest"] as? String, "the same subclass labels")
        XCTAssertGreaterThan(one["subclasses"] as? Int ?? 0, 10, "some class was split")
    }

    /// The files of every cache entry (but manifests and epoch histories, which hold timings).
    private func artifacts(in cache: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let objects = cache.appendingPathComponent("objects")
        for hash in try FileManager.default.contentsOfDirectory(atPath: objects.path) {
            let folder = objects.appendingPathComponent("\(hash)/files")
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name != "history.jsonl" {
                files["\(hash)/\(name)"] = try Data(contentsOf: folder.appendingPathComponent(name))
            }
        }
        return files
    }

    func testTwoRanksRunSmokeAndAKilledRankResumesBitIdentically() throws {
        // Uninterrupted, 2 ranks: the run finishes, rank 0 alone writes.
        let whole = try cli.runMPI(ranks: 2, [smokeRecipe, "--threads", "1"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertTrue(whole.stderr.contains("data-parallel over 2 ranks (per-rank batch norm)"), whole.stderr)
        XCTAssertFalse(whole.stderr.contains("rank 1"), "rank 1 prints nothing: \(whole.stderr)")
        XCTAssertEqual(whole.stdout.components(separatedBy: "run folder:").count, 2, "one rank prints the result: \(whole.stdout)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: cli.folder.appendingPathComponent("runs").path)
        XCTAssertEqual(runs.count, 1, "one run folder (rank 0's): \(runs)")
        let log = try String(contentsOf: cli.folder.appendingPathComponent("runs/\(runs[0])/log.txt"), encoding: .utf8)
        XCTAssertEqual(log.components(separatedBy: "[encoder] epoch 4/4").count, 2, "each epoch logged once: \(log)")
        let reference = try artifacts(in: cli.cacheDirectory)
        let history = try XCTUnwrap(reference.isEmpty ? nil : cli.cacheDirectory.appendingPathComponent("objects"))
        let encoderHistory = try FileManager.default.contentsOfDirectory(atPath: history.path).compactMap { hash -> String? in
            let url = history.appendingPathComponent("\(hash)/files/history.jsonl")
            guard let text = try? String(contentsOf: url, encoding: .utf8), text.contains("\"stage\":\"encoder\"") else { return nil }
            return text
        }.first
        XCTAssertEqual(encoderHistory?.components(separatedBy: "\"event\":\"epoch\"").count, 5, "4 epoch records, written once")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cli.cacheDirectory.appendingPathComponent("tmp").path), [])
        // The encoder's hash holds N (per-rank batch norm): plan --ranks 2 shows the entry cached.
        let plan = try cli.run([ "plan", smokeRecipe, "--ranks", "2"], testStages: false)
        XCTAssertTrue(plan.stdout.contains("number of ranks is in the hash of encoder (2 ranks)"), plan.stdout)
        XCTAssertFalse(plan.stdout.contains("pending"), plan.stdout)
        XCTAssertTrue(try cli.run(["plan", smokeRecipe], testStages: false).stdout.contains("pending"), "one process: another encoder")

        // Killed: rank 1 gets SIGKILL after the encoder's first checkpoint; the job ends at once.
        let second = try CLIHarness()
        defer { second.remove() }
        let tag = UUID().uuidString
        let started = Date()
        let (process, out, err) = try second.startMPI(ranks: 2, [smokeRecipe, "--threads", "1"], tag: tag)
        let checkpoints = second.cacheDirectory.appendingPathComponent("checkpoints")
        var killedAt: Date?
        while process.isRunning, Date().timeIntervalSince(started) < 120 {
            let found = ((try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []).contains { hash in
                FileManager.default.fileExists(atPath: checkpoints.appendingPathComponent("\(hash)/encoder-checkpoint.safetensors").path)
            }
            if found, let pid = CLIHarness.rankProcesses(tag: tag, rank: 1).first {
                kill(pid, SIGKILL)
                killedAt = Date()
                break
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.waitUntilExit()
        let killed = try second.collect(process, out, err)
        let stopped = try XCTUnwrap(killedAt, "rank 1 was never killed: \(killed.stderr)")
        XCTAssertNotEqual(killed.status, 0, "the job fails when a rank dies")
        XCTAssertLessThan(Date().timeIntervalSince(stopped), 15, "the job ends within seconds of the kill")
        XCTAssertTrue(CLIHarness.rankProcesses(tag: tag, rank: 0).isEmpty, "rank 0 is gone too")
        let entries = try artifacts(in: second.cacheDirectory)
        XCTAssertFalse(entries.keys.contains { $0.hasSuffix("encoder.safetensors") }, "no encoder entry from the killed job")

        // The rerun resumes and ends with the uninterrupted run's artifacts, byte for byte.
        let resumed = try second.runMPI(ranks: 2, [smokeRecipe, "--threads", "1"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("[encoder] resuming after epoch"), resumed.stderr)
        let again = try artifacts(in: second.cacheDirectory)
        XCTAssertEqual(again.keys.sorted(), reference.keys.sorted(), "the same entries under the same hashes")
        for key in reference.keys.sorted() { XCTAssert(again[key] == reference[key], "\(key) differs after the resume") }

    }

    func testClassifierOnTwoRanksTrainsTheOneProcessHead() throws {
        // sync_batchnorm keeps the single-process hashes, so 2 ranks reuse the encoder one process
        // trained; the classifier (augmented views through the frozen encoder) is then recomputed on 2 ranks.
        let arguments = [smokeRecipe, "--threads", "1", "stages.encoder.epochs=1", "stages.clusters.warmup_epochs=0", "stages.encoder.sync_batchnorm=true",
                         "stages.classifier.augment=true", "stages.classifier.epochs=2"]
        let single = try cli.run(arguments + ["-q"], testStages: false)
        XCTAssertEqual(single.status, 0, single.stderr)
        let plan = try cli.run(["plan"] + arguments + ["--json"], testStages: false)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        let stages = try XCTUnwrap(json["stages"] as? [[String: Any]])
        let hash = try XCTUnwrap(stages.first { $0["name"] as? String == "classifier" }?["hash"] as? String)
        let entry = cli.cacheDirectory.appendingPathComponent("objects/\(hash)")
        let head = entry.appendingPathComponent("files/classifier.safetensors")
        let one = try SafeTensors.read(contentsOf: head)
        try FileManager.default.removeItem(at: entry)
        let parallel = try cli.runMPI(ranks: 2, arguments)
        XCTAssertEqual(parallel.status, 0, parallel.stderr)
        XCTAssertTrue(parallel.stderr.contains("[encoder] cached"), parallel.stderr)
        XCTAssertTrue(parallel.stderr.contains("[classifier] running classifier"), parallel.stderr)
        XCTAssertLessThanOrEqual(try largestRelativeDifference(one, SafeTensors.read(contentsOf: head)), 1e-5,
                                 "the same head up to rounding")
    }

    func testACheckpointResumesOnlyWithItsNumberOfRanks() throws {
        // With sync_batchnorm N is not in the hash, so one process finds the 2-rank checkpoint.
        let stop = ["SBCL_ENCODER_STOP_AFTER_EPOCH": "1"]
        let arguments = [smokeRecipe, "--threads", "1", "stages.encoder.sync_batchnorm=true"]
        let stopped = try cli.runMPI(ranks: 2, arguments, environment: stop)
        XCTAssertNotEqual(stopped.status, 0)
        XCTAssertTrue(stopped.stderr.contains("stopped after epoch 1 as asked"), stopped.stderr)
        let (process, out, err) = try cli.start(arguments, testStages: false)
        process.waitUntilExit()
        let single = try cli.collect(process, out, err)
        XCTAssertEqual(single.status, 1, single.stderr)
        XCTAssertTrue(single.stderr.contains("was written by a run on 2 ranks; resume it with 2 (this run has 1)"), single.stderr)
        // The same number of ranks resumes it.
        let resumed = try cli.runMPI(ranks: 2, arguments)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("[encoder] resuming after epoch 1"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("data-parallel over 2 ranks (synchronised batch norm)"), resumed.stderr)
    }
}
