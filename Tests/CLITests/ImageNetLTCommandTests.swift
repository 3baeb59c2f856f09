import Foundation
import XCTest

/// The CLI side of the ImageNet-LT pipeline (docs/imagenet_lt.md): `sample-data` writes a tree the ImageNet-LT recipes read, `plan`
/// shows the memory estimates, and a run that would not fit is refused before anything runs
/// (exit 2, the estimate and what to change).
final class ImageNetLTCommandTests: XCTestCase {
    private var cli: CLIHarness!

    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private func recipe(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("recipes/\(name)").path
    }

    func testSampleDataThenPlanShowsMemoryAndATooSmallMachineRefusesTheRun() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else {
            throw XCTSkip("real Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
        }
        let written = try cli.run(["sample-data", "imagenet_lt", "data/imagenet_lt_sample"], testStages: false)
        XCTAssertEqual(written.status, 0, written.stderr)
        XCTAssertTrue(written.stdout.contains("60, 46, 35, 27, 21, 16, 12, 10, 7, 6"), written.stdout)
        let again = try cli.run(["sample-data", "imagenet_lt", "data/imagenet_lt_sample"], testStages: false)
        XCTAssertEqual(again.status, 2, "a non-empty folder is never overwritten")

        let plan = try cli.run(["plan", recipe("imagenet_lt_smoke.yaml"), "--json"], testStages: false)
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        let stages = try XCTUnwrap(json["stages"] as? [[String: Any]])
        let encoder = try XCTUnwrap(stages.first { $0["name"] as? String == "encoder" })
        let memory = try XCTUnwrap(encoder["memory"] as? [String: Any])
        XCTAssertGreaterThan(try XCTUnwrap(memory["estimated_bytes"] as? Int), 100 << 20)

        let refused = try cli.start([recipe("imagenet_lt_smoke.yaml")], testStages: false, environment: ["SBCL_MEMORY_LIMIT": "200M"])
        refused.0.waitUntilExit()
        let result = try cli.collect(refused.0, refused.1, refused.2)
        XCTAssertEqual(result.status, 2, result.stderr)
        for part in ["stages.encoder", "needs an estimated", "200 MiB", "batch_size", "nothing was run"] {
            XCTAssertTrue(result.stderr.contains(part), "'\(part)' missing from: \(result.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: cli.folder.appendingPathComponent("runs").path), "a refused run leaves no run folder")
        let bad = try cli.start([recipe("imagenet_lt_smoke.yaml")], testStages: false, environment: ["SBCL_MEMORY_LIMIT": "lots"])
        bad.0.waitUntilExit()
        XCTAssertEqual(try cli.collect(bad.0, bad.1, bad.2).status, 2)
    }

    /// The MoCo encoder under `mpirun -np 2` (the authors train on 2 and 8 GPUs with
    /// DistributedDataParallel): each rank trains on half of every batch, the keys of both ranks
    /// reach the queue, rank 0 alone writes, and the number of ranks is in the encoder's hash
    /// (per-rank batch norm, as DDP).
    func testTheMoCoPipelineRunsOnTwoRanks() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else {
            throw XCTSkip("real Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
        }
        XCTAssertEqual(try cli.run(["sample-data", "imagenet_lt", "data/imagenet_lt_sample"], testStages: false).status, 0)
        let small = [recipe("imagenet_lt_smoke.yaml"), "stages.clusters.warmup_epochs=1", "stages.encoder.epochs=2",
                     "stages.classifier.epochs=3", "stages.classifier.milestones=[2]", "--threads", "1"]
        let run = try cli.runMPI(ranks: 2, small)
        XCTAssertEqual(run.status, 0, run.stderr)
        for line in ["data-parallel over 2 ranks: 16 images each per step", "epoch 2: re-clustered 10 classes", "[encoder] epoch 2/2"] {
            XCTAssertTrue(run.stderr.contains(line), "'\(line)' missing from: \(run.stderr)")
        }
        XCTAssertEqual(run.stdout.components(separatedBy: "run folder:").count, 2, "one rank prints the result: \(run.stdout)")
        let plan = try cli.run(["plan"] + small.dropLast(2) + ["--ranks", "2"], testStages: false)
        XCTAssertTrue(plan.stdout.contains("number of ranks is in the hash of encoder (2 ranks)"), plan.stdout)
        XCTAssertFalse(plan.stdout.contains("pending"), plan.stdout)
        let odd = try cli.runMPI(ranks: 2, small + ["stages.encoder.batch_size=31", "stages.encoder.queue_size=31"])
        XCTAssertEqual(odd.status, 1)
        XCTAssertTrue(odd.stderr.contains("does not split evenly over 2 ranks"), odd.stderr)
    }

    /// `predict` on a trained ImageNet-LT run's own test split gives the run's evaluation top-1
    /// exactly: the test views (Resize, CenterCrop) are decoded at full size on both sides, as
    /// torchvision's PIL loader decodes, even where the images would allow a DCT-reduced decode
    /// (the sample tree's 48 × 64 and 96 × 96 JPEGs at Resize(36): 6/8 and 3/8).
    func testPredictOnTheTestSplitGivesTheRunsEvaluation() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else {
            throw XCTSkip("real Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
        }
        XCTAssertEqual(try cli.run(["sample-data", "imagenet_lt", "data/imagenet_lt_sample"], testStages: false).status, 0)
        let run = try cli.run([recipe("imagenet_lt_smoke.yaml"), "stages.clusters.warmup_epochs=1", "stages.encoder.epochs=2",
                               "stages.classifier.epochs=3", "stages.classifier.milestones=[2]", "--json", "-q"], testStages: false)
        XCTAssertEqual(run.status, 0, run.stderr)
        let reply = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let folder = try XCTUnwrap(reply["run"] as? String)
        let top1 = try XCTUnwrap((reply["metrics"] as? [String: Any])?["top1"] as? Double)
        let json = cli.folder.appendingPathComponent("predictions.json")
        let split = cli.folder.appendingPathComponent("data/imagenet_lt_sample/test.txt")
        let predicted = try cli.run(["predict", folder, split.path, "--json", "-o", json.path], testStages: false)
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(report["images"] as? Int), 50)
        XCTAssertEqual(try XCTUnwrap(report["top1"] as? Double), top1, accuracy: 1e-9,
                       "predict's accuracy on the run's test split must be the run's evaluation")
    }
}
