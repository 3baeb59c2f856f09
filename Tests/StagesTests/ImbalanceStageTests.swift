import Foundation
import XCTest
import PipelineDSL
import Datasets
import Engine
@testable import Stages

/// The `imbalance` stage after a `dataset` stage, through the planner and executor: the selected
/// subset against numpy's selection, the class counts, the files and the recorded metric.
final class ImbalanceStageTests: XCTestCase {
    private var harness: DataStageHarness!

    override func setUpWithError() throws { harness = try DataStageHarness() }
    override func tearDown() { harness.remove() }

    private func recipe(root: String? = nil, source: String = "fashion_mnist", limit: Int, extra: String = "") -> String {
        """
        name: lt
        seed: 5
        stages:
          data:
            kind: dataset
            source: \(source)
        \(root.map { "    root: \($0)" } ?? "")
            per_class_limit: \(limit)
            test_per_class_limit: 3
          lt:
            kind: imbalance
            inputs: [data]
        \(extra)
        """
    }

    /// Real Fashion-MNIST, the first 100 images of each class, `exp` at factor 0.01, seed 0.
    /// The expected indices come from numpy: `RandomState(0)`, per class `np.where(y == c)[0]`
    /// shuffled in place, the first n_c kept (y = labels of the 1000-image subset).
    func testExpProfileOnRealFashionMNISTMatchesNumpy() throws {
        guard FileManager.default.fileExists(atPath: IDXReader.defaultFashionMNISTRoot + "/train-labels-idx1-ubyte.gz") else {
            throw XCTSkip("Fashion-MNIST is not installed at \(IDXReader.defaultFashionMNISTRoot) (Debian package dataset-fashion-mnist)")
        }
        let text = recipe(limit: 100, extra: "    factor: 0.01")
        let plan = try harness.plan(text)
        let summary = try harness.run(plan)
        XCTAssertEqual(summary.outcomes.map(\.outcome), [.ran, .ran])

        let expectedCounts = [100, 59, 35, 21, 12, 7, 4, 2, 1, 1]  // int(100 · 0.01^(c/9))
        XCTAssertEqual(LongTail.classCounts(total: 1000, classCount: 10, profile: .exp, factor: 0.01), expectedCounts)
        let source = try DataArtifact.read(from: harness.files(plan, "data"))
        let artifact = try DataArtifact.read(from: harness.files(plan, "lt"))
        XCTAssertEqual(artifact.classCounts, expectedCounts)
        XCTAssertEqual(artifact.test, source.test, "the test split is unchanged")
        XCTAssertEqual(artifact.source, "fashion_mnist")

        let indices = try NPY.read(contentsOf: harness.files(plan, "lt").appendingPathComponent(ImbalanceStage.indicesFile))
        XCTAssertEqual(indices.dtype, .int64)
        let selected = try indices.int64s().map(Int.init)
        XCTAssertEqual(selected.count, 242)
        XCTAssertEqual(Array(selected.prefix(5)), [219, 823, 4, 522, 732], "numpy's first picks of class 0")
        XCTAssertEqual(Array(selected.suffix(4)), [890, 46, 57, 953], "numpy's picks of classes 7, 8, 9")
        XCTAssertEqual(artifact.train, source.train.subset(selected), "the training images are the selected ones, in order")

        let countsText = try String(contentsOf: harness.files(plan, "lt").appendingPathComponent(ImbalanceStage.classCountsFile), encoding: .utf8)
        XCTAssertTrue(countsText.contains("\"class_names\" : [\n    \"T-shirt/top\""), countsText)
        let counts = try ImbalanceStage.readClassCounts(from: harness.files(plan, "lt"))
        XCTAssertEqual(counts, ImbalanceStage.ClassCounts(counts: expectedCounts, classNames: IDXReader.fashionMNISTClasses,
                                                          profile: "exp", factor: 0.01, seed: 0))
        let metrics = try String(contentsOf: summary.runDirectory.appendingPathComponent("metrics.json"), encoding: .utf8)
        XCTAssertEqual(ParamValue.parseJSON(metrics)?.mapValue?["class_counts"], .list(expectedCounts.map { .int($0) }),
                       "metrics.json reports the long-tailed counts, not the dataset's")
        let log = try String(contentsOf: summary.runDirectory.appendingPathComponent("log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains("[lt] exp profile, factor 0.01, seed 0: kept 242 of 1000 training images, 100 to 1 per class (ratio 100.0)"), log)

        let again = try harness.run(harness.plan(text))
        XCTAssertEqual(again.outcomes.map(\.outcome), [.cached, .cached])
        XCTAssertEqual(again.metrics["class_counts"], summary.metrics["class_counts"])
    }

    func testStepProfileSeedAndHashes() throws {
        let root = harness.folder.appendingPathComponent("idx")
        try DataStageHarness.writeSmallIDX(to: root, train: 100, test: 20)
        let step = recipe(root: root.path, source: "mnist", limit: 0, extra: "    profile: step\n    factor: 0.2\n    seed: 11")
        let plan = try harness.plan(step)
        _ = try harness.run(plan)
        let artifact = try DataArtifact.read(from: harness.files(plan, "lt"))
        XCTAssertEqual(artifact.classCounts, [10, 10, 10, 10, 10, 2, 2, 2, 2, 2])
        let expected = try LongTail.select(labels: (0..<100).map { Int32($0 % 10) }, classCount: 10, profile: .step, factor: 0.2, seed: 11)
        let indices = try NPY.read(contentsOf: harness.files(plan, "lt").appendingPathComponent(ImbalanceStage.indicesFile))
        XCTAssertEqual(try indices.int64s().map(Int.init), expected.indices)

        let otherSeed = recipe(root: root.path, source: "mnist", limit: 0, extra: "    profile: step\n    factor: 0.2\n    seed: 12")
        let otherPlan = try harness.plan(otherSeed)
        XCTAssertEqual(otherPlan.stage(named: "data")!.hash, plan.stage(named: "data")!.hash)
        XCTAssertNotEqual(otherPlan.stage(named: "lt")!.hash, plan.stage(named: "lt")!.hash, "the seed is part of the hash")
        let recipeSeedChanged = step.replacingOccurrences(of: "seed: 5", with: "seed: 6")
        XCTAssertEqual(try harness.plan(recipeSeedChanged).stage(named: "lt")!.hash, plan.stage(named: "lt")!.hash,
                       "the recipe's run seed does not enter: the selection has its own seed")
    }

    func testBadParametersAndInputsAreRecipeErrors() throws {
        let root = harness.folder.appendingPathComponent("idx")
        try DataStageHarness.writeSmallIDX(to: root)
        let zero = harness.diagnostics(recipe(root: root.path, source: "mnist", limit: 0, extra: "    factor: 0"))
        XCTAssertEqual(zero.count, 1, "\(zero)")
        XCTAssertTrue(zero.first?.contains("stages.lt.factor") ?? false, "\(zero)")
        XCTAssertTrue(zero.first?.contains("in (0, 1]") ?? false, "\(zero)")
        let profile = harness.diagnostics(recipe(root: root.path, source: "mnist", limit: 0, extra: "    profile: expo"))
        XCTAssertTrue(profile.first?.contains("exp, step, none") ?? false, "\(profile)")
        let noInput = harness.diagnostics("""
            name: bad
            seed: 0
            stages:
              lt:
                kind: imbalance
            """)
        XCTAssertTrue(noInput.first?.contains("stages.lt") ?? false, "\(noInput)")
    }
}
