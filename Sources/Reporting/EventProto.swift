import Foundation

/// The few protobuf messages of a TensorBoard scalar event file, encoded by hand (tensorflow's
/// `event.proto` and `summary.proto`): `Event{wall_time = 1 (double), step = 2 (int64),
/// file_version = 3 (string), summary = 5}`, `Summary{value = 1 (repeated)}`,
/// `Summary.Value{tag = 1 (string), simple_value = 2 (float)}`.
package enum EventProto {
    /// The first record of every event file.
    package static func fileVersion(wallTime: Double) -> [UInt8] {
        double(field: 1, wallTime) + bytes(field: 3, Array("brain.Event:2".utf8))
    }

    /// An event with one scalar per tag at `step`.
    package static func scalars(wallTime: Double, step: Int64, _ values: [(tag: String, value: Float)]) -> [UInt8] {
        let summary = values.flatMap { entry in
            bytes(field: 1, bytes(field: 1, Array(entry.tag.utf8)) + float(field: 2, entry.value))
        }
        return double(field: 1, wallTime) + varint(field: 2, UInt64(bitPattern: step)) + bytes(field: 5, summary)
    }

    /// A decoded scalar event (what a reader sees), for tests and `sbcl-run` itself.
    package struct Decoded: Equatable {
        package var wallTime: Double = 0
        package var step: Int64 = 0
        package var fileVersion: String?
        package var scalars: [String: Float] = [:]
    }

    /// Decodes an event written by this encoder; nil when the bytes are not such an event.
    package static func decode(_ data: [UInt8]) -> Decoded? {
        var event = Decoded()
        guard let fields = parse(data) else { return nil }
        for (number, value) in fields {
            switch (number, value) {
            case (1, .fixed64(let bits)): event.wallTime = Double(bitPattern: bits)
            case (2, .varint(let raw)): event.step = Int64(bitPattern: raw)
            case (3, .bytes(let text)): event.fileVersion = String(decoding: text, as: UTF8.self)
            case (5, .bytes(let summary)):
                guard let values = parse(summary) else { return nil }
                for case (1, .bytes(let entry)) in values {
                    guard let parts = parse(entry) else { return nil }
                    var tag = "", scalar: Float?
                    for part in parts {
                        if case (1, .bytes(let text)) = part { tag = String(decoding: text, as: UTF8.self) }
                        if case (2, .fixed32(let bits)) = part { scalar = Float(bitPattern: bits) }
                    }
                    if let scalar { event.scalars[tag] = scalar }
                }
            default: continue
            }
        }
        return event
    }

    enum Wire { case varint(UInt64), fixed64(UInt64), bytes([UInt8]), fixed32(UInt32) }

    static func parse(_ data: [UInt8]) -> [(Int, Wire)]? {
        var fields: [(Int, Wire)] = [], at = 0
        func readVarint() -> UInt64? {
            var value: UInt64 = 0, shift: UInt64 = 0
            while at < data.count, shift < 64 {
                let byte = data[at]
                at += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        func fixed(_ count: Int) -> UInt64? {
            guard data.count - at >= count else { return nil }
            defer { at += count }
            return (0..<count).reduce(UInt64(0)) { $0 | UInt64(data[at + $1]) << (8 * UInt64($1)) }
        }
        while at < data.count {
            guard let key = readVarint() else { return nil }
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: guard let v = readVarint() else { return nil }; fields.append((number, .varint(v)))
            case 1: guard let v = fixed(8) else { return nil }; fields.append((number, .fixed64(v)))
            case 5: guard let v = fixed(4) else { return nil }; fields.append((number, .fixed32(UInt32(v))))
            case 2:
                guard let length = readVarint(), length <= UInt64(data.count - at) else { return nil }
                fields.append((number, .bytes(Array(data[at..<(at + Int(length))]))))
                at += Int(length)
            default: return nil
            }
        }
        return fields
    }

    static func key(_ field: Int, _ wire: UInt64) -> [UInt8] { encodeVarint(UInt64(field) << 3 | wire) }

    static func encodeVarint(_ value: UInt64) -> [UInt8] {
        var value = value, out: [UInt8] = []
        repeat {
            let low = UInt8(value & 0x7F)
            value >>= 7
            out.append(value == 0 ? low : low | 0x80)
        } while value != 0
        return out
    }

    static func varint(field: Int, _ value: UInt64) -> [UInt8] { key(field, 0) + encodeVarint(value) }
    static func double(field: Int, _ value: Double) -> [UInt8] { key(field, 1) + TFRecord.littleEndian(value.bitPattern) }
    static func float(field: Int, _ value: Float) -> [UInt8] { key(field, 5) + TFRecord.littleEndian(value.bitPattern) }
    static func bytes(field: Int, _ value: [UInt8]) -> [UInt8] { key(field, 2) + encodeVarint(UInt64(value.count)) + value }
}
