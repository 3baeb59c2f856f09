@testable import Datasets
import Foundation
import XCTest

/// CIFAR's python layout (fixtures made by Fixtures/cifar/make_cifar_fixtures.py) and binary
/// layout (written by the test), and their broken variants.
final class CIFARReaderTests: XCTestCase {
    /// Pixel p (CHW order) of image i of file f in the fixtures.
    private func fixturePixel(i: Int, f: Int, chw p: Int) -> UInt8 { UInt8((7 * i + 13 * f + p) % 256) }

    func testPythonLayoutWrittenByPython2() throws {
        let set = try CIFARReader.read(root: Fixture.path("cifar"), variant: .cifar10, train: true)
        XCTAssertEqual(set.count, 15)
        XCTAssertEqual(set.classNames.first, "airplane")
        XCTAssertEqual(set.classNames.last, "truck")
        XCTAssertEqual(set.labels, (0..<5).flatMap { f in (0..<3).map { i in Int32((3 * i + f) % 10) } })
        // Image 1 of data_batch_2 (f = 1) is image 4; pixel (y 2, x 5) channel G is CHW 1024 + 69.
        XCTAssertEqual(set.pixels[4 * 3072 + ((2 * 32 + 5) * 3 + 1)], fixturePixel(i: 1, f: 1, chw: 1024 + 2 * 32 + 5))
        let test = try CIFARReader.read(root: Fixture.path("cifar"), variant: .cifar10, train: false)
        XCTAssertEqual(test.labels, [5, 8, 1])
    }

    func testPythonLayoutWrittenByPython3() throws {
        let set = try CIFARReader.read(root: Fixture.path("cifar"), variant: .cifar100, train: true)
        XCTAssertEqual(set.count, 4)
        XCTAssertEqual(set.labels, [0, 3, 6, 9])
        XCTAssertEqual(set.classNames[42], "class42")
        for p in [0, 100, 1023] {
            for ch in 0..<3 { XCTAssertEqual(set.pixels[3 * 3072 + p * 3 + ch], fixturePixel(i: 3, f: 0, chw: ch * 1024 + p)) }
        }
    }

    private func writeBinary(_ folder: String, variant: CIFARReader.Variant, labels: [UInt8]) throws {
        let dir = folder + "/" + variant.binaryFolder
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (f, name) in variant.binaryFiles(train: true).enumerated() {
            var bytes: [UInt8] = []
            for (i, label) in labels.enumerated() {
                if variant == .cifar100 { bytes.append(0) }
                bytes.append(label)
                bytes += (0..<3072).map { fixturePixel(i: i, f: f, chw: $0) }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
    }

    func testBinaryLayouts() throws {
        let root = try temporaryFolder(self)
        try writeBinary(root, variant: .cifar10, labels: [3, 9])
        try "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n".write(toFile: root + "/cifar-10-batches-bin/batches.meta.txt", atomically: true, encoding: .utf8)
        let set = try CIFARReader.read(root: root, variant: .cifar10, train: true)
        XCTAssertEqual(set.count, 10)
        XCTAssertEqual(set.labels, [Int32](repeating: 0, count: 5).flatMap { _ in [3, 9] as [Int32] })
        XCTAssertEqual(set.classNames[2], "c")
        XCTAssertEqual(set.pixels[3 * 3072 + 7 * 3 + 2], fixturePixel(i: 1, f: 1, chw: 2048 + 7))
        try writeBinary(root, variant: .cifar100, labels: [99, 0, 42])
        let c100 = try CIFARReader.read(root: root, variant: .cifar100, train: true)
        XCTAssertEqual(c100.labels, [99, 0, 42])
    }

    func testMissingDataSaysWhereToPutIt() throws {
        let root = try temporaryFolder(self)
        assertDatasetError(.missingFile, ["cifar-10-batches-py", "cifar-10-batches-bin", root, "cifar-10-python.tar.gz"]) {
            try CIFARReader.read(root: root, variant: .cifar10, train: true)
        }
    }

    func testBrokenFilesNameTheFile() throws {
        let root = try temporaryFolder(self)
        try writeBinary(root, variant: .cifar10, labels: [3, 12])
        assertDatasetError(.badLabel, ["data_batch_1.bin", "label 12"]) { try CIFARReader.read(root: root, variant: .cifar10, train: true) }
        // A truncated record.
        let path = root + "/cifar-10-batches-bin/data_batch_1.bin"
        try Data([UInt8](repeating: 1, count: 3000)).write(to: URL(fileURLWithPath: path))
        assertDatasetError(.truncated, ["data_batch_1.bin", "3073"]) { try CIFARReader.read(root: root, variant: .cifar10, train: true) }
        // A pickle cut short, and one that is not a pickle.
        let py = root + "/cifar-100-python"
        try FileManager.default.createDirectory(atPath: py, withIntermediateDirectories: true)
        let whole = try Data(contentsOf: URL(fileURLWithPath: Fixture.path("cifar/cifar-100-python/train")))
        try whole.prefix(5000).write(to: URL(fileURLWithPath: py + "/train"))
        assertDatasetError(.truncated, ["cifar-100-python/train", "pickle"]) { try CIFARReader.read(root: root, variant: .cifar100, train: true) }
        try Data([0xff, 0x00]).write(to: URL(fileURLWithPath: py + "/train"))
        assertDatasetError(.badFormat, ["cifar-100-python/train", "opcode"]) { try CIFARReader.read(root: root, variant: .cifar100, train: true) }
    }

    func testPickleBasics() throws {
        // pickle.dumps({'a': [1, -2, 300, 70000], 'b': (1.5, None, True)}, protocol=2)
        let bytes: [UInt8] = [0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x01, 0, 0, 0, 0x61, 0x71, 0x01, 0x5d, 0x71, 0x02, 0x28,
                              0x4b, 0x01, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x4d, 0x2c, 0x01, 0x4a, 0x70, 0x11, 0x01, 0x00, 0x65,
                              0x58, 0x01, 0, 0, 0, 0x62, 0x71, 0x03, 0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x4e, 0x88, 0x87,
                              0x71, 0x04, 0x75, 0x2e]
        let value = try PickleReader.load(bytes, path: "inline")
        XCTAssertEqual(value["a"], .list([.int(1), .int(-2), .int(300), .int(70000)]))
        XCTAssertEqual(value["b"], .tuple([.float(1.5), .none, .bool(true)]))
    }
}
