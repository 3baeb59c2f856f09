import Foundation
import XCTest
@testable import PipelineDSL

/// A stage metric that is NaN or infinite cannot be written as JSON: it is left out of the
/// manifest and `metrics.json`, the log names it, and the run completes (it used to trap).
final class NonFiniteMetricTests: XCTestCase {
    func testNaNAndInfiniteMetricsAreLeftOutAndNamed() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var registry = testRegistry()
        registry.register(StageKind(name: "measures", version: 1, summary: "records metrics", parameters: []) { context in
            context.recordMetrics(["top1": .float(.nan), "loss": .float(1e38), "per_class": .list([.float(1), .float(.infinity)])])
        })
        let plan = try Planner.plan(Planner.recipe(text: "name: r\nstages:\n  m: {kind: measures}\n", file: "r.yaml", registry: registry),
                                    registry: registry)
        let cache = try ArtifactCache(root: folder.url.appendingPathComponent("cache"))
        let run = folder.url.appendingPathComponent("run")
        let summary = try Executor(registry: registry, cache: cache,
                                   options: ExecutorOptions(runsDirectory: run, runDirectory: run, threads: 1, echo: false)).run(plan)
        XCTAssertEqual(summary.metrics, ["loss": .float(1e38)])
        let log = try String(contentsOf: run.appendingPathComponent("log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains("[m] metrics 'per_class', 'top1' not finite (NaN or infinite): left out of the metrics"), log)
        let metrics = try String(contentsOf: run.appendingPathComponent("metrics.json"), encoding: .utf8)
        XCTAssertEqual(ParamValue.parseJSON(metrics), .map(["loss": .float(1e38)]))
        XCTAssertEqual(try cache.verifyAll().count, 0)
    }
}
