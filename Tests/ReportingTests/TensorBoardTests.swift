import Foundation
import XCTest
@testable import Reporting

/// The event files `tensorboard --logdir runs` reads: CRC-32C, its mask, the TFRecord framing and
/// the Event protobuf, checked against published vectors and a file TensorBoard itself wrote.
final class TensorBoardTests: XCTestCase {
    /// RFC 3720 appendix B.4 and the usual check value.
    func testCRC32CKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum([]), 0)
    }

    /// TensorFlow's mask: rotate right 15, add 0xA282EAD8; it inverts.
    func testMaskedCRC() {
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(0xE306_9283), ((0xE306_9283 >> 15) | (0xE306_9283 << 17 & 0xFFFF_FFFF)) &+ 0xA282_EAD8)
        for crc: UInt32 in [0, 1, 0xE306_9283, 0xFFFF_FFFF, 0x8000_0000] { XCTAssertEqual(CRC32C.unmasked(CRC32C.masked(crc)), crc) }
    }

    /// The three events of scripts/goldens/tensorboard_events.py, encoded and framed by us, equal
    /// TensorBoard's own bytes.
    func testFramingAndEventsMatchTensorBoardsWriter() throws {
        let golden = try [UInt8](Data(contentsOf: XCTUnwrap(Bundle.module.url(forResource: "tensorboard_golden", withExtension: "tfevents",
                                                                              subdirectory: "Fixtures"))))
        let ours = TFRecord.framed(EventProto.fileVersion(wallTime: 1_700_000_000.25))
            + TFRecord.framed(EventProto.scalars(wallTime: 1_700_000_001.5, step: 3, [("encoder/loss", 4.25), ("encoder/lr", 0.1)]))
            + TFRecord.framed(EventProto.scalars(wallTime: 1_700_000_002, step: 300, [("classifier/train_accuracy", 87.5)]))
        XCTAssertEqual(ours.count, golden.count)
        XCTAssertEqual(ours, golden)
        let events = try TFRecord.records(golden).map { try XCTUnwrap(EventProto.decode($0)) }
        XCTAssertEqual(events.map(\.fileVersion), ["brain.Event:2", nil, nil])
        XCTAssertEqual(events.map(\.step), [0, 3, 300])
        XCTAssertEqual(events[1].scalars, ["encoder/loss": 4.25, "encoder/lr": 0.1])
        XCTAssertEqual(events[2].wallTime, 1_700_000_002)
    }

    /// A damaged byte anywhere is found by a CRC; a cut file is reported as truncated.
    func testDamagedRecordsAreRejected() {
        let record = TFRecord.framed(EventProto.scalars(wallTime: 1, step: 1, [("a", 1)]))
        for index in [0, 9, 14, record.count - 1] {
            var damaged = record
            damaged[index] ^= 0x40
            XCTAssertThrowsError(try TFRecord.records(damaged), "byte \(index)")
        }
        XCTAssertThrowsError(try TFRecord.records(Array(record.dropLast(2)))) { error in
            XCTAssertTrue(String(describing: error).contains("truncated"), "\(error)")
        }
    }

    /// The writer's file reads back: the version header, then one event per record with the
    /// record's numbers as `<stage>/<name>` (lists as min / mean / max).
    func testWriterRoundTrip() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-tb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let writer = try TensorBoardWriter(directory: folder, time: Date(timeIntervalSince1970: 1000))
        writer.add(.init(stage: "encoder", event: "epoch", epoch: 2, time: 1001, values: ["loss": .float(3.5), "phase": .string("main")]))
        writer.add(.init(stage: "encoder", event: "recluster", epoch: 2, time: 1002, values: ["temperatures": .list([.float(0.1), .float(0.3)])]))
        XCTAssertTrue(writer.url.lastPathComponent.hasPrefix("events.out.tfevents.1000."))
        let events = try TensorBoardWriter.read(writer.url)
        XCTAssertEqual(events.count, 3)
        XCTAssertEqual(events[0].fileVersion, "brain.Event:2")
        XCTAssertEqual(events[1].scalars, ["encoder/loss": 3.5])
        XCTAssertEqual(events[1].step, 2)
        XCTAssertEqual(events[2].scalars["encoder/recluster/temperatures_max"], 0.3)
        XCTAssertEqual(Double(events[2].scalars["encoder/recluster/temperatures_mean"]!), 0.2, accuracy: 1e-6)
    }
}
