import Foundation
import XCTest
import Engine

/// Locations of the committed fixtures and per-test scratch folders for the IO, loss and k-means
/// tests.
enum Fixture {
    /// The committed file at `Fixtures/<relativePath>`.
    static func url(_ relativePath: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        guard let base = Bundle.module.resourceURL?.appendingPathComponent("Fixtures") else {
            throw XCTSkip("test bundle has no resources")
        }
        let url = base.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            XCTFail("missing fixture \(relativePath); regenerate with scripts/goldens/", file: file, line: line)
            throw TensorFileError(path: url.path, kind: .unreadable, message: "missing fixture")
        }
        return url
    }

    /// A fresh empty folder, removed when the test ends.
    static func temporaryDirectory(for test: XCTestCase) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }
}

/// The values `scripts/goldens/io_fixtures.py` writes: element k is k·0.5 − 3 for floats,
/// k − 3 for signed integers, k for unsigned, k mod 2 for bool.
enum Ramp {
    static func floats(_ n: Int) -> [Double] { (0..<n).map { Double($0) * 0.5 - 3 } }
    static func signed(_ n: Int) -> [Int64] { (0..<n).map { Int64($0) - 3 } }
    static func unsigned(_ n: Int) -> [Int64] { (0..<n).map { Int64($0) } }
    static func bools(_ n: Int) -> [Int64] { (0..<n).map { Int64($0 % 2) } }
}

/// Asserts that `body` throws a `TensorFileError` of `kind` whose description names `path` and
/// contains `fragment`.
func assertTensorFileError<T>(_ body: @autoclosure () throws -> T, kind: TensorFileError.Kind, path: String,
                              mentions fragment: String, file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a TensorFileError (\(kind)) mentioning '\(fragment)'", file: file, line: line)
    } catch let error as TensorFileError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        XCTAssertTrue(error.description.hasPrefix(path), "error does not name the file: \(error)", file: file, line: line)
        XCTAssertTrue(error.description.contains(fragment), "error does not mention '\(fragment)': \(error)", file: file, line: line)
    } catch {
        XCTFail("unexpected error type \(type(of: error)): \(error)", file: file, line: line)
    }
}
