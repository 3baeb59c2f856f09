import Datasets
import Foundation
import XCTest

/// Paths of committed fixtures and a minimal `.npy` reader for the goldens numpy wrote.
enum Fixture {
    /// The absolute path of `Fixtures/relative`.
    static func path(_ relative: String) -> String {
        let base = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
        return base.appendingPathComponent(relative).path
    }

    /// Reads a 1-D `.npy` file of `<i4`, `<i8` or `|u1` values as Ints.
    static func npyInts(_ relative: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Int] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(relative))))
        XCTAssertEqual(Array(bytes[0..<6]), [0x93] + Array("NUMPY".utf8), file: file, line: line)
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        let body = Array(bytes[(10 + headerLength)...])
        if header.contains("'<i4'") {
            return stride(from: 0, to: body.count, by: 4).map { k in
                Int(Int32(bitPattern: UInt32(body[k]) | UInt32(body[k + 1]) << 8 | UInt32(body[k + 2]) << 16 | UInt32(body[k + 3]) << 24))
            }
        }
        if header.contains("'|u1'") { return body.map { Int($0) } }
        XCTFail("unsupported npy header \(header)", file: file, line: line)
        return []
    }
}

/// A fresh temporary folder, removed when the test ends.
func temporaryFolder(_ test: XCTestCase) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-datasets-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url.path
}

/// Asserts that `body` throws a `DatasetError` of `kind` whose description contains each fragment.
func assertDatasetError<T>(_ kind: DatasetError.Kind, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                           _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected a \(kind) error", file: file, line: line)
    } catch let error as DatasetError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(error.description.contains(fragment), "'\(error)' lacks '\(fragment)'", file: file, line: line)
        }
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}
