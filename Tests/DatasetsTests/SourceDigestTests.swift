import Datasets
import Foundation
import XCTest

/// Source-file digests (remembered by path, size and time) and the image-set artifact file.
final class SourceDigestTests: XCTestCase {
    func testDigestIsStableRememberedAndSeesChanges() throws {
        let dir = try temporaryFolder(self)
        try Data("one".utf8).write(to: URL(fileURLWithPath: dir + "/a"))
        try Data("two".utf8).write(to: URL(fileURLWithPath: dir + "/b"))
        let cache = dir + "/cache/digests.json"
        let first = try SourceDigest.digest(files: [dir + "/a", dir + "/b"], root: dir, cacheFile: cache)
        XCTAssertEqual(first, try SourceDigest.digest(files: [dir + "/b", dir + "/a"], root: dir, cacheFile: nil))
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache))
        // The remembered digest is used while size and time are unchanged: prove it by editing the
        // cache, then see a real change invalidate it.
        var json = try String(contentsOfFile: cache, encoding: .utf8)
        json = json.replacingOccurrences(of: MD5.hex(Array("one".utf8)), with: String(repeating: "f", count: 32))
        try json.write(toFile: cache, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try SourceDigest.digest(files: [dir + "/a", dir + "/b"], root: dir, cacheFile: cache), first)
        try Data("ONE!".utf8).write(to: URL(fileURLWithPath: dir + "/a"))
        let changed = try SourceDigest.digest(files: [dir + "/a", dir + "/b"], root: dir, cacheFile: cache)
        XCTAssertNotEqual(changed, first)
        XCTAssertEqual(changed, try SourceDigest.digest(files: [dir + "/a", dir + "/b"], root: dir, cacheFile: nil))
        assertDatasetError(.missingFile, [dir + "/c"]) { try SourceDigest.digest(files: [dir + "/c"], root: dir, cacheFile: cache) }
    }

    func testCatalogDigestOfFashionMNIST() throws {
        guard FileManager.default.fileExists(atPath: IDXReader.defaultFashionMNISTRoot) else {
            throw XCTSkip("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
        }
        let dir = try temporaryFolder(self)
        let spec = DatasetSpec(kind: .fashionMNIST)
        XCTAssertEqual(try DatasetCatalog.sourceFiles(spec).count, 4)
        let digest = try DatasetCatalog.sourceDigest(spec, cacheFile: dir + "/d.json")
        XCTAssertEqual(digest.count, 32)
        XCTAssertEqual(try DatasetCatalog.sourceDigest(spec, cacheFile: dir + "/d.json"), digest)
    }

    func testImageSetFileRoundTripAndDamage() throws {
        let dir = try temporaryFolder(self)
        let set = ImageSet(height: 2, width: 3, channels: 1, pixels: Array(0..<12), labels: [1, 0], classNames: ["a", "b"])
        try set.write(to: dir + "/set.bin")
        XCTAssertEqual(try ImageSet.read(from: dir + "/set.bin"), set)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["set.bin"])
        let whole = try Data(contentsOf: URL(fileURLWithPath: dir + "/set.bin"))
        try whole.dropLast(3).write(to: URL(fileURLWithPath: dir + "/cut.bin"))
        assertDatasetError(.truncated, ["cut.bin"]) { try ImageSet.read(from: dir + "/cut.bin") }
        try Data("nope".utf8).write(to: URL(fileURLWithPath: dir + "/bad.bin"))
        assertDatasetError(.badFormat, ["bad.bin", "magic"]) { try ImageSet.read(from: dir + "/bad.bin") }
    }
}
