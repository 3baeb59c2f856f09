import XCTest
import PipelineDSL
import Datasets
import TestSupport
@testable import Stages

/// The ImageNet-LT pipeline (the authors' moco/ code) on a small ImageNet-LT-layout folder of real
/// images (Fashion-MNIST written as JPEG and PNG files of several sizes, some gray; a long-tailed
/// training split): `recipes/imagenet_lt_smoke.yaml` end to end, then from the cache; a damaged
/// image stops the run naming the file; a missing one is a plan error naming file and line.
final class ImageNetLTPipelineTests: XCTestCase {
    private var registry: StageRegistry {
        var registry = StageRegistry()
        Stages.registerAll(in: &registry)
        return registry
    }

    /// The smoke recipe pointed at a sample tree under `folder`, with `overrides`.
    private func smokePlan(_ splits: SampleImageTree.Splits, _ overrides: [String] = []) throws -> Plan {
        let url = RecipeTests.recipesFolder.appendingPathComponent("imagenet_lt_smoke.yaml")
        let all = ["stages.data.root=\(splits.root)", "stages.data.train_split=\(splits.train)", "stages.data.test_split=\(splits.test)"] + overrides
        let recipe = try Planner.recipe(data: Data(contentsOf: url), file: url.path, overrides: all.map { try Override.parse($0) }, registry: registry)
        return try Planner.plan(recipe, registry: registry)
    }

    private func executor(_ folder: URL) throws -> (Executor, ArtifactCache) {
        let cache = try ArtifactCache(root: folder.appendingPathComponent("cache"))
        let options = ExecutorOptions(runsDirectory: folder.appendingPathComponent("runs"), threads: 2, echo: false)
        return (Executor(registry: registry, cache: cache, options: options), cache)
    }

    private func requireFashionMNIST() throws {
        guard FileManager.default.fileExists(atPath: IDXReader.defaultFashionMNISTRoot) else {
            throw XCTSkip("real Fashion-MNIST is not installed at \(IDXReader.defaultFashionMNISTRoot) (Debian package dataset-fashion-mnist)")
        }
    }

    func testSmokeRecipeRunsOnRealImageFilesThenIsFullyCached() throws {
        #if DEBUG
        throw XCTSkip("trains a MoCo ResNet-18 for about a minute: run with `swift test -c release -Xswiftc -enable-testing`")
        #else
        try requireFashionMNIST()
        let folder = try temporaryFolder(self)
        let splits = try SampleImageTree.writeImageNetLT(to: folder.appendingPathComponent("data").path)
        XCTAssertEqual(splits.trainCounts, [60, 46, 35, 27, 21, 16, 12, 10, 7, 6])
        let plan = try smokePlan(splits)
        let (executor, cache) = try executor(folder)
        let started = Date()
        let first = try executor.run(plan)
        XCTAssertTrue(first.outcomes.allSatisfy { $0.outcome == .ran }, "\(first.outcomes)")
        let top1 = try XCTUnwrap(first.metrics["top1"]?.doubleValue)
        print(String(format: "imagenet_lt_smoke: top-1 %.2f%% top-5 %.2f%% in %.1f s", top1,
                     first.metrics["top5"]?.doubleValue ?? -1, Date().timeIntervalSince(started)))
        XCTAssertGreaterThan(top1, 22, "10 classes: chance is 10%")
        let log = try String(contentsOf: first.runDirectory.appendingPathComponent("log.txt"), encoding: .utf8)
        for line in ["training MoCo v2 resnet18", "(KCL)", "epoch 3: re-clustered 10 classes", "epoch 4: re-clustered", "cb: linear head on 512-d features"] {
            XCTAssertTrue(log.contains(line), "the log lacks '\(line)'")
        }
        // The encoder's artifact: the MoCo state dict and a torchvision backbone.
        let encoder = try XCTUnwrap(plan.stage(named: "encoder"))
        let files = try FileManager.default.subpathsOfDirectory(atPath: cache.filesDirectory(encoder.hash).path)
        XCTAssertTrue(files.contains { $0.hasSuffix(EncoderArtifact.backboneFile) } && files.contains { $0.hasSuffix(EncoderArtifact.weightsFile) }, "\(files)")

        let second = try executor.run(plan)
        XCTAssertTrue(second.outcomes.allSatisfy { $0.outcome == .cached }, "\(second.outcomes)")
        XCTAssertEqual(second.metrics["top1"], first.metrics["top1"])

        // The other second stage of linear_classify.py, LDAM-DRW on the normed linear layer, on the
        // same cached encoder.
        let ldam = try smokePlan(splits, ["stages.classifier.method=ldam_drw", "stages.classifier.epochs=6",
                                          "stages.classifier.milestones=[4]", "stages.classifier.learning_rate=0.1"])
        let third = try executor.run(ldam)
        XCTAssertEqual(third.outcomes.first { $0.stage == "encoder" }?.outcome, .cached)
        XCTAssertEqual(third.outcomes.first { $0.stage == "classifier" }?.outcome, .ran)
        let ldamTop1 = try XCTUnwrap(third.metrics["top1"]?.doubleValue)
        print(String(format: "imagenet_lt_smoke with ldam_drw: top-1 %.2f%%", ldamTop1))
        XCTAssertGreaterThan(ldamTop1, 15, "10 classes: chance is 10%")
        #endif
    }

