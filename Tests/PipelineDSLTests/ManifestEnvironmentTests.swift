import Foundation
import PipelineDSL
import XCTest

/// The `environment` a cache entry records: what it was computed with, kept in its
/// manifest, read back from old manifests without it, and never part of a hash.
final class ManifestEnvironmentTests: XCTestCase {
    private var folder: TemporaryFolder!
    private var cache: ArtifactCache!

    override func setUpWithError() throws {
        folder = try TemporaryFolder()
        cache = try ArtifactCache(root: folder.url.appendingPathComponent("cache"))
    }

    override func tearDown() { folder.remove() }

    private func run(_ plan: Plan, environment: [String: String]) throws -> RunSummary {
        let options = ExecutorOptions(runsDirectory: folder.url.appendingPathComponent("runs"), threads: 2, echo: false,
                                      environment: environment)
        return try Executor(registry: testRegistry(), cache: cache, options: options).run(plan)
    }

    private func manifest(_ hash: String, file: StaticString = #filePath, line: UInt = #line) throws -> Manifest {
        guard case .valid(let manifest) = cache.state(of: hash) else {
            XCTFail("no valid entry for \(hash)", file: file, line: line)
            throw RunError("no valid entry")
        }
        return manifest
    }

    private let avx2 = ["kernel_set": "avx2", "cpu": "Test CPU \"Q\" @ 2.50GHz", "threads": "2"]

    func testCommittedEntryKeepsItsEnvironment() throws {
        let plan = try plan(sampleRecipe)
        _ = try run(plan, environment: avx2)
        for stage in plan.stages {  // heavy and light stages alike
            XCTAssertEqual(try manifest(stage.hash).environment, avx2, stage.name)
        }
        let hash = plan.stage(named: "total")!.hash
        let text = try String(contentsOf: cache.entryDirectory(hash).appendingPathComponent("manifest.json"), encoding: .utf8)
        let written = try XCTUnwrap(ParamValue.parseJSON(text)?.mapValue?["environment"], text)
        XCTAssertEqual(written, .map(avx2.mapValues(ParamValue.string)), "written as a JSON object of strings")
    }

    func testManifestWithoutEnvironmentStillLoads() throws {
        let plan = try plan(sampleRecipe)
        _ = try run(plan, environment: avx2)
        let hash = plan.stage(named: "total")!.hash
        let url = cache.entryDirectory(hash).appendingPathComponent("manifest.json")
        // An entry written before the environment was recorded.
        guard case .map(var fields)? = ParamValue.parseJSON(try String(contentsOf: url, encoding: .utf8)) else {
            return XCTFail("manifest.json is not an object")
        }
        XCTAssertNotNil(fields.removeValue(forKey: "environment"))
        try Data(ParamValue.map(fields).prettyJSON().utf8).write(to: url)
        let old = try manifest(hash)
        XCTAssertEqual(old.environment, [:])
        XCTAssertEqual(old.metrics, ["top1": .float(14)])
        XCTAssertEqual(try run(plan, environment: avx2).outcomes.first { $0.stage == "total" }?.outcome, .cached,
                       "an old entry is reused, not recomputed")
        // Entries that are not strings are dropped rather than failing the manifest.
        fields["environment"] = .map(["kernel_set": .string("portable"), "threads": .int(4)])
        XCTAssertEqual(Manifest(.map(fields))?.environment, ["kernel_set": "portable"])
        XCTAssertEqual(Manifest(.map(fields))?.value.mapValue?["environment"], .map(["kernel_set": .string("portable")]))
    }

    func testEnvironmentIsInNoHash() throws {
        let plan = try plan(sampleRecipe)
        let first = try run(plan, environment: avx2)
        XCTAssertEqual(Set(first.outcomes.map(\.outcome)), [.ran])
        let portable = ["kernel_set": "portable", "cpu": "Another CPU", "threads": "16"]
        let second = try run(plan, environment: portable)
        XCTAssertEqual(second.outcomes.map(\.outcome), plan.stages.map { _ in .cached },
                       "entries computed on another CPU or with other kernels are reused")
        for stage in plan.stages {
            let manifest = try manifest(stage.hash)
            XCTAssertEqual(manifest.hash, stage.hash)
            XCTAssertEqual(manifest.environment, avx2, "a reused entry keeps what it was computed with")
        }
        try cache.discard(plan.stage(named: "total")!.hash)
        let third = try run(plan, environment: portable)
        XCTAssertEqual(third.outcomes.first { $0.stage == "total" }?.outcome, .ran)
        XCTAssertEqual(try manifest(plan.stage(named: "total")!.hash).environment, portable,
                       "recomputed under the same hash, with the new environment")
    }
}
