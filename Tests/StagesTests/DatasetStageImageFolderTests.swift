import Foundation
import XCTest
import PipelineDSL
import Datasets
@testable import Stages

/// The `dataset` stage over an `image_folder` tree (JPEG and PNG files decoded into one array),
/// using a copy of the Datasets tests' image fixtures: two classes of 8×8 RGB images.
final class DatasetStageImageFolderTests: XCTestCase {
    private var harness: DataStageHarness!
    private var root: URL!

    override func setUpWithError() throws {
        harness = try DataStageHarness()
        let images = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../DatasetsTests/Fixtures/images").standardizedFileURL
        guard FileManager.default.fileExists(atPath: images.appendingPathComponent("folder/train").path) else {
            throw XCTSkip("the Datasets image fixtures are not in the source tree at \(images.path)")
        }
        root = harness.folder.appendingPathComponent("folder")
        try FileManager.default.copyItem(at: images.appendingPathComponent("folder"), to: root)
        try FileManager.default.copyItem(at: images.appendingPathComponent("rgb.png"),
                                         to: harness.folder.appendingPathComponent("rgb.png"))
    }

    override func tearDown() { harness.remove() }

    private var recipe: String { recipe(data: ["per_class_limit: 2"]) }

    /// The image folder as the `data` stage, with `data` lines added to it and `more` stages after it.
    private func recipe(data: [String], more: String = "") -> String {
        """
        name: folder
        seed: 0
        stages:
          data:
            kind: dataset
            source: image_folder
            root: \(root.path)
        \(data.map { "    " + $0 + "\n" }.joined())\(more)
        """
    }

    func testImageFolderIsDecodedIntoTheArtifact() throws {
        let plan = try harness.plan(recipe)
        _ = try harness.run(plan)
        let artifact = try DataArtifact.read(from: harness.files(plan, "data"))
        XCTAssertEqual(artifact.source, "image_folder")
        XCTAssertEqual(artifact.train.classNames, ["cat", "dog"])
        XCTAssertEqual(artifact.train.labels, [0, 0, 1, 1], "the first two files of each class")
        XCTAssertEqual(artifact.test.labels, [0, 1])
        XCTAssertEqual([artifact.train.height, artifact.train.width, artifact.train.channels], [8, 8, 3])
        let list = try ImageFileList.imageFolder(root: root.appendingPathComponent("train").path)
        XCTAssertEqual(list.paths.map { ($0 as NSString).lastPathComponent }, ["0.jpg", "1.png", "2.jpg", "0.jpg", "1.png", "2.jpg"])
        let expected = try [0, 1, 3, 4].flatMap { try list.decode(at: $0).pixels }
        XCTAssertEqual(artifact.train.pixels, expected)
    }

    func testImagesOfDifferentSizesAreAClearRunError() throws {
        let odd = root.appendingPathComponent("train/dog/1.png")
        try FileManager.default.removeItem(at: odd)
        try FileManager.default.copyItem(at: harness.folder.appendingPathComponent("rgb.png"), to: odd)  // 6×9
        let plan = try harness.plan(recipe)
        XCTAssertThrowsError(try harness.run(plan)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("stage 'data' (dataset) failed"), message)
            XCTAssertTrue(message.contains("\(odd.path): image_folder: image is 6×9×3"), message)
            XCTAssertTrue(message.contains("needs equally sized images"), message)
        }
        XCTAssertTrue(harness.cache.list().isEmpty, "nothing half-written in the cache")
    }

    /// `decode: full` turns the loader's DCT-reduced decoding off for images kept as files, through
    /// the artifact (and an `imbalance` stage's subset of it); at its default the recipe's hash is
    /// what it was before the key existed; on images held in memory it is a plan error.
    func testDecodeFullReachesTheLoaderThroughTheArtifacts() throws {
        func recipe(_ decode: String?) -> String {
            self.recipe(data: ["storage: files"] + (decode.map { ["decode: \($0)"] } ?? []),
                        more: "  lt:\n    kind: imbalance\n    inputs: [data]\n    factor: 0.5\n")
        }
        let plain = try harness.plan(recipe(nil)), reduced = try harness.plan(recipe("reduced")), full = try harness.plan(recipe("full"))
        XCTAssertEqual(plain.stage(named: "data")!.hash, reduced.stage(named: "data")!.hash, "reduced is the default: the hash stays")
        XCTAssertNotEqual(plain.stage(named: "data")!.hash, full.stage(named: "data")!.hash)
        _ = try harness.run(plain)
        _ = try harness.run(full)
        for (plan, scaling) in [(plain, true), (full, false)] {
            for stage in ["data", "lt"] {
                guard case let .files(list) = try DataArtifact.read(from: harness.files(plan, stage)).trainImages else {
                    return XCTFail("\(stage): the images should stay files")
                }
                XCTAssertEqual(list.dctScaling, scaling, "\(stage) of the \(scaling ? "default" : "decode: full") recipe")
                XCTAssertFalse(list.paths.isEmpty)
            }
        }
        let errors = harness.diagnostics(recipe("full").replacingOccurrences(of: "storage: files", with: "storage: memory"))
        XCTAssertTrue(errors.contains { $0.contains("decode: full applies to images kept as files") }, "\(errors)")
    }
}
