import Foundation
import XCTest
import PipelineDSL
import Datasets
import Engine
@testable import Stages

/// Runs `dataset` (and `imbalance`) stages through the real planner and executor against a
/// temporary cache and a temporary digest cache (`SBCL_DIGEST_CACHE`).
final class DataStageHarness {
    let folder: URL
    let cache: ArtifactCache
    let registry: StageRegistry

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-datastages-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        cache = try ArtifactCache(root: folder.appendingPathComponent("cache"))
        var registry = StageRegistry()
        registry.register(DatasetStage.kind(
            digestCache: folder.appendingPathComponent("digests/source-digests.json").path))
        registry.register(ImbalanceStage.kind)
        self.registry = registry
    }

    /// The per-file digest cache this harness points the stage at.
    var digestCache: URL { folder.appendingPathComponent("digests/source-digests.json") }

    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }

    func plan(_ text: String) throws -> Plan {
        try Planner.plan(Planner.recipe(text: text, file: "recipe.yaml", registry: registry), registry: registry)
    }

    func run(_ plan: Plan) throws -> RunSummary {
        try Executor(registry: registry, cache: cache,
                     options: ExecutorOptions(runsDirectory: folder.appendingPathComponent("runs"), threads: 2, echo: false)).run(plan)
    }

    /// The cached artifact folder of a planned stage.
    func files(_ plan: Plan, _ stage: String) -> URL { cache.filesDirectory(plan.stage(named: stage)!.hash) }

    /// The plan's diagnostics (fails the test when the recipe plans).
    func diagnostics(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        do {
            _ = try plan(text)
            XCTFail("expected the recipe to be rejected", file: file, line: line)
        } catch let error as RecipeError {
            return error.diagnostics.map(\.description)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return []
    }

    /// Writes a small IDX data set (plain, not gzipped) into `root`: `train` and `test` images of
    /// 4×4 pixels with labels cycling over 10 classes, pixels from a fixed pattern.
    static func writeSmallIDX(to root: URL, train: Int = 40, test: Int = 20) throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        func write(_ name: String, magic: UInt8, dimensions: [Int], data: [UInt8]) throws {
            var bytes: [UInt8] = [0, 0, 0x08, magic]
            for d in dimensions { bytes += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
            try Data(bytes + data).write(to: root.appendingPathComponent(name))
        }
        for (prefix, count) in [("train", train), ("t10k", test)] {
            let pixels = (0..<count * 16).map { UInt8(($0 * 37 + count) % 256) }
            try write("\(prefix)-images-idx3-ubyte", magic: 3, dimensions: [count, 4, 4], data: pixels)
            try write("\(prefix)-labels-idx1-ubyte", magic: 1, dimensions: [count], data: (0..<count).map { UInt8($0 % 10) })
        }
    }
}

/// The `dataset` stage on real Fashion-MNIST and on small IDX copies: artifact, caching, hashing
/// by content, and errors.
final class DatasetStageTests: XCTestCase {
    private var harness: DataStageHarness!

    override func setUpWithError() throws { harness = try DataStageHarness() }
    override func tearDown() { harness.remove() }

    private func smallRecipe(root: String, limit: Int = 0) -> String {
        """
        name: small
        seed: 3
        stages:
          data:
            kind: dataset
            source: mnist
            root: \(root)
            per_class_limit: \(limit)
        """
    }

    func testFirstPerClassKeepsFileOrder() {
        let labels: [Int32] = [2, 0, 2, 1, 0, 2, 2, 1]
        XCTAssertEqual(DatasetStage.firstPerClass(labels: labels, limit: 2), [0, 1, 2, 3, 4, 7])
        XCTAssertEqual(DatasetStage.firstPerClass(labels: labels, limit: 1), [0, 1, 3])
        XCTAssertEqual(DatasetStage.firstPerClass(labels: labels, limit: 0), Array(0..<8))
    }

    func testRealFashionMNISTSubsetIsCachedOnSecondRun() throws {
        let root = IDXReader.defaultFashionMNISTRoot
        guard FileManager.default.fileExists(atPath: root + "/train-labels-idx1-ubyte.gz") else {
            throw XCTSkip("Fashion-MNIST is not installed at \(root) (Debian package dataset-fashion-mnist)")
        }
        let recipe = """
            name: fm
            seed: 1
            stages:
              data:
                kind: dataset
                source: fashion_mnist
                per_class_limit: 30
                test_per_class_limit: 5
            """
        let plan = try harness.plan(recipe)
        let summary = try harness.run(plan)
        XCTAssertEqual(summary.outcomes.map(\.outcome), [.ran])
        let artifact = try DataArtifact.read(from: harness.files(plan, "data"))
        XCTAssertEqual(artifact.source, "fashion_mnist")
        XCTAssertEqual(artifact.train.count, 300)
        XCTAssertEqual(artifact.train.classCounts, [Int](repeating: 30, count: 10))
        XCTAssertEqual(artifact.test.classCounts, [Int](repeating: 5, count: 10))
        XCTAssertEqual([artifact.train.height, artifact.train.width, artifact.train.channels], [28, 28, 1])
        XCTAssertEqual(artifact.train.classNames, IDXReader.fashionMNISTClasses)

        // The first images of each class in file order, checked against a direct read.
        let full = try IDXReader.readSplit(root: root, train: false, classNames: IDXReader.fashionMNISTClasses)
        XCTAssertEqual(Array(full.labels.prefix(10)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7], "the real t10k labels")
        var seen = [Int](repeating: 0, count: 10), expected: [Int] = []
        for (i, label) in full.labels.enumerated() where seen[Int(label)] < 5 { seen[Int(label)] += 1; expected.append(i) }
        XCTAssertEqual(artifact.test, full.subset(expected))
        XCTAssertEqual(summary.metrics["class_counts"], .list([ParamValue](repeating: .int(30), count: 10)))

        let again = try harness.run(harness.plan(recipe))
        XCTAssertEqual(again.outcomes.map(\.outcome), [.cached])
        XCTAssertEqual(again.metrics, summary.metrics, "a cached stage still reports class_counts")
        let digests = try String(contentsOf: harness.digestCache, encoding: .utf8)
        XCTAssertTrue(digests.contains("train-images-idx3-ubyte.gz"), digests)
    }

