import Datasets
import Foundation
import XCTest

/// IDX files: the real Fashion-MNIST, plain and gzipped fixtures, and broken files.
final class IDXReaderTests: XCTestCase {
    private func writeIDX(_ folder: String, _ name: String, dims: [UInt32], data: [UInt8], type: UInt8 = 8, gzip: Bool = false) throws {
        var bytes: [UInt8] = [0, 0, type, UInt8(dims.count)]
        for d in dims { bytes += [UInt8(d >> 24), UInt8((d >> 16) & 255), UInt8((d >> 8) & 255), UInt8(d & 255)] }
        bytes += data
        let out = gzip ? Gzip.deflate(bytes) : bytes
        try Data(out).write(to: URL(fileURLWithPath: folder + "/" + name + (gzip ? ".gz" : "")))
    }

    func testReadsPlainAndGzippedSplits() throws {
        for gz in [false, true] {
            let dir = try temporaryFolder(self)
            let pixels = (0..<(3 * 2 * 2)).map { UInt8($0 * 10) }
            try writeIDX(dir, "t10k-images-idx3-ubyte", dims: [3, 2, 2], data: pixels, gzip: gz)
            try writeIDX(dir, "t10k-labels-idx1-ubyte", dims: [3], data: [2, 0, 9], gzip: gz)
            let set = try IDXReader.readSplit(root: dir, train: false, classNames: IDXReader.mnistClasses)
            XCTAssertEqual(set.count, 3)
            XCTAssertEqual([set.height, set.width, set.channels], [2, 2, 1])
            XCTAssertEqual(set.pixels, pixels)
            XCTAssertEqual(set.labels, [2, 0, 9])
            XCTAssertEqual(set.classCounts, [1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
        }
    }

    func testRealFashionMNIST() throws {
        let root = IDXReader.defaultFashionMNISTRoot
        guard FileManager.default.fileExists(atPath: root) else {
            throw XCTSkip("Fashion-MNIST is not installed in \(root) (Debian package dataset-fashion-mnist)")
        }
        let test = try IDXReader.readSplit(root: root, train: false, classNames: IDXReader.fashionMNISTClasses)
        XCTAssertEqual(test.count, 10000)
        XCTAssertEqual([test.height, test.width, test.channels], [28, 28, 1])
        XCTAssertEqual(test.classCounts, Array(repeating: 1000, count: 10))
        XCTAssertEqual(Array(test.labels.prefix(5)), [9, 2, 1, 1, 6])
    }

    func testBrokenFilesNameTheFile() throws {
        let dir = try temporaryFolder(self)
        assertDatasetError(.missingFile, ["train-images-idx3-ubyte", dir]) {
            try IDXReader.readSplit(root: dir, train: true, classNames: IDXReader.mnistClasses)
        }
        try writeIDX(dir, "bad-magic", dims: [2], data: [1, 2], type: 0x0d)
        assertDatasetError(.badFormat, ["bad-magic", "0x0d"]) { try IDXReader.read(dir + "/bad-magic") }
        try Data([1, 2, 3, 4, 5]).write(to: URL(fileURLWithPath: dir + "/not-idx"))
        assertDatasetError(.badFormat, ["not-idx", "magic"]) { try IDXReader.read(dir + "/not-idx") }
        try writeIDX(dir, "short", dims: [4, 2, 2], data: [UInt8](repeating: 1, count: 10))
        assertDatasetError(.truncated, ["short", "16 bytes", "holds 10"]) { try IDXReader.read(dir + "/short") }
        // A gzip stream cut in half.
        let whole = Gzip.deflate([UInt8](repeating: 7, count: 5000) + [0, 0, 8, 1])
        try Data(whole.prefix(whole.count / 2)).write(to: URL(fileURLWithPath: dir + "/cut.gz"))
        assertDatasetError(.truncated, ["cut.gz"]) { try IDXReader.read(dir + "/cut.gz") }
        // Labels out of range.
        try writeIDX(dir, "train-images-idx3-ubyte", dims: [2, 1, 1], data: [0, 0])
        try writeIDX(dir, "train-labels-idx1-ubyte", dims: [2], data: [1, 12])
        assertDatasetError(.badLabel, ["train-labels-idx1-ubyte", "label 12", "image 1"]) {
            try IDXReader.readSplit(root: dir, train: true, classNames: IDXReader.mnistClasses)
        }
    }
}
