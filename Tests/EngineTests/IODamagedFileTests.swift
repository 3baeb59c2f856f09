import Foundation
import XCTest
@testable import Engine

/// A corpus of damaged safetensors and `.npy` files: each must give a `TensorFileError` that names
/// the file and the problem, never a crash.
final class IODamagedFileTests: XCTestCase {
    private func write(_ bytes: [UInt8], _ name: String) throws -> URL {
        let url = try Fixture.temporaryDirectory(for: self).appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    private func validSafeTensors() throws -> [UInt8] {
        try SafeTensors.encode([("a", HostArray(floats: [1, 2, 3, 4], shape: [2, 2])),
                                ("b", HostArray(int64s: [5], shape: [1]))])
    }

    func testMissingFile() {
        let url = URL(fileURLWithPath: "/nonexistent-sbcl/x.safetensors")
        assertTensorFileError(try SafeTensors.read(contentsOf: url), kind: .unreadable, path: url.path, mentions: "no such file")
        assertTensorFileError(try NPY.read(contentsOf: url), kind: .unreadable, path: url.path, mentions: "no such file")
    }

    func testSafeTensorsCorpus() throws {
        let valid = try validSafeTensors()
        let data = HostArray(floats: [1, 2], shape: [2]).bytes
        func entry(_ name: String, _ dtype: String, _ shape: String, _ offsets: String) -> String {
            #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
        }
        let corpus: [(String, [UInt8], TensorFileError.Kind, String)] = [
            ("empty", [], .truncated, "too short"),
            ("truncated-data", Array(valid.dropLast(3)), .truncated, "run past"),
            ("truncated-header", Array(valid.prefix(20)), .truncated, "runs past the end"),
            ("huge-header-length", SafeTensorsBytes.make(header: "{}", data: [], declaredLength: 1 << 40), .malformedHeader, "exceeds"),
            ("not-json", SafeTensorsBytes.make(header: "{\"a\": nope}", data: []), .malformedHeader, "not valid JSON"),
            ("not-an-object", SafeTensorsBytes.make(header: "[1,2]   ", data: []), .malformedHeader, "start with '{'"),
            ("unknown-dtype", SafeTensorsBytes.make(header: "{" + entry("a", "F8_E4M3", "[2]", "[0,2]") + "}", data: [0, 0]), .unsupported, "F8_E4M3"),
            ("size-mismatch", SafeTensorsBytes.make(header: "{" + entry("a", "F32", "[3]", "[0,8]") + "}", data: data), .inconsistent, "needs 12"),
            ("out-of-range", SafeTensorsBytes.make(header: "{" + entry("a", "F32", "[4]", "[0,16]") + "}", data: data), .truncated, "run past"),
            ("overlap", SafeTensorsBytes.make(header: "{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[1]", "[4,8]") + "}", data: data), .inconsistent, "overlap"),
            ("hole", SafeTensorsBytes.make(header: "{" + entry("a", "F32", "[1]", "[4,8]") + "}", data: data), .inconsistent, "hole"),
            ("trailing-bytes", SafeTensorsBytes.make(header: "{" + entry("a", "F32", "[1]", "[0,4]") + "}", data: data), .inconsistent, "trailing"),
            ("reversed-offsets", SafeTensorsBytes.make(header: "{" + entry("a", "F32", "[1]", "[8,4]") + "}", data: data), .inconsistent, "begin <= end"),
            ("negative-shape", SafeTensorsBytes.make(header: "{" + entry("a", "F32", "[-1]", "[0,8]") + "}", data: data), .malformedHeader, "non-negative"),
            ("missing-shape", SafeTensorsBytes.make(header: #"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, data: data), .malformedHeader, "missing \"shape\""),
            ("duplicate", SafeTensorsBytes.make(header: "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("a", "F32", "[1]", "[4,8]") + "}", data: data), .malformedHeader, "twice"),
            ("bad-metadata", SafeTensorsBytes.make(header: #"{"__metadata__":{"k":3}}"#, data: []), .malformedHeader, "__metadata__"),
            ("unterminated-string", SafeTensorsBytes.make(header: #"{"a   "#, data: []), .malformedHeader, "unterminated"),
            ("overflowing-shape", SafeTensorsBytes.make(header: "{" + entry("a", "F32", "[4611686018427387904,4]", "[0,8]") + "}", data: data), .inconsistent, "too many elements"),
        ]
        for (name, bytes, kind, fragment) in corpus {
            let url = try write(bytes, "\(name).safetensors")
            assertTensorFileError(try SafeTensors.read(contentsOf: url), kind: kind, path: url.path, mentions: fragment)
        }
    }

    func testEveryTruncationOfAValidSafeTensorsFileThrows() throws {
        let valid = try validSafeTensors()
        for cut in 0..<valid.count {
            XCTAssertThrowsError(try SafeTensors.decode(Array(valid.prefix(cut)), path: "cut\(cut)"), "cut at \(cut)")
        }
    }

    func testNPYCorpus() throws {
        let valid = try NPY.encode(HostArray(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3]))
        func withHeader(_ literal: String, data: [UInt8] = HostArray(floats: [1, 2], shape: [2]).bytes) -> [UInt8] {
            let h = Array(literal.utf8) + [0x0a]
            return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 0xff), UInt8(h.count >> 8)] + h + data
        }
        var wrongMagic = valid
        wrongMagic[1] = UInt8(ascii: "X")
        var badVersion = valid
        badVersion[6] = 9
        var longHeader = valid
        longHeader[8] = 0xff
        longHeader[9] = 0xff
        let corpus: [(String, [UInt8], TensorFileError.Kind, String)] = [
            ("tiny", [0x93, 0x4e], .truncated, "too short"),
            ("wrong-magic", wrongMagic, .malformedHeader, "magic"),
            ("bad-version", badVersion, .unsupported, "version 9.0"),
            ("header-past-end", longHeader, .truncated, "runs past"),
            ("truncated-data", Array(valid.dropLast(1)), .truncated, "needs 24"),
            ("trailing-data", valid + [0], .inconsistent, "trailing"),
            ("not-a-dict", withHeader("['descr']"), .malformedHeader, "dictionary"),
            ("missing-shape", withHeader("{'descr': '<f4', 'fortran_order': False}"), .malformedHeader, "'shape'"),
            ("object-dtype", withHeader("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"), .unsupported, "'|O'"),
            ("complex-dtype", withHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }"), .unsupported, "'<c8'"),
            ("structured", withHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"), .unsupported, "structured"),
            ("bad-shape", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }"), .malformedHeader, "integer"),
            ("garbled", withHeader("{'descr': '<f4' 'fortran_order'"), .malformedHeader, "expected"),
        ]
        for (name, bytes, kind, fragment) in corpus {
            let url = try write(bytes, "\(name).npy")
            assertTensorFileError(try NPY.read(contentsOf: url), kind: kind, path: url.path, mentions: fragment)
        }
    }

    func testEveryTruncationOfAValidNPYFileThrows() throws {
        let valid = try NPY.encode(HostArray(int64s: [1, 2, 3], shape: [3]))
        for cut in 0..<valid.count {
            XCTAssertThrowsError(try NPY.decode(Array(valid.prefix(cut)), path: "cut\(cut)"), "cut at \(cut)")
        }
    }
}
