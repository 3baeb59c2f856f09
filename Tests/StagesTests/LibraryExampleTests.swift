import XCTest
// Plain imports only: this file sees what a Swift user of the library sees (docs/library.md).
import PipelineDSL
import Stages

/// The example of docs/library.md, run: a recipe planned, run and read back through the public API.
final class LibraryExampleTests: XCTestCase {
    func testTheDocumentedExampleRunsARecipe() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-library-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let recipeFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("recipes/smoke.yaml")

        // --- the example (docs/library.md) ---
        var registry = StageRegistry()
        Stages.registerAll(in: &registry)
        let overrides = try ["stages.encoder.epochs=1", "stages.clusters.warmup_epochs=0", "stages.classifier.epochs=2", "stages.classifier.milestones=[1]",
                             "stages.data.per_class_limit=40", "stages.data.test_per_class_limit=10"].map(Override.parse)
        let recipe = try Planner.recipe(data: Data(contentsOf: recipeFile), file: recipeFile.path, overrides: overrides, registry: registry)
        let plan = try Planner.plan(recipe, registry: registry)
        let cache = try ArtifactCache(root: work.appendingPathComponent("cache"))
        let executor = Executor(registry: registry, cache: cache,
                                options: ExecutorOptions(runsDirectory: work.appendingPathComponent("runs"), device: "cpu", threads: 2, echo: false))
        let summary = try executor.run(plan)
        let top1 = summary.metrics["top1"]?.doubleValue
        // --- end of the example ---

        let accuracy = try XCTUnwrap(top1)
        XCTAssert((0...100).contains(accuracy), "top1 \(accuracy)")
        XCTAssertEqual(summary.outcomes.map(\.outcome), Array(repeating: .ran, count: plan.stages.count))
        XCTAssertTrue(FileManager.default.fileExists(atPath: summary.runDirectory.appendingPathComponent("metrics.json").path))
        // The same plan again: everything from the cache.
        XCTAssertEqual(try executor.run(plan).outcomes.map(\.outcome), Array(repeating: .cached, count: plan.stages.count))
    }
}
