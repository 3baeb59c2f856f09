import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who holds a cache lock, as written in its lease file: enough for a process on any node to
/// decide whether the holder is provably dead, and a heartbeat that shows it is alive.
///
/// The file is `key=value` lines (`host`, `boot_id`, `pid`, `start_time`, `token`, `acquired`,
/// `heartbeat`, `beat`), readable with `cat` when a user wonders who holds a lock.
struct LockHolder: Equatable, Sendable {
    /// The holder's host name.
    var host: String
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`); changes at every boot, so a lease
    /// from an earlier boot of this host is dead whatever its pid.
    var bootID: String
    /// The holder's process id.
    var pid: Int32
    /// The process's start time (clock ticks after boot, `/proc/PID/stat` field 22), which tells
    /// a reused pid from the holder; empty where unknown.
    var startTime: String
    /// Unique per acquisition.
    var token: String
    /// When it was acquired and when the holder last wrote a heartbeat (ISO 8601, the holder's clock).
    var acquired: String
    var heartbeat: String
    /// Heartbeats written so far.
    var beat: Int

    /// This process, now.
    static func current() -> LockHolder {
        let now = ISO8601DateFormatter().string(from: Date())
        let pid = getpid()
        return LockHolder(host: HostIdentity.hostName, bootID: HostIdentity.bootID, pid: pid,
                          startTime: HostIdentity.startTime(of: pid) ?? "", token: UUID().uuidString,
                          acquired: now, heartbeat: now, beat: 0)
    }

    /// The file's text.
    var text: String {
        "host=\(host)\nboot_id=\(bootID)\npid=\(pid)\nstart_time=\(startTime)\ntoken=\(token)\n"
            + "acquired=\(acquired)\nheartbeat=\(heartbeat)\nbeat=\(beat)\n"
    }

    /// Parses a lease file; nil when it is incomplete (being rewritten, or not a lease).
    init?(text: String) {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard let host = fields["host"], !host.isEmpty, let pidText = fields["pid"], let pid = Int32(pidText),
              let beatText = fields["beat"], let beat = Int(beatText) else { return nil }
        self.init(host: host, bootID: fields["boot_id"] ?? "", pid: pid, startTime: fields["start_time"] ?? "",
                  token: fields["token"] ?? "", acquired: fields["acquired"] ?? "", heartbeat: fields["heartbeat"] ?? "", beat: beat)
    }

    init(host: String, bootID: String, pid: Int32, startTime: String, token: String, acquired: String, heartbeat: String, beat: Int) {
        (self.host, self.bootID, self.pid, self.startTime, self.token) = (host, bootID, pid, startTime, token)
        (self.acquired, self.heartbeat, self.beat) = (acquired, heartbeat, beat)
    }

    /// Why the holder is certainly dead, or nil when it may be alive. Only a holder on this host
    /// can be proved dead: its host booted since, its pid is gone, or the pid now names a process
    /// that started at another time. A holder on another host is judged by its heartbeat alone.
    var deathCertificate: String? {
        guard host == HostIdentity.hostName else { return nil }
        if !bootID.isEmpty, !HostIdentity.bootID.isEmpty, bootID != HostIdentity.bootID {
            return "this host has rebooted since it took the lock"
        }
        if pid == getpid() { return nil }
        guard HostIdentity.isAlive(pid) else { return "its process \(pid) is gone" }
        if !startTime.isEmpty, let now = HostIdentity.startTime(of: pid), now != startTime {
            return "its process \(pid) is gone (the pid now names another process)"
        }
        return nil
    }

    /// `host vm, pid 1234, since …` for messages.
    var summary: String { "host \(host), pid \(pid), since \(acquired), last heartbeat \(heartbeat)" }
}

/// Facts about this host and its processes that a lease records and checks.
enum HostIdentity {
    /// The host name (`gethostname`).
    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown-host" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// The kernel's boot id, or empty where the system has none.
    static let bootID: String = {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }()

    /// Whether a process with this pid exists (EPERM: it exists but is not ours).
    static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// A process's start time from `/proc/PID/stat` (field 22, after the parenthesised name), or
    /// nil where there is no `/proc` or no such process.
    static func startTime(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ")": state is field 3, so start time (field 22) is the 20th.
        return fields.count > 19 ? String(fields[19]) : nil
    }
}
