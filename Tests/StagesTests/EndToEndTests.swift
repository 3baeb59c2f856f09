import XCTest
import PipelineDSL
import TestSupport
@testable import Stages

/// The whole pipeline on real Fashion-MNIST (`recipes/smoke.yaml`: a small long-tailed subset):
/// data → imbalance → encoder → classifier → evaluation, then a second run served from the cache.
final class EndToEndTests: XCTestCase {
    func testSmokeRecipeRunsThenIsFullyCached() throws {
        #if DEBUG
        throw XCTSkip("trains a network for about a minute: run with `swift test -c release -Xswiftc -enable-testing`")
        #else
        let fashion = "/usr/share/datasets/fashion-mnist"
        guard FileManager.default.fileExists(atPath: fashion) else {
            throw XCTSkip("real Fashion-MNIST is not installed at \(fashion) (Debian package dataset-fashion-mnist)")
        }
        var registry = StageRegistry()
        Stages.registerAll(in: &registry)
        let url = RecipeTests.recipesFolder.appendingPathComponent("smoke.yaml")
        let recipe = try Planner.recipe(data: Data(contentsOf: url), file: url.path, overrides: [], registry: registry)
        let plan = try Planner.plan(recipe, registry: registry)
        let folder = try temporaryFolder(self)
        let cache = try ArtifactCache(root: folder.appendingPathComponent("cache"))
        let options = ExecutorOptions(runsDirectory: folder.appendingPathComponent("runs"), threads: 2, echo: false)
        let executor = Executor(registry: registry, cache: cache, options: options)

        let started = Date()
        let first = try executor.run(plan)
        let seconds = Date().timeIntervalSince(started)
        XCTAssertTrue(first.outcomes.allSatisfy { $0.outcome == .ran }, "\(first.outcomes)")
        XCTAssertEqual(Set(first.outcomes.map(\.stage)), Set(plan.stages.map(\.name)))
        let top1 = try XCTUnwrap(first.metrics["top1"]?.doubleValue)
        print(String(format: "smoke recipe: top-1 %.2f%% top-5 %.2f%% in %.1f s", top1, first.metrics["top5"]?.doubleValue ?? -1, seconds))
        XCTAssertGreaterThan(top1, 40, "10 classes: chance is 10%")
        let written = try JSONSerialization.jsonObject(with: Data(contentsOf: first.runDirectory.appendingPathComponent("metrics.json"))) as? [String: Any]
        for key in ["top1", "top5", "many", "medium", "per_class", "class_counts", "confusion"] {
            XCTAssertNotNil(written?[key], "metrics.json lacks \(key)")
        }

        let second = try executor.run(plan)
        XCTAssertTrue(second.outcomes.allSatisfy { $0.outcome == .cached }, "\(second.outcomes)")
        XCTAssertEqual(second.metrics["top1"], first.metrics["top1"])
        XCTAssertEqual(second.metrics["confusion"], first.metrics["confusion"])
        #endif
    }
}
