import Foundation
import PipelineDSL
import XCTest

/// Runs plans with the test kinds against a temporary cache.
final class ExecutorTests: XCTestCase {
    private var folder: TemporaryFolder!
    private var cache: ArtifactCache!

    override func setUpWithError() throws {
        folder = try TemporaryFolder()
        cache = try ArtifactCache(root: folder.url.appendingPathComponent("cache"))
    }

    override func tearDown() { folder.remove() }

    private func executor(_ registry: StageRegistry = testRegistry()) -> Executor {
        Executor(registry: registry, cache: cache,
                 options: ExecutorOptions(runsDirectory: folder.url.appendingPathComponent("runs"), threads: 2, echo: false))
    }

    private func value(_ hash: String) throws -> String {
        try String(contentsOf: cache.filesDirectory(hash).appendingPathComponent("value.txt"), encoding: .utf8)
    }

    func testRunWritesRunFolderAndCachesEveryStage() throws {
        let plan = try plan(sampleRecipe)
        let summary = try executor().run(plan)
        XCTAssertEqual(summary.outcomes.map(\.outcome), [.ran, .ran, .ran, .ran, .ran])
        XCTAssertEqual(try value(plan.stage(named: "total")!.hash), "14.0", "(2 + 5) × scale 2")
        XCTAssertEqual(summary.metrics["top1"], .float(5), "the last test_sum stage to run records top1")
        let files = try FileManager.default.contentsOfDirectory(atPath: summary.runDirectory.path).sorted()
        XCTAssertEqual(files, ["log.txt", "metrics.json", "plan.json", "recipe.yaml", "run.json"])
        let metrics = try String(contentsOf: summary.runDirectory.appendingPathComponent("metrics.json"), encoding: .utf8)
        XCTAssertEqual(ParamValue.parseJSON(metrics), .map(["top1": .float(5)]))
        let resolved = try String(contentsOf: summary.runDirectory.appendingPathComponent("recipe.yaml"), encoding: .utf8)
        XCTAssertEqual(try Planner.plan(Planner.recipe(text: resolved, file: "r", registry: testRegistry()), registry: testRegistry())
            .stages.map(\.hash), plan.stages.map(\.hash))
        let log = try String(contentsOf: summary.runDirectory.appendingPathComponent("log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains("[total] running test_sum"), log)
        let light = try String(contentsOf: cache.filesDirectory(plan.stage(named: "cfg")!.hash).appendingPathComponent("params.json"), encoding: .utf8)
        XCTAssertEqual(ParamValue.parseJSON(light)?.mapValue?["scale"], .float(2))

        let again = try executor().run(plan)
        XCTAssertEqual(again.outcomes.map(\.outcome), [.cached, .cached, .cached, .cached, .cached])
        XCTAssertEqual(again.metrics, summary.metrics, "metrics of cached stages come from their manifests")
        for stage in plan.stages { XCTAssertEqual(PlanReport.status(of: stage, cache: cache), .cached) }
    }

    func testDamagedEntryIsReportedAndRecomputed() throws {
        let plan = try plan(sampleRecipe)
        _ = try executor().run(plan)
        let hash = plan.stage(named: "a")!.hash
        try Data("666".utf8).write(to: cache.filesDirectory(hash).appendingPathComponent("value.txt"))
        guard case .damaged(let reason) = cache.state(of: hash) else { return XCTFail("damage not detected") }
        XCTAssertEqual(reason, "file value.txt does not match its digest")
        XCTAssertEqual(cache.verifyAll().map(\.hash), [hash])
        XCTAssertEqual(PlanReport.status(of: plan.stage(named: "a")!, cache: cache), .pending)

        let summary = try executor().run(plan)
        XCTAssertEqual(summary.outcomes.first { $0.stage == "a" }?.outcome, .ran)
        XCTAssertEqual(try value(hash), "2.0")
        let log = try String(contentsOf: summary.runDirectory.appendingPathComponent("log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains("[a] cache entry \(hash.prefix(12)) is damaged (file value.txt does not match its digest); recomputing"), log)
        XCTAssertTrue(cache.verifyAll().isEmpty)
    }

    func testOtherKindsOfDamage() throws {
        let plan = try plan(sampleRecipe)
        _ = try executor().run(plan)
        let a = plan.stage(named: "a")!.hash, b = plan.stage(named: "b")!.hash, cfg = plan.stage(named: "cfg")!.hash
        try Data("extra".utf8).write(to: cache.filesDirectory(a).appendingPathComponent("stray.bin"))
        try Data("{".utf8).write(to: cache.entryDirectory(b).appendingPathComponent("manifest.json"))
        try FileManager.default.removeItem(at: cache.filesDirectory(cfg).appendingPathComponent("params.json"))
        let damaged = Dictionary(uniqueKeysWithValues: cache.verifyAll().map { ($0.hash, $0.reason) })
        XCTAssertEqual(damaged, [a: "unexpected file stray.bin", b: "manifest.json is not a valid manifest", cfg: "file params.json is missing"])
        let report = try cache.collectGarbage()
        XCTAssertEqual(Set(report.damaged), [a, b, cfg])
        XCTAssertEqual(cache.list().count, plan.stages.count - 3)
    }

    func testFailureLeavesNoEntryAndNamesTheStage() throws {
        let text = "name: f\nstages:\n  a: {kind: test_source}\n  boom: {kind: test_fail, inputs: [a], message: out of cheese}\n"
        let plan = try plan(text)
        XCTAssertThrowsError(try executor().run(plan)) { error in
            XCTAssertEqual((error as? RunError)?.message, "stage 'boom' (test_fail) failed: out of cheese")
        }
        XCTAssertEqual(PlanReport.status(of: plan.stage(named: "a")!, cache: cache), .cached)
        XCTAssertEqual(PlanReport.status(of: plan.stage(named: "boom")!, cache: cache), .pending)
        let temporaries = try FileManager.default.contentsOfDirectory(atPath: cache.root.appendingPathComponent("tmp").path)
        XCTAssertEqual(temporaries, [], "the staging folder is removed")
    }

    func testCheckpointMakesStagePartialAndResumes() throws {
        let text = "name: c\nstages:\n  count: {kind: test_counter, steps: 10, step_seconds: 0}\n"
        let plan = try plan(text)
        let stage = plan.stages[0]
        try FileManager.default.createDirectory(at: cache.checkpointDirectory(stage.hash), withIntermediateDirectories: true)
        try Data("7".utf8).write(to: cache.checkpointDirectory(stage.hash).appendingPathComponent("state.txt"))
        XCTAssertEqual(PlanReport.status(of: stage, cache: cache), .partial)
        let summary = try executor().run(plan)
        XCTAssertEqual(summary.outcomes.map(\.outcome), [.resumed])
        XCTAssertEqual(try value(stage.hash), "10")
        XCTAssertEqual(try String(contentsOf: cache.filesDirectory(stage.hash).appendingPathComponent("resume.txt"), encoding: .utf8), "7")
        XCTAssertFalse(cache.hasCheckpoint(stage.hash), "checkpoints are removed once the entry is complete")
    }

    func testManifestRecordsProvenance() throws {
        let plan = try plan(sampleRecipe)
        _ = try executor().run(plan)
        let total = plan.stage(named: "total")!
        guard case .valid(let manifest) = cache.state(of: total.hash) else { return XCTFail("entry missing") }
        XCTAssertEqual(manifest.kind, "test_sum")
        XCTAssertEqual(manifest.version, 1)
        XCTAssertEqual(manifest.inputHashes, total.inputHashes)
        XCTAssertEqual(manifest.files.map(\.path), ["value.txt"])
        XCTAssertEqual(manifest.files[0].sha256, Planner.sha256Hex("14.0"))
        XCTAssertEqual(manifest.backend, "auto")
        XCTAssertEqual(manifest.metrics, ["top1": .float(14)])
    }

    func testNestedAndEmptyArtifactsVerify() throws {
        var registry = testRegistry()
        registry.register(StageKind(name: "nested", version: 1, summary: "writes a sub-folder", parameters: []) { context in
            let sub = context.outputDirectory.appendingPathComponent("weights/layer1")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            try Data([1, 2, 3]).write(to: sub.appendingPathComponent("w.bin"))
        })
        registry.register(StageKind(name: "empty", version: 1, summary: "writes nothing", parameters: []) { _ in })
        let recipe = try Planner.recipe(text: "name: n\nstages:\n  n: {kind: nested}\n  e: {kind: empty}\n", file: "n.yaml", registry: registry)
        let plan = try Planner.plan(recipe, registry: registry)
        _ = try executor(registry).run(plan)
        guard case .valid(let manifest) = cache.state(of: plan.stages[0].hash) else { return XCTFail("nested entry invalid") }
        XCTAssertEqual(manifest.files.map(\.path), ["weights/layer1/w.bin"])
        guard case .valid(let empty) = cache.state(of: plan.stages[1].hash) else { return XCTFail("empty entry invalid") }
        XCTAssertEqual(empty.files.count, 0)
        try FileManager.default.removeItem(at: cache.filesDirectory(plan.stages[0].hash).appendingPathComponent("weights/layer1/w.bin"))
        guard case .damaged(let reason) = cache.state(of: plan.stages[0].hash) else { return XCTFail("missing file not detected") }
        XCTAssertEqual(reason, "file weights/layer1/w.bin is missing")
    }

    func testContextCarriesRunSettings() throws {
        var registry = testRegistry()
        let seen = LockedLog()
        registry.register(StageKind(name: "probe", version: 1, summary: "records its context", parameters: [],
                                    inputs: [.optional("config", of: "test_config")]) { context in
            seen.append("\(context.device) \(context.threads) \(context.seed) \(context.isResuming) \(context.inputs.map(\.slot))")
            let config = context.input("config")
            seen.append("\(config.name) \(config.kind) \(config.parameters.double("scale"))")
            XCTAssertTrue(FileManager.default.fileExists(atPath: config.artifactDirectory.appendingPathComponent("params.json").path))
        })
        let text = "name: p\nseed: 11\ndevice: cuda\nstages:\n  c: {kind: test_config, scale: 3}\n  p: {kind: probe, inputs: [c]}\n"
        let plan = try Planner.plan(Planner.recipe(text: text, file: "p.yaml", registry: registry), registry: registry)
        let options = ExecutorOptions(runsDirectory: folder.url.appendingPathComponent("runs"), device: "cpu", threads: 3, echo: false)
        _ = try Executor(registry: registry, cache: cache, options: options).run(plan)
        XCTAssertEqual(seen.lines, ["cpu 3 11 false [\"config\"]", "c test_config 3.0"])
    }

    func testHashMaterialErrorsBecomeDiagnostics() throws {
        var registry = testRegistry()
        var data = TestStageKinds.source
        data.name = "files"
        data.hashMaterial = { _ in throw RunError("cannot read /data/train.bin: no such file") }
        registry.register(data)
        let recipe = try Planner.recipe(text: "name: d\nstages:\n  d: {kind: files}\n", file: "d.yaml", registry: registry)
        XCTAssertThrowsError(try Planner.plan(recipe, registry: registry)) { error in
            XCTAssertEqual((error as? RecipeError)?.description, "d.yaml:3:3: error: stages.d: cannot read /data/train.bin: no such file")
        }
    }

    func testRunFolderNamesAreSafe() {
        XCTAssertEqual(Executor.folderName("cifar100_lt"), "cifar100_lt")
        XCTAssertEqual(Executor.folderName("../a b/é"), ".._a_b__")
        XCTAssertEqual(Executor.folderName(""), "run")
        XCTAssertEqual(Executor.folderName(".."), "run")
    }

    func testLockExcludesConcurrentHolders() throws {
        let hash = String(repeating: "ab", count: 32)
        let order = LockedLog()
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [cache] in
            try? cache!.withLock(hash) {
                started.signal()
                Thread.sleep(forTimeInterval: 0.3)
                order.append("first done")
            }
        }
        thread.start()
        started.wait()
        var waited = false
        try cache.withLock(hash, onWait: { waited = true }) { order.append("second") }
        XCTAssertTrue(waited)
        XCTAssertEqual(order.lines, ["first done", "second"])
    }
}

/// Lines appended from several threads.
final class LockedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    func append(_ line: String) { lock.lock(); storage.append(line); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return storage }
}
