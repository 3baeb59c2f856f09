import Foundation

/// The run's log: each line goes to the run folder's `log.txt` and to standard error.
///
/// On a terminal a progress line is kept at the bottom and redrawn; a log line first clears it.
public final class RunLog: @unchecked Sendable {
    // Mutable state is only touched under `lock`, so the log may be shared across threads.
    private let lock = NSLock()
    private var file: FileHandle?
    private var liveLineShown = false
    /// Whether standard error is a terminal (progress is redrawn in place rather than printed).
    public let isTerminal: Bool
    /// Whether log lines are echoed to standard error.
    public let echo: Bool

    /// Creates a log appending to `fileURL` (created if missing); nil writes to standard error only.
    public init(fileURL: URL?, echo: Bool = true, isTerminal: Bool = isatty(2) == 1) {
        self.echo = echo
        self.isTerminal = isTerminal
        if let fileURL {
            if !FileManager.default.fileExists(atPath: fileURL.path) {
                _ = FileManager.default.createFile(atPath: fileURL.path, contents: nil)
            }
            file = try? FileHandle(forWritingTo: fileURL)
            _ = try? file?.seekToEnd()
        }
    }

    deinit { try? file?.close() }

    /// Writes one line, stamped with the UTC time in the file.
    public func write(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        let stamp = ISO8601DateFormatter().string(from: Date())
        file?.write(Data("\(stamp) \(line)\n".utf8))
        if echo {
            let clear = liveLineShown ? "\r\u{1B}[K" : ""
            liveLineShown = false
            FileHandle.standardError.write(Data("\(clear)\(line)\n".utf8))
        }
    }

    /// Shows a transient status line on a terminal (replacing the previous one).
    func showLive(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        guard echo, isTerminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
        liveLineShown = true
    }

    /// Removes the transient status line.
    func clearLive() {
        lock.lock()
        defer { lock.unlock() }
        if liveLineShown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        liveLineShown = false
    }
}

/// Reports a stage's progress: step, total, rate and ETA; redrawn on a terminal, plain lines otherwise.
public final class ProgressReporter: @unchecked Sendable {
    // Mutable state is only touched under `lock`.
    private let lock = NSLock()
    private let stage: String
    private let log: RunLog
    private var firstStep: Int?
    private var firstTime: Date?
    private var lastPrinted: Date = .distantPast
    private var lastFraction = -1.0
    /// Seconds between plain progress lines when not on a terminal.
    public var plainInterval: TimeInterval = 10

    /// Creates a reporter for the named stage writing through `log`.
    public init(stage: String, log: RunLog) {
        self.stage = stage
        self.log = log
    }

    /// Reports that `step` of `total` steps are done (`total` nil when unknown), with a short message.
    ///
    /// The rate counts steps done in this process (a resumed stage starts its clock at its first
    /// report), so the ETA is honest after a resume.
    public func update(step: Int, total: Int?, message: String = "") {
        lock.lock()
        let now = Date()
        if firstStep == nil { firstStep = step; firstTime = now }
        let elapsed = now.timeIntervalSince(firstTime!)
        let rate = elapsed > 0 ? Double(step - firstStep!) / elapsed : 0
        var text = "\(stage): step \(step)"
        if let total { text += "/\(total)" }
        if rate > 0 { text += String(format: "  %.2f steps/s", rate) }
        if let total, rate > 0 { text += "  ETA \(Self.duration(Double(total - step) / rate))" }
        if !message.isEmpty { text += "  \(message)" }
        let fraction = total.map { Double(step) / Double(max($0, 1)) } ?? 0
        let due: Bool
        if log.isTerminal {
            // Redraw at most ten times a second: fast loops must not flood the terminal.
            due = now.timeIntervalSince(lastPrinted) >= 0.1 || step == total
        } else {
            due = now.timeIntervalSince(lastPrinted) >= plainInterval || fraction >= lastFraction + 0.1 || step == total
        }
        if due {
            lastPrinted = now
            lastFraction = fraction
        }
        lock.unlock()
        guard due else { return }
        if log.isTerminal { log.showLive(text) } else { log.write(text) }
    }

    /// Clears the progress line.
    public func finish() { log.clearLive() }

    /// `h:mm:ss` or `m:ss`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }
}
