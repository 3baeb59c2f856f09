import Datasets
import Foundation
import XCTest

/// JPEG (libjpeg-turbo) and PNG decoding, `image_folder` and `imagenet_lt` listings, against
/// fixtures and the pixels Pillow decodes (Fixtures/images/make_image_fixtures.py).
final class ImageDecodingTests: XCTestCase {
    private func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixture.path("images/" + name))))
    }

    /// The fixture script's pattern: (x·23 + y·11 + k·70 + seed·31) mod 256.
    private func pattern(_ h: Int, _ w: Int, _ c: Int, seed: Int) -> [UInt8] {
        var out: [UInt8] = []
        for y in 0..<h { for x in 0..<w { for k in 0..<c { out.append(UInt8((x * 23 + y * 11 + k * 70 + seed * 31) % 256)) } } }
        return out
    }

    func testPNGVariants() throws {
        let rgb = try PNGDecoder.decode(try bytes("rgb.png"), path: "rgb.png")
        XCTAssertEqual([rgb.height, rgb.width, rgb.channels], [6, 9, 3])
        XCTAssertEqual(rgb.pixels, pattern(6, 9, 3, seed: 1))
        let gray = try PNGDecoder.decode(try bytes("gray.png"), path: "gray.png")
        XCTAssertEqual([gray.height, gray.width, gray.channels], [5, 4, 1])
        XCTAssertEqual(gray.pixels, pattern(5, 4, 1, seed: 2))
        let rgba = try PNGDecoder.decode(try bytes("rgba.png"), path: "rgba.png")
        XCTAssertEqual(rgba.channels, 3)
        XCTAssertEqual(rgba.pixels, pattern(4, 5, 3, seed: 3))
        let palette = try PNGDecoder.decode(try bytes("palette.png"), path: "palette.png")
        XCTAssertEqual(palette.pixels.map { Int($0) }, try Fixture.npyInts("images/palette.npy"))
    }

    func testJPEGMatchesPillow() throws {
        let rgb = try JPEGDecoder.decode(try bytes("rgb.jpg"), path: "rgb.jpg")
        XCTAssertEqual([rgb.height, rgb.width, rgb.channels], [16, 24, 3])
        let expected = try Fixture.npyInts("images/rgb_jpg.npy")
        let worst = zip(rgb.pixels, expected).map { abs(Int($0) - $1) }.max()!
        XCTAssertLessThanOrEqual(worst, 2, "libjpeg-turbo and Pillow differ by more than IDCT rounding")
        let gray = try JPEGDecoder.decode(try bytes("gray.jpg"), path: "gray.jpg", gray: true)
        XCTAssertEqual(gray.channels, 1)
        XCTAssertLessThanOrEqual(zip(gray.pixels, try Fixture.npyInts("images/gray_jpg.npy")).map { abs(Int($0) - $1) }.max()!, 2)
        // A gray JPEG asked for as RGB comes back with three equal channels.
        let grayAsRGB = try JPEGDecoder.decode(try bytes("gray.jpg"), path: "gray.jpg")
        XCTAssertEqual(grayAsRGB.channels, 3)
        XCTAssertEqual(grayAsRGB.pixels[0], grayAsRGB.pixels[1])
    }

    func testBrokenImagesNameTheFile() throws {
        assertDatasetError(.decodeFailed, ["truncated.jpg", "JPEG"]) {
            try JPEGDecoder.decode(try bytes("truncated.jpg"), path: "truncated.jpg")
        }
        assertDatasetError(.decodeFailed, ["not_an_image.jpg"]) {
            try JPEGDecoder.decode(try bytes("not_an_image.jpg"), path: "not_an_image.jpg")
        }
        let png = try bytes("rgb.png")
        assertDatasetError(.decodeFailed, ["cut.png", "truncated"]) { try PNGDecoder.decode(Array(png.prefix(60)), path: "cut.png") }
    }

    func testImageFolder() throws {
        let spec = DatasetSpec(kind: .imageFolder, root: Fixture.path("images/folder"))
        guard case let .files(train) = try DatasetCatalog.load(spec, train: true) else { return XCTFail("expected files") }
        XCTAssertEqual(train.classNames, ["cat", "dog"])
        XCTAssertEqual(train.labels, [0, 0, 0, 1, 1, 1])
        XCTAssertTrue(train.paths[1].hasSuffix("cat/1.png"))
        let png = try train.decode(at: 1)
        XCTAssertEqual(png.pixels, pattern(8, 8, 3, seed: 1))
        let jpg = try train.decode(at: 3)
        XCTAssertEqual([jpg.height, jpg.width, jpg.channels], [8, 8, 3])
        guard case let .files(test) = try DatasetCatalog.load(spec, train: false) else { return XCTFail("expected files") }
        XCTAssertEqual(test.count, 2)
        let empty = try temporaryFolder(self)
        assertDatasetError(.missingFile, [empty + "/train"]) { try DatasetCatalog.load(DatasetSpec(kind: .imageFolder, root: empty), train: true) }
    }

    func testImageNetLTSplitFilesAndLoader() throws {
        let root = Fixture.path("images/lt")
        let list = try ImageFileList.imageNetLT(root: root, splitFile: root + "/ImageNet_LT_train.txt", classCount: 2)
        XCTAssertEqual(list.count, 4)
        XCTAssertEqual(list.labels, [0, 1, 0, 1])
        XCTAssertEqual(try list.decode(at: 2).height, 12)
        // Images of different sizes become equal views through resize + centre crop.
        let pipeline = try AugmentationPipeline(steps: [.resize(size: 8), .centerCrop(size: 8), .normalize(mean: [0.5], std: [0.5])])
        let loader = try BatchLoader(source: list, pipeline: pipeline,
                                     sampler: Sampler(kind: .instance, labels: list.labels, classCount: 2, seed: 0), batchSize: 4, seed: 0)
        XCTAssertEqual(try loader.next().shape, [4, 8, 8, 3])
    }

    func testImageNetLTBadInput() throws {
        let dir = try temporaryFolder(self)
        let fixtures = Fixture.path("images/lt")
        assertDatasetError(.missingFile, [dir + "/missing.txt"]) {
            try ImageFileList.imageNetLT(root: fixtures, splitFile: dir + "/missing.txt")
        }
        let split = dir + "/split.txt"
        try "train/n00/img0.JPEG 0\ntrain/n00/nothere.JPEG 1\n".write(toFile: split, atomically: true, encoding: .utf8)
        assertDatasetError(.missingFile, [split + ":2", "nothere.JPEG"]) { try ImageFileList.imageNetLT(root: fixtures, splitFile: split) }
        try "train/n00/img0.JPEG 0\ntrain/n00/img2.JPEG\n".write(toFile: split, atomically: true, encoding: .utf8)
        assertDatasetError(.badLabel, [split + ":2", "relative/path label"]) { try ImageFileList.imageNetLT(root: fixtures, splitFile: split) }
        try "train/n00/img0.JPEG 1000\n".write(toFile: split, atomically: true, encoding: .utf8)
        assertDatasetError(.badLabel, [split + ":1", "1000"]) { try ImageFileList.imageNetLT(root: fixtures, splitFile: split) }
        // An image that fails to decode names itself and the line listing it.
        try FileManager.default.createDirectory(atPath: dir + "/img", withIntermediateDirectories: true)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: dir + "/img/bad.JPEG"))
        try "img/bad.JPEG 3\n".write(toFile: split, atomically: true, encoding: .utf8)
        let list = try ImageFileList.imageNetLT(root: dir, splitFile: split)
        assertDatasetError(.decodeFailed, ["bad.JPEG", split + ":1"]) { try list.decode(at: 0) }
    }
}
