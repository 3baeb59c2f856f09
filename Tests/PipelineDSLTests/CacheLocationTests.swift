import Foundation
import PipelineDSL
import XCTest

final class CacheLocationTests: XCTestCase {
    func testOptionThenEnvironmentThenDefault() {
        let cwd = URL(fileURLWithPath: "/work/project")
        XCTAssertEqual(ArtifactCache.location(option: "c1", configured: "/env", workingDirectory: cwd).path, "/work/project/c1")
        XCTAssertEqual(ArtifactCache.location(option: nil, configured: "/env", workingDirectory: cwd).path, "/env")
        XCTAssertEqual(ArtifactCache.location(option: nil, configured: nil, workingDirectory: cwd).path, "/work/project/.sbcl/cache")
        XCTAssertEqual(ArtifactCache.location(option: "/abs", configured: nil, workingDirectory: cwd).path, "/abs")
    }

    func testGarbageCollectionByAge() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cache = try ArtifactCache(root: folder.url.appendingPathComponent("cache"))
        let plan = try plan(sampleRecipe)
        _ = try Executor(registry: testRegistry(), cache: cache,
                         options: ExecutorOptions(runsDirectory: folder.url.appendingPathComponent("runs"), threads: 1, echo: false)).run(plan)
        try FileManager.default.createDirectory(at: cache.root.appendingPathComponent("tmp/\(plan.stages[0].hash).1.dead/files"),
                                                withIntermediateDirectories: true)
        let kept = try cache.collectGarbage(olderThan: 3600)
        XCTAssertEqual(kept.expired, [])
        XCTAssertEqual(kept.temporaries, 1)
        XCTAssertEqual(cache.list().count, 5)
        let report = try cache.collectGarbage(olderThan: 3600, now: Date().addingTimeInterval(7200))
        XCTAssertEqual(Set(report.expired), Set(plan.stages.map(\.hash)))
        XCTAssertEqual(cache.list().count, 0)
    }
}
