import Datasets
import Foundation
import XCTest

/// MD5, tar.gz extraction, and CIFAR's download served on loopback by the test.
final class DownloadTests: XCTestCase {
    func testMD5MatchesKnownDigests() {
        // Values from python's hashlib.
        XCTAssertEqual(MD5.hex([UInt8]()), "d41d8cd98f00b204e9800998ecf8427e")
        XCTAssertEqual(MD5.hex(Array("abc".utf8)), "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertEqual(MD5.hex(Array("The quick brown fox jumps over the lazy dog".utf8)), "9e107d9d372bb6826bd81d3542a419d6")
        let big = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var pieces = MD5()
        pieces.update(big[0..<7])
        pieces.update(big[7..<70_001])
        pieces.update(big[70_001...])
        XCTAssertEqual(pieces.hexDigest(), MD5.hex(big))
        XCTAssertEqual(MD5.hex(big), "\(try! Self.pythonMD5(big))")
    }

    /// hashlib's digest, when python3 is on the machine (it is in this project's environment).
    static func pythonMD5(_ bytes: [UInt8]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("md5-\(UUID().uuidString)")
        try Data(bytes).write(to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import hashlib,sys; print(hashlib.md5(open(sys.argv[1],'rb').read()).hexdigest())", dir.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static let fixtureMD5 = "df6a55582d79d405c1eef3fdbd81ed85"

    func testTarGzExtraction() throws {
        let dir = try temporaryFolder(self)
        try TarReader.extractGzipped(Fixture.path("cifar/cifar-10-python.tar.gz"), to: dir)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/cifar-10-batches-py").sorted()
        XCTAssertEqual(names, ["batches.meta", "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"])
        let original = try Data(contentsOf: URL(fileURLWithPath: Fixture.path("cifar/cifar-10-batches-py/test_batch")))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/cifar-10-batches-py/test_batch")), original)
    }

    /// Serves `folder` on 127.0.0.1 with python's http.server; returns the base URL.
    private func serve(_ folder: String) throws -> String {
        for attempt in 0..<5 {
            let port = Int.random(in: 20_000..<60_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", folder]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            addTeardownBlock { process.terminate(); process.waitUntilExit() }
            let base = "http://127.0.0.1:\(port)"
            for _ in 0..<50 {
                if let url = URL(string: base + "/"), (try? Data(contentsOf: url)) != nil { return base }
                if !process.isRunning { break }
                usleep(100_000)
            }
            process.terminate()
            _ = attempt
        }
        throw XCTSkip("could not start python3 -m http.server on loopback")
    }

    func testDownloadCheckMD5AndUnpack() throws {
        let served = try temporaryFolder(self)
        try FileManager.default.copyItem(atPath: Fixture.path("cifar/cifar-10-python.tar.gz"), toPath: served + "/cifar-10-python.tar.gz")
        let base = try serve(served)
        let root = try temporaryFolder(self)
        let spec = DatasetSpec(kind: .cifar10, root: root, download: true)
        // A wrong checksum: the archive is refused and nothing is left behind.
        assertDatasetError(.download, ["MD5", "expected 00000000000000000000000000000000"]) {
            try DatasetCatalog.prepare(spec, archiveURL: base + "/cifar-10-python.tar.gz", archiveMD5: String(repeating: "0", count: 32))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), [])
        // A missing file on the server.
        assertDatasetError(.download, ["404", root + "/cifar-10-python.tar.gz"]) {
            try DatasetCatalog.prepare(spec, archiveURL: base + "/nothere.tar.gz", archiveMD5: Self.fixtureMD5)
        }
        try DatasetCatalog.prepare(spec, archiveURL: base + "/cifar-10-python.tar.gz", archiveMD5: Self.fixtureMD5)
        guard case let .memory(set) = try DatasetCatalog.load(spec, train: true) else { return XCTFail("expected memory") }
        XCTAssertEqual(set.count, 15)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: root)), ["cifar-10-python.tar.gz", "cifar-10-batches-py"])
    }

    func testDamagedArchiveLeavesNoHalfUnpackedFolder() throws {
        let served = try temporaryFolder(self)
        let whole = try Data(contentsOf: URL(fileURLWithPath: Fixture.path("cifar/cifar-10-python.tar.gz")))
        let cut = whole.prefix(whole.count - 40)
        try cut.write(to: URL(fileURLWithPath: served + "/cut.tar.gz"))
        let base = try serve(served)
        let root = try temporaryFolder(self)
        let spec = DatasetSpec(kind: .cifar10, root: root, download: true)
        assertDatasetError(.truncated, ["cifar-10-python.tar.gz"]) {
            try DatasetCatalog.prepare(spec, archiveURL: base + "/cut.tar.gz", archiveMD5: MD5.hex(cut))
        }
        // The checked archive stays (it is what was published), but no data folder and no staging.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), ["cifar-10-python.tar.gz"])
        assertDatasetError(.missingFile, ["cifar-10-batches-py"]) { try DatasetCatalog.load(spec, train: true) }
    }

    func testOfflineErrorSaysWhereToPutTheFile() throws {
        let root = try temporaryFolder(self)
        assertDatasetError(.missingFile, ["cifar-100-python", "cifar-100-python.tar.gz", root, "download: true"]) {
            try DatasetCatalog.prepare(DatasetSpec(kind: .cifar100, root: root, download: false))
        }
        // Nothing listens on port 9 of loopback: the error says where to put the archive instead.
        assertDatasetError(.download, ["put the archive", root + "/cifar-100-python.tar.gz"]) {
            try DatasetCatalog.prepare(DatasetSpec(kind: .cifar100, root: root, download: true), archiveURL: "http://127.0.0.1:9/x.tar.gz")
        }
    }
}