    /// The `kcl` variant (the KCL baseline): KCL in every epoch, no re-clustering, whatever the
    /// clustering stage's warm-up; the run goes on to the classifier and the evaluation.
    func testTheKCLVariantTrainsKCLInEveryEpoch() throws {
        #if DEBUG
        throw XCTSkip("trains a MoCo ResNet-18: run with `swift test -c release -Xswiftc -enable-testing`")
        #else
        try requireFashionMNIST()
        let folder = try temporaryFolder(self)
        let splits = try SampleImageTree.writeImageNetLT(to: folder.appendingPathComponent("data").path, classes: 3,
                                                         largest: 16, smallest: 8, testPerClass: 2)
        let plan = try smokePlan(splits, ["stages.loss.variant=kcl", "stages.encoder.epochs=3", "stages.clusters.warmup_epochs=1",
                                          "stages.encoder.batch_size=8", "stages.encoder.queue_size=16", "stages.classifier.epochs=1"])
        let (executor, _) = try executor(folder)
        let summary = try executor.run(plan)
        XCTAssertNotNil(summary.metrics["top1"]?.doubleValue)
        let log = try String(contentsOf: summary.runDirectory.appendingPathComponent("log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains("3 epochs (KCL throughout)"), log)
        XCTAssertFalse(log.contains("re-clustered"), "a KCL run re-clustered: \(log)")
        XCTAssertEqual(log.components(separatedBy: "(KCL)").count - 1, 3, "every epoch is a KCL epoch: \(log)")
        #endif
    }

    func testADamagedImageStopsTheRunNamingTheFileAndCachesNothing() throws {
        try requireFashionMNIST()
        let folder = try temporaryFolder(self)
        let splits = try SampleImageTree.writeImageNetLT(to: folder.appendingPathComponent("data").path, classes: 3,
                                                         largest: 8, smallest: 4, testPerClass: 2)
        let lines = try String(contentsOfFile: splits.train, encoding: .utf8).split(separator: "\n")
        let victim = splits.root + "/" + String(try XCTUnwrap(lines.first { $0.contains(".JPEG") }).split(separator: " ")[0])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        // Cut into the header: the plan reads every image's header (to hash it) and stops there.
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: victim))
        let overrides = ["stages.encoder.epochs=1", "stages.clusters.warmup_epochs=0", "stages.encoder.batch_size=8", "stages.encoder.queue_size=16"]
        XCTAssertThrowsError(try smokePlan(splits, overrides)) { error in
            XCTAssertTrue(error is RecipeError && "\(error)".contains(victim) && "\(error)".contains("\(splits.train):"), "\(error)")
        }
        // Cut into the image data, the header whole: the plan passes and the run stops at the image.
        try bytes.prefix(bytes.count - 16).write(to: URL(fileURLWithPath: victim))
        let plan = try smokePlan(splits, overrides)
        let (executor, cache) = try executor(folder)
        XCTAssertThrowsError(try executor.run(plan)) { error in
            XCTAssertTrue("\(error)".contains(victim), "the error does not name \(victim): \(error)")
        }
        let encoder = try XCTUnwrap(plan.stage(named: "encoder"))
        if case .valid = cache.state(of: encoder.hash) { XCTFail("a run that failed on a damaged image left a cache entry") }
    }

    func testAMissingImageIsAPlanErrorNamingTheSplitFileAndLine() throws {
        try requireFashionMNIST()
        let folder = try temporaryFolder(self)
        let splits = try SampleImageTree.writeImageNetLT(to: folder.appendingPathComponent("data").path, classes: 2,
                                                         largest: 4, smallest: 3, testPerClass: 1)
        let lines = try String(contentsOfFile: splits.train, encoding: .utf8).split(separator: "\n")
        let missing = splits.root + "/" + String(lines[2].split(separator: " ")[0])
        try FileManager.default.removeItem(atPath: missing)
        XCTAssertThrowsError(try smokePlan(splits)) { error in
            guard let error = error as? RecipeError else { return XCTFail("expected a RecipeError, got \(error)") }
            let text = "\(error)"
            XCTAssertTrue(text.contains("\(splits.train):3") && text.contains(missing), text)
            XCTAssertEqual(error.diagnostics.map(\.keyPath), ["stages.data"], text)
        }
    }
}
