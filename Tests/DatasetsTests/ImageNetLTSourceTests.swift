@testable import Datasets
import Foundation
import XCTest

/// The file-backed sources (`imagenet_lt` split files, `image_folder`) on a small tree of real
/// Fashion-MNIST images written by `SampleImageTree`, and the loader decoding them per batch.
final class ImageNetLTSourceTests: XCTestCase {
    func testSampleTreeListsLongTailedTrainAndBalancedTest() throws {
        let root = try temporaryFolder(self)
        let splits = try SampleImageTree.writeImageNetLT(to: root)
        XCTAssertEqual(splits.trainCounts.first, 60)
        XCTAssertEqual(splits.trainCounts.last, 6)
        let train = try ImageFileList.imageNetLT(root: root, splitFile: splits.train, classCount: 10)
        let test = try ImageFileList.imageNetLT(root: root, splitFile: splits.test, classCount: 10)
        XCTAssertEqual(train.count, splits.trainCounts.reduce(0, +))
        XCTAssertEqual(test.count, 50)
        XCTAssertEqual((0..<10).map { c in train.labels.filter { $0 == c }.count }, splits.trainCounts)
        try train.checkFilesExist()
        // Files of several sizes, JPEG and PNG, some gray in the file; all decode to RGB.
        var sizes = Set<[Int]>(), kinds = Set<String>()
        for k in 0..<12 {
            let image = try train.decode(at: k)
            XCTAssertEqual(image.channels, 3)
            sizes.insert([image.height, image.width])
            kinds.insert((train.paths[k] as NSString).pathExtension)
            let header = try train.imageSize(at: k)
            XCTAssertEqual([header.height, header.width], [image.height, image.width])
        }
        XCTAssertEqual(sizes, [[32, 40], [48, 64], [96, 96]])
        XCTAssertEqual(kinds, ["JPEG", "png"])
    }

    func testSplitFileErrorsNameFileAndLine() throws {
        let root = try temporaryFolder(self)
        let splits = try SampleImageTree.writeImageNetLT(to: root, classes: 2, largest: 3, smallest: 2, testPerClass: 1)
        let lines = try String(contentsOfFile: splits.train, encoding: .utf8).split(separator: "\n").map(String.init)
        let bad = root + "/bad.txt"
        try (lines[0] + "\n" + lines[1].replacingOccurrences(of: " 0", with: " zero") + "\n").write(toFile: bad, atomically: true, encoding: .utf8)
        assertDatasetError(.badLabel, ["bad.txt:2", "\"zero\" is not an integer"]) { try ImageFileList.imageNetLT(root: root, splitFile: bad) }
        try (lines[0] + "\njust-a-path\n").write(toFile: bad, atomically: true, encoding: .utf8)
        assertDatasetError(.badLabel, ["bad.txt:2", "relative/path label"]) { try ImageFileList.imageNetLT(root: root, splitFile: bad) }
        // The plan-time check names the first missing file with its split file and line.
        let list = try ImageFileList.imageNetLT(root: root, splitFile: splits.train, classCount: 2, checkFiles: false)
        try FileManager.default.removeItem(atPath: list.paths[2])
        assertDatasetError(.missingFile, ["train.txt:3", list.paths[2]]) { try list.checkFilesExist() }
        assertDatasetError(.missingFile, ["train.txt:3"]) { try ImageFileList.imageNetLT(root: root, splitFile: splits.train, classCount: 2) }
    }

    func testImageFolderClassesInSortedOrder() throws {
        let root = try temporaryFolder(self)
        let (train, test) = try SampleImageTree.writeImageFolder(to: root, classes: 3, largest: 6, smallest: 2, testPerClass: 2)
        // An uppercase extension and a non-image file: the first counts, the second does not.
        try FileManager.default.moveItem(atPath: train + "/c0/" + (try FileManager.default.contentsOfDirectory(atPath: train + "/c0").sorted()[0]),
                                         toPath: train + "/c0/upper.JPG")
        FileManager.default.createFile(atPath: train + "/c1/notes.txt", contents: Data("x".utf8))
        let list = try ImageFileList.imageFolder(root: train)
        XCTAssertEqual(list.classNames, ["c0", "c1", "c2"])
        XCTAssertEqual((0..<3).map { c in list.labels.filter { $0 == c }.count }, [6, 3, 2])
        XCTAssertTrue(list.paths.contains { $0.hasSuffix("upper.JPG") })
        XCTAssertEqual(try ImageFileList.imageFolder(root: test).count, 6)
    }

    /// Two-view MoCo batches and single-view evaluation batches from files, decoded on the
    /// loader's threads; the same (seed, position) gives the same batch.
    func testLoaderMakesViewsFromFiles() throws {
        let root = try temporaryFolder(self)
        let splits = try SampleImageTree.writeImageNetLT(to: root, classes: 4, largest: 8, smallest: 3, testPerClass: 2)
        let train = try ImageFileList.imageNetLT(root: root, splitFile: splits.train, classCount: 4)
        let moco = try AugmentationPipeline(steps: AugmentationStep.mocoV2Views(size: 32), views: 2)
        let loader = try BatchLoader(source: train, pipeline: moco, sampler: Sampler(kind: .instance, labels: train.labels, classCount: 4, seed: 1),
                                     batchSize: 5, seed: 9, threads: 2)
        let batch = try loader.next()
        XCTAssertEqual(batch.shape, [10, 32, 32, 3])
        XCTAssertEqual(try loader.batch(at: batch.position).images, batch.images)
        let test = try ImageFileList.imageNetLT(root: root, splitFile: splits.test, classCount: 4)
        let eval = try AugmentationPipeline(steps: AugmentationStep.evaluationViews(size: 24))
        let evalLoader = try BatchLoader(source: test, pipeline: eval, sampler: Sampler(kind: .sequential, labels: test.labels, classCount: 4, seed: 1),
                                         batchSize: 8, seed: 9)
        let evalBatch = try evalLoader.next()
        XCTAssertEqual(evalBatch.shape, [8, 24, 24, 3])
        XCTAssertEqual(evalBatch.labels, Array(test.labels.prefix(8)))
    }

    /// A file that stops decoding mid-run stops the iteration with the typed error naming it.
    func testDecodeErrorStopsIteration() throws {
        let root = try temporaryFolder(self)
        let splits = try SampleImageTree.writeImageNetLT(to: root, classes: 2, largest: 4, smallest: 4, testPerClass: 1)
        let train = try ImageFileList.imageNetLT(root: root, splitFile: splits.train, classCount: 2)
        let victim = train.paths.last { $0.hasSuffix(".JPEG") }!
        let bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: victim))
        let pipeline = try AugmentationPipeline(steps: AugmentationStep.linearTrainingViews(size: 16))
        let loader = try BatchLoader(source: train, pipeline: pipeline, sampler: Sampler(kind: .sequential, labels: train.labels, classCount: 2, seed: 1),
                                     batchSize: 8, seed: 3)
        assertDatasetError(.decodeFailed, [victim, "train.txt:"]) { try loader.next() }
    }
}
