import Foundation
import PipelineDSL

/// Writes one TensorBoard event file (`events.out.tfevents.<time>.<host>.<pid>.0`) in a run folder,
/// so `tensorboard --logdir runs` shows every run: one scalar per numeric value of each epoch
/// record, tagged `<stage>/<value>` at step = epoch.
package final class TensorBoardWriter: @unchecked Sendable {
    // The file handle is only touched under `lock`.
    private let lock = NSLock()
    private let handle: FileHandle
    /// The event file.
    package let url: URL

    /// Creates the event file in `directory` and writes its `brain.Event:2` header.
    package init(directory: URL, time: Date = Date()) throws {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        url = directory.appendingPathComponent("events.out.tfevents.\(Int(time.timeIntervalSince1970)).\(host).\(getpid()).0")
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw RunError("cannot create the TensorBoard event file \(url.path)")
        }
        handle = try FileHandle(forWritingTo: url)
        handle.write(Data(TFRecord.framed(EventProto.fileVersion(wallTime: time.timeIntervalSince1970))))
    }

    deinit { try? handle.close() }

    /// Appends one event holding `scalars` at `step`.
    package func add(step: Int, wallTime: Double, scalars: [(tag: String, value: Float)]) {
        guard !scalars.isEmpty else { return }
        let event = EventProto.scalars(wallTime: wallTime, step: Int64(step), scalars)
        lock.lock()
        handle.write(Data(TFRecord.framed(event)))
        lock.unlock()
    }

    /// Appends a record's numbers (lists summarised as min / mean / max, e.g. class temperatures).
    package func add(_ record: EpochRecord) {
        let prefix = record.event == "epoch" ? record.stage : "\(record.stage)/\(record.event)"
        var scalars: [(tag: String, value: Float)] = []
        for name in record.values.keys.sorted() {
            switch record.values[name]! {
            case .int(let value): scalars.append(("\(prefix)/\(name)", Float(value)))
            case .float(let value): scalars.append(("\(prefix)/\(name)", Float(value)))
            case .list(let items):
                let numbers = items.compactMap(\.doubleValue)
                guard !numbers.isEmpty else { continue }
                scalars.append(("\(prefix)/\(name)_min", Float(numbers.min()!)))
                scalars.append(("\(prefix)/\(name)_mean", Float(numbers.reduce(0, +) / Double(numbers.count))))
                scalars.append(("\(prefix)/\(name)_max", Float(numbers.max()!)))
            case .bool, .string, .map: continue
            }
        }
        add(step: record.epoch, wallTime: record.time, scalars: scalars)
    }

    /// Every event of an event file, decoded (checks the framing and both CRCs of every record).
    package static func read(_ url: URL) throws -> [EventProto.Decoded] {
        let bytes = [UInt8](try Data(contentsOf: url))
        return try TFRecord.records(bytes).enumerated().map { index, record in
            guard let event = EventProto.decode(record) else {
                throw TFRecord.FormatError(offset: index, reason: "record \(index) is not an Event message")
            }
            return event
        }
    }
}
