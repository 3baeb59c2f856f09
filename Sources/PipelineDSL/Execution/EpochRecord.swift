import Foundation

/// One line of a run's `metrics.jsonl`: what a training stage measured in one epoch (`event`
/// `epoch`) or at an event inside it (e.g. `recluster`).
///
/// The line is one canonical JSON object: `stage`, `event`, `epoch`, `time` (Unix seconds) and the
/// measured values at the top level (`{"epoch":3,"event":"epoch","loss":4.2,"lr":0.1,...}`).
public struct EpochRecord: Sendable, Equatable {
    /// Keys a record's line uses for itself; measured values may not take them.
    public static let reservedKeys: Set<String> = ["stage", "event", "epoch", "time"]

    /// The recipe's name of the stage that measured it.
    public var stage: String
    /// `epoch` for the per-epoch line, otherwise the event's name (`recluster`).
    public var event: String
    /// The epoch, counted from 1.
    public var epoch: Int
    /// Seconds since 1970 when it was recorded.
    public var time: Double
    /// The measured values: numbers, or lists of numbers (e.g. one per class).
    public var values: [String: ParamValue]

    /// A record; non-finite numbers are left out (JSON has no NaN).
    public init(stage: String, event: String, epoch: Int, time: Double = Date().timeIntervalSince1970, values: [String: ParamValue]) {
        precondition(values.keys.allSatisfy { !Self.reservedKeys.contains($0) },
                     "EpochRecord: values use a reserved key (\(values.keys.filter(Self.reservedKeys.contains)))")
        self.stage = stage
        self.event = event
        self.epoch = epoch
        self.time = time
        self.values = values.filter { $0.value.isFiniteValue }
    }

    /// The record as one JSON line (no newline).
    public var jsonLine: String {
        var map = values
        map["stage"] = .string(stage)
        map["event"] = .string(event)
        map["epoch"] = .int(epoch)
        map["time"] = .float((time * 1000).rounded() / 1000)
        return ParamValue.map(map).canonicalJSON
    }

    /// Reads a line written by `jsonLine`; nil for anything else.
    public init?(jsonLine: String) {
        guard var map = ParamValue.parseJSON(jsonLine)?.mapValue, let stage = map["stage"]?.stringValue,
              let event = map["event"]?.stringValue, let epoch = map["epoch"]?.intValue else { return nil }
        let time = map["time"]?.doubleValue ?? 0
        for key in Self.reservedKeys { map[key] = nil }
        self.init(stage: stage, event: event, epoch: epoch, time: time, values: map)
    }

    /// The numeric value `name`, if it is a number.
    public func number(_ name: String) -> Double? { values[name]?.doubleValue }

    /// Records of JSON-lines text, skipping unreadable lines; where a stage, event and epoch occur
    /// more than once (an epoch redone after a resume) the last one is kept, in place of the first.
    public static func parseLines(_ text: String) -> [EpochRecord] {
        var records: [EpochRecord] = []
        var index: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let record = EpochRecord(jsonLine: String(line)) else { continue }
            let key = "\(record.stage)\u{0}\(record.event)\u{0}\(record.epoch)"
            if let at = index[key] { records[at] = record } else { index[key] = records.count; records.append(record) }
        }
        return records
    }
}

extension EpochRecord {
    /// Appends `line` and a newline to `url`, creating the file (and its folder) when missing.
    /// Best effort: a record that cannot be written must not stop training.
    static func appendLine(_ line: String, to url: URL) {
        let data = Data((line + "\n").utf8)
        if let handle = try? FileHandle(forWritingTo: url) {
            _ = try? handle.seekToEnd()
            handle.write(data)
            try? handle.close()
        } else {
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? data.write(to: url)
        }
    }
}

extension ParamValue {
    /// False for a non-finite float, or a list or map holding one.
    var isFiniteValue: Bool {
        switch self {
        case .float(let value): return value.isFinite
        case .list(let values): return values.allSatisfy(\.isFiniteValue)
        case .map(let entries): return entries.values.allSatisfy(\.isFiniteValue)
        case .int, .bool, .string: return true
        }
    }
}
