import Engine
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Tensor files that are special files, hold NaN or infinity, or have an empty dimension: each
/// is refused with a sentence naming the file, and nothing blocks.
final class IOHostileInputTests: XCTestCase {
    func testFIFOAndDeviceAreRefusedNotReadForever() throws {
        let dir = try Fixture.temporaryDirectory(for: self)
        let fifo = dir.appendingPathComponent("weights.safetensors")
        XCTAssertEqual(mkfifo(fifo.path, 0o644), 0)
        let done = expectation(description: "reads return")
        func reads() {
            assertTensorFileError(try SafeTensors.read(contentsOf: fifo), kind: .unreadable, path: fifo.path, mentions: "not a regular file")
            assertTensorFileError(try NPY.read(contentsOf: fifo), kind: .unreadable, path: fifo.path, mentions: "not a regular file")
            let zero = URL(fileURLWithPath: "/dev/zero")
            assertTensorFileError(try NPY.read(contentsOf: zero), kind: .unreadable, path: "/dev/zero", mentions: "not a regular file")
            assertTensorFileError(try NPY.read(contentsOf: dir), kind: .unreadable, path: dir.path, mentions: "not a regular file")
            done.fulfill()
        }
        Thread.detachNewThread(reads)
        wait(for: [done], timeout: 5)
    }

    func testNaNAndInfinityAreFoundAndPlaced() throws {
        var values = [Float](repeating: 1, count: 2 * 3 * 4)
        values[1 * 12 + 1 * 4 + 2] = .nan
        values[23] = -.infinity
        let array = HostArray(floats: values, shape: [2, 3, 4])
        assertTensorFileError(try array.checkFinite(path: "x.npy"), kind: .inconsistent, path: "x.npy",
                              mentions: "2 of the 24 values are NaN or infinite (as float32); the first is nan at index [1, 1, 2]")
        // A float64 value too large for float32 becomes infinite in the engine: found too.
        let wide = HostArray(doubles: [0, 1e300], shape: [2])
        assertTensorFileError(try wide.checkFinite(path: "w.npy"), kind: .inconsistent, path: "w.npy", mentions: "index [1]")
        XCTAssertNoThrow(try HostArray(floats: [1, 2], shape: [2]).checkFinite(path: "ok.npy"))
        XCTAssertNoThrow(try HostArray(int64s: [1, 2], shape: [2]).checkFinite(path: "ok.npy"))
        // Round trip through a file, as `embed` reads it.
        let url = try Fixture.temporaryDirectory(for: self).appendingPathComponent("x.npy")
        try NPY.write(array, to: url)
        assertTensorFileError(try NPY.read(contentsOf: url).checkFinite(path: url.path), kind: .inconsistent, path: url.path, mentions: "NaN")
    }

    func testEmptyDimensionsAreRefused() throws {
        let empty = HostArray(floats: [], shape: [0, 3, 8, 8])
        assertTensorFileError(try empty.checkNonEmpty(path: "e.npy"), kind: .inconsistent, path: "e.npy", mentions: "size 0 along axis 0")
        XCTAssertNoThrow(try HostArray(floats: [1], shape: [1, 1]).checkNonEmpty(path: "ok.npy"))
    }

    /// Header fields at the limits of their integer types: refused with a sentence, no trap.
    func testOverflowingShapesAreRefused() throws {
        func npy(_ header: String, data: [UInt8] = []) -> [UInt8] {
            var literal = Array(header.utf8)
            while (10 + literal.count + 1) % 64 != 0 { literal.append(0x20) }
            literal.append(0x0a)
            return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(literal.count & 0xff), UInt8(literal.count >> 8)] + literal + data
        }
        let huge = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 9223372036854775807), }")
        assertTensorFileError(try NPY.decode(huge, path: "h.npy"), kind: .inconsistent, path: "h.npy", mentions: "too many elements")
        let wide = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }")
        assertTensorFileError(try NPY.decode(wide, path: "w.npy"), kind: .truncated, path: "w.npy", mentions: "needs more")
        let tooBig = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }")
        assertTensorFileError(try NPY.decode(tooBig, path: "t.npy"), kind: .malformedHeader, path: "t.npy", mentions: "integer")
        // safetensors: offsets and shape at Int64.max.
        let json = #"{"a":{"dtype":"F32","shape":[9223372036854775807,2],"data_offsets":[0,9223372036854775807]}}"#
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        let file = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) } + header
        assertTensorFileError(try SafeTensors.decode(file, path: "s.safetensors"), kind: .inconsistent, path: "s.safetensors", mentions: "too many elements")
    }
}
