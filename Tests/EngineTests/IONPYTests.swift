import Foundation
import XCTest
@testable import Engine

final class IONPYTests: XCTestCase {
    func testReadsFilesSavedByNumpy() throws {
        let cases: [(String, DType, [Int])] = [
            ("f4_2x3.npy", .float32, [2, 3]), ("f8_4.npy", .float64, [4]), ("f2_5.npy", .float16, [5]),
            ("i8_3x2.npy", .int64, [3, 2]), ("i4_2x2x2.npy", .int32, [2, 2, 2]), ("u1_7.npy", .uint8, [7]),
            ("b1_4.npy", .bool, [4]), ("bigendian_f4_2x3.npy", .float32, [2, 3]), ("bigendian_i8_3.npy", .int64, [3]),
            ("v2_f4_2x3.npy", .float32, [2, 3]), ("v3_f4_2x3.npy", .float32, [2, 3]),
            ("fortran_f4_2x3x4.npy", .float32, [2, 3, 4]),
        ]
        for (name, dtype, shape) in cases {
            let a = try NPY.read(contentsOf: Fixture.url("io/\(name)"))
            XCTAssertEqual(a.dtype, dtype, name)
            XCTAssertEqual(a.shape, shape, name)
            let n = shape.reduce(1, *)
            if dtype.isFloatingPoint {
                XCTAssertEqual(a.doubles(), Ramp.floats(n), name)
            } else if dtype == .bool {
                XCTAssertEqual(try a.int64s(), Ramp.bools(n), name)
            } else if dtype == .uint8 {
                XCTAssertEqual(try a.int64s(), Ramp.unsigned(n), name)
            } else {
                XCTAssertEqual(try a.int64s(), Ramp.signed(n), name)
            }
        }
    }

    func testScalarAndEmpty() throws {
        let s = try NPY.read(contentsOf: Fixture.url("io/scalar_f4.npy"))
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.floats(), [2.5])
        let e = try NPY.read(contentsOf: Fixture.url("io/empty_f4_0x3.npy"))
        XCTAssertEqual(e.shape, [0, 3])
        XCTAssertEqual(e.bytes.count, 0)
    }

    func testWriteMatchesNumpyByteForByte() throws {
        // numpy 2.x writes version 1.0 headers padded to 64 bytes; ours must be identical.
        for name in ["f4_2x3.npy", "f8_4.npy", "i8_3x2.npy", "u1_7.npy", "b1_4.npy", "scalar_f4.npy", "empty_f4_0x3.npy"] {
            let url = try Fixture.url("io/\(name)")
            let original = [UInt8](try Data(contentsOf: url))
            XCTAssertEqual(try NPY.encode(NPY.read(contentsOf: url)), original, name)
        }
    }

    func testRoundTripEveryNumpyType() throws {
        let dir = try Fixture.temporaryDirectory(for: self)
        let base = HostArray(doubles: Ramp.floats(12), shape: [3, 4])
        for dtype in DType.allCases where dtype != .bfloat16 {
            let a = base.converted(to: dtype)
            let url = dir.appendingPathComponent("\(dtype).npy")
            try NPY.write(a, to: url)
            XCTAssertEqual(try NPY.read(contentsOf: url), a, "\(dtype)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [], "atomic write left temporary files")
    }

    func testBfloat16IsRefused() throws {
        let dir = try Fixture.temporaryDirectory(for: self)
        let url = dir.appendingPathComponent("x.npy")
        let a = HostArray(floats: [1, 2], shape: [2]).converted(to: .bfloat16)
        assertTensorFileError(try NPY.write(a, to: url), kind: .unsupported, path: url.path, mentions: "bfloat16")
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testHalfConversions() {
        let values: [Float] = [0, -0, 1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, 0.1]
        let halves = HostArray(floats: values, shape: [values.count]).converted(to: .float16)
        let back = halves.floats()
        XCTAssertEqual(Array(back.prefix(7)), Array(values.prefix(7)))
        XCTAssertEqual(back[7], 0.0999755859375)  // nearest half to 0.1
        XCTAssertEqual(HostArray(floats: [1e6], shape: [1]).converted(to: .float16).floats(), [.infinity])
        XCTAssertEqual(HostArray(floats: [1.00390625, 3.0], shape: [2]).converted(to: .bfloat16).floats(), [1.0, 3.0])
    }
}
