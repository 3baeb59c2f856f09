import XCTest
import Foundation
import PipelineDSL
import Datasets
import TestSupport
@testable import Stages

/// A measurement, not a check: one epoch (with a re-clustering) of the first stage on real
/// Fashion-MNIST at imbalance 100. Minutes long, so it runs only with `SBCL_ENCODER_BENCH=1`.
final class EncoderSpeedTests: XCTestCase {
    func testFashionMNISTLongTailEpoch() throws {
        guard ProcessInfo.processInfo.environment["SBCL_ENCODER_BENCH"] == "1" else {
            throw XCTSkip("a minutes-long measurement; set SBCL_ENCODER_BENCH=1 (release build) to run it")
        }
        let spec = DatasetSpec(kind: .fashionMNIST, root: "/usr/share/datasets/fashion-mnist")
        guard case let .memory(full) = try DatasetCatalog.load(spec, train: true),
              case let .memory(test) = try DatasetCatalog.load(spec, train: false) else {
            return XCTFail("Fashion-MNIST should load into memory")
        }
        let selection = try LongTail.select(labels: full.labels, classCount: full.classCount, profile: .exp, factor: 0.01, seed: 0)
        let data = DataArtifact(train: full.subset(selection.indices), test: test, source: "fashion_mnist")
        let batch = Int(ProcessInfo.processInfo.environment["SBCL_ENCODER_BENCH_BATCH"] ?? "") ?? 128
        let plan = try planFirstStage(firstStageRecipe(clustering: "warmup_epochs: 0",
                                                       encoder: "depth: 32\nepochs: 1\nbatch_size: \(batch)\nlearning_rate: 0.1"))
        let folder = try temporaryFolder(self)
        let logURL = folder.appendingPathComponent("run.log")
        let started = Date()
        try EncoderStage.run(encoderContext(plan: plan, data: data, folder: folder, log: logURL))
        let seconds = Date().timeIntervalSince(started)
        print(try String(contentsOf: logURL, encoding: .utf8))
        print("fashion_mnist_lt: \(data.train.count) images, batch \(batch), one epoch with re-clustering: \(String(format: "%.1f", seconds)) s")
    }
}