    func testHashFollowsFileContentNotModificationTime() throws {
        let root = harness.folder.appendingPathComponent("idx")
        try DataStageHarness.writeSmallIDX(to: root)
        let recipe = smallRecipe(root: root.path)
        let first = try harness.plan(recipe).stage(named: "data")!.hash
        XCTAssertEqual(try harness.plan(recipe).stage(named: "data")!.hash, first, "planning twice gives one hash")
        let remembered = try String(contentsOf: harness.digestCache, encoding: .utf8)
        XCTAssertEqual(ParamValue.parseJSON(remembered)?.mapValue?.count, 4, "one remembered digest per IDX file")

        let labels = root.appendingPathComponent("train-labels-idx1-ubyte")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -86_400)], ofItemAtPath: labels.path)
        XCTAssertEqual(try harness.plan(recipe).stage(named: "data")!.hash, first, "a new modification time alone keeps the hash")

        var bytes = try Data(contentsOf: labels)
        bytes[bytes.count - 1] = (bytes[bytes.count - 1] + 1) % 10  // same size, another label
        try bytes.write(to: labels)
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: labels.path)
        let changed = try harness.plan(recipe).stage(named: "data")!.hash
        XCTAssertNotEqual(changed, first, "changed content changes the hash")
        XCTAssertNotEqual(try harness.plan(smallRecipe(root: root.path, limit: 2)).stage(named: "data")!.hash, changed,
                          "parameters are hashed too")
    }

    func testDigestCacheFallsBackWhenItCannotBeWritten() throws {
        let blocker = harness.folder.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: blocker)
        XCTAssertNil(DatasetStage.digestCacheFile(path: blocker.path + "/digests.json"))
        XCTAssertEqual(DatasetStage.digestCacheFile(path: harness.folder.path + "/.cache/sbcl/source-digests.json"),
                       harness.folder.path + "/.cache/sbcl/source-digests.json")
        XCTAssertTrue(FileManager.default.fileExists(atPath: harness.folder.path + "/.cache/sbcl"))
        var registry = StageRegistry()
        registry.register(DatasetStage.kind(digestCache: blocker.path + "/digests.json"))
        let root = harness.folder.appendingPathComponent("idx")
        try DataStageHarness.writeSmallIDX(to: root)
        let recipe = try Planner.recipe(text: smallRecipe(root: root.path), file: "recipe.yaml", registry: registry)
        XCTAssertEqual(try Planner.plan(recipe, registry: registry).stages.count, 1, "plans without a digest cache")
    }

    func testMissingRootIsAPlanErrorNamingThePathAndFiles() throws {
        let missing = harness.folder.appendingPathComponent("no-such-mnist").path
        let messages = harness.diagnostics(smallRecipe(root: missing))
        XCTAssertEqual(messages.count, 1, "\(messages)")
        let message = messages.first ?? ""
        XCTAssertTrue(message.contains("stages.data"), message)
        XCTAssertTrue(message.contains("put train-images-idx3-ubyte or train-images-idx3-ubyte.gz in \(missing)"), message)
        XCTAssertTrue(message.contains("the mnist folder \(missing) does not exist"), message)
    }

    func testCIFARWithoutFilesNeedsDownloadOrSaysWhereToPutThem() throws {
        let missing = harness.folder.appendingPathComponent("cifar").path
        let recipe = """
            name: c
            seed: 0
            stages:
              data:
                kind: dataset
                source: cifar10
                root: \(missing)
            """
        let message = harness.diagnostics(recipe).first ?? ""
        XCTAssertTrue(message.contains("stages.data"), message)
        XCTAssertTrue(message.contains(missing), message)
        XCTAssertTrue(message.contains("cifar-10"), message)
        XCTAssertNoThrow(try harness.plan(recipe + "\n    download: true"),
                         "with download: true a missing CIFAR plans: the archive's published MD5 stands in for the files")
        let material = try DatasetStage.hashMaterial(DatasetStage.Settings.defaults.with {
            $0.source = .cifar10; $0.root = missing; $0.download = true
        })
        XCTAssertEqual(material, "archive-md5 " + CIFARReader.Variant.cifar10.archive.md5)
    }

    func testFileVanishingBeforeTheRunFailsCleanly() throws {
        let root = harness.folder.appendingPathComponent("idx")
        try DataStageHarness.writeSmallIDX(to: root)
        let plan = try harness.plan(smallRecipe(root: root.path))
        let testImages = root.appendingPathComponent("t10k-images-idx3-ubyte")
        try FileManager.default.removeItem(at: testImages)
        XCTAssertThrowsError(try harness.run(plan)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("stage 'data' (dataset) failed"), message)
            XCTAssertTrue(message.contains(testImages.path), message)
        }
        guard case .missing = harness.cache.state(of: plan.stage(named: "data")!.hash) else {
            return XCTFail("a failed stage left a cache entry")
        }
        XCTAssertTrue(harness.cache.list().isEmpty, "nothing half-written in the cache")
        let objects = harness.cache.root.appendingPathComponent("objects").path
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: objects)) ?? [], [])
    }
}
