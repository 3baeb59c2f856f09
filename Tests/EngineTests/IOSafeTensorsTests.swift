import Foundation
import XCTest
@testable import Engine

final class IOSafeTensorsTests: XCTestCase {
    func testReadsFileSavedByPyTorch() throws {
        let f = try SafeTensors.read(contentsOf: Fixture.url("io/torch_saved.safetensors"))
        XCTAssertEqual(f.metadata, ["format": "pt", "epoch": "12"])
        XCTAssertEqual(Set(f.names), ["weight.f32", "weight.f64", "half.f16", "brain.bf16", "count.i64", "ids.i32",
                                      "bytes.u8", "mask.bool", "empty.f32"])
        let w = try f.array(named: "weight.f32")
        XCTAssertEqual(w.dtype, .float32)
        XCTAssertEqual(w.shape, [2, 3])
        XCTAssertEqual(w.doubles(), Ramp.floats(6))
        XCTAssertEqual(try f.array(named: "weight.f64").doubles(), Ramp.floats(4))
        XCTAssertEqual(try f.array(named: "half.f16").doubles(), Ramp.floats(5))
        XCTAssertEqual(try f.array(named: "brain.bf16").dtype, .bfloat16)
        XCTAssertEqual(try f.array(named: "brain.bf16").doubles(), Ramp.floats(5))
        let count = try f.array(named: "count.i64")
        XCTAssertEqual(count.shape, [])
        XCTAssertEqual(try count.int64s(), [7])
        XCTAssertEqual(try f.array(named: "ids.i32").int32s(), Ramp.signed(8).map { Int32($0) })
        XCTAssertEqual(try f.array(named: "bytes.u8").int64s(), Ramp.unsigned(7))
        XCTAssertEqual(try f.array(named: "mask.bool").int64s(), Ramp.bools(4))
        XCTAssertEqual(try f.array(named: "empty.f32").shape, [0, 3])
        assertTensorFileError(try f.array(named: "nope"), kind: .missingTensor, path: f.path, mentions: "'nope'")
    }

    func testRoundTripKeepsOrderDtypesAndMetadata() throws {
        let dir = try Fixture.temporaryDirectory(for: self)
        let url = dir.appendingPathComponent("ckpt.safetensors")
        let tensors: [(name: String, array: HostArray)] = [
            ("encoder.conv1.weight", HostArray(floats: (0..<432).map { Float($0) * 0.01 }, shape: [16, 3, 3, 3])),
            ("encoder.bn1.num_batches_tracked", HostArray(int64s: [3], shape: [])),
            ("labels", HostArray(int32s: [1, -2, 3], shape: [3])),
            ("pixels", HostArray(uint8s: [0, 255, 7], shape: [3])),
            ("weird \"name\"\n", HostArray(floats: [1], shape: [1, 1])),
            ("empty", HostArray(floats: [], shape: [0])),
        ]
        try SafeTensors.write(tensors, metadata: ["epoch": "700", "note": "ünïcode"], to: url)
        let back = try SafeTensors.read(contentsOf: url)
        XCTAssertEqual(back.names, tensors.map(\.name))
        XCTAssertEqual(back, SafeTensorsFile(path: url.path, tensors: tensors, metadata: ["epoch": "700", "note": "ünïcode"]))

        // Layout: header length prefix, header padded with spaces to a multiple of 8.
        let bytes = [UInt8](try Data(contentsOf: url))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(n % 8, 0)
        XCTAssertEqual(bytes[8], UInt8(ascii: "{"))
        XCTAssertEqual(bytes.count, 8 + n + 432 * 4 + 8 + 12 + 3 + 4)
    }

    func testOverwriteIsAtomicAndLeavesNoTemporaries() throws {
        let dir = try Fixture.temporaryDirectory(for: self)
        let url = dir.appendingPathComponent("a.safetensors")
        try SafeTensors.write([("x", HostArray(floats: [1, 2], shape: [2]))], to: url)
        try SafeTensors.write([("y", HostArray(floats: [3], shape: [1]))], to: url)
        XCTAssertEqual(try SafeTensors.read(contentsOf: url).names, ["y"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["a.safetensors"])
    }

    func testWriteRejectsDuplicateAndReservedNames() throws {
        let dir = try Fixture.temporaryDirectory(for: self)
        let url = dir.appendingPathComponent("bad.safetensors")
        let a = HostArray(floats: [1], shape: [1])
        assertTensorFileError(try SafeTensors.write([("x", a), ("x", a)], to: url), kind: .unwritable, path: url.path, mentions: "'x'")
        assertTensorFileError(try SafeTensors.write([("__metadata__", a)], to: url), kind: .unwritable, path: url.path, mentions: "reserved")
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testWriteIntoMissingFolderThrows() {
        let url = URL(fileURLWithPath: "/nonexistent-sbcl-dir/x.safetensors")
        assertTensorFileError(try SafeTensors.write([("x", HostArray(floats: [1], shape: [1]))], to: url),
                              kind: .unwritable, path: url.path, mentions: "temporary file")
    }

    func testHeaderOrderDoesNotMatterOnlyOffsets() throws {
        // A header listing tensors in another order than their data (as safetensors.torch does).
        let header = #"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let bytes = SafeTensorsBytes.make(header: header, data: HostArray(floats: [1, 2], shape: [2]).bytes)
        let f = try SafeTensors.decode(bytes, path: "mem")
        XCTAssertEqual(f.names, ["a", "b"])
        XCTAssertEqual(f["b"]?.floats(), [2])
    }
}

/// Builds safetensors bytes from a literal header, for constructing damaged files.
enum SafeTensorsBytes {
    static func make(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        let n = declaredLength ?? UInt64(h.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
    }
}
