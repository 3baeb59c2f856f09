import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a process told to stop (SIGINT, SIGTERM, SIGHUP) undoes before it exits: the run marks
/// its `run.json` failed, the cache removes its staging folder and releases its leases.
///
/// Code that leaves something behind while it works registers a cleanup with `add` and removes it
/// with `remove` when done. Nothing happens unless the executable calls `install()`; a kill that
/// cannot be caught (SIGKILL) is handled by the next process instead (stale leases are reclaimed,
/// a stale `running` run is marked failed; see `RunState.markStaleRuns(in:)`).
public enum Interruption {
    private final class Registry: @unchecked Sendable {
        // Touched only under `lock`.
        let lock = NSLock()
        var next = 0
        var cleanups: [(token: Int, body: @Sendable (String) -> Void)] = []
        var installed = false
        var interrupted = false
    }
    private static let registry = Registry()

    /// Registers `cleanup`, called with the reason ("interrupted by SIGTERM") if the process is
    /// interrupted; returns the token to `remove` it with.
    @discardableResult
    public static func add(_ cleanup: @escaping @Sendable (String) -> Void) -> Int {
        registry.lock.lock()
        defer { registry.lock.unlock() }
        registry.next += 1
        registry.cleanups.append((registry.next, cleanup))
        return registry.next
    }

    /// Removes a cleanup registered with `add`.
    public static func remove(_ token: Int) {
        registry.lock.lock()
        registry.cleanups.removeAll { $0.token == token }
        registry.lock.unlock()
    }

    /// Runs every registered cleanup, newest first, once; returns how many ran.
    @discardableResult
    public static func runCleanups(reason: String) -> Int {
        registry.lock.lock()
        let cleanups = registry.interrupted ? [] : registry.cleanups.reversed()
        registry.interrupted = true
        registry.cleanups = []
        registry.lock.unlock()
        for cleanup in cleanups { cleanup.body(reason) }
        return cleanups.count
    }

    /// Handles SIGINT, SIGTERM and SIGHUP: on the first, runs the cleanups and exits with status
    /// 128 + the signal's number (what a shell reports for a process the signal ended).
    ///
    /// The handler only writes the signal's number to a pipe; a thread of its own reads it and
    /// cleans up. Handlers (not `SIG_IGN`) are installed, so child processes get the default
    /// dispositions back when they start.
    public static func install() {
        registry.lock.lock()
        defer { registry.lock.unlock() }
        guard !registry.installed else { return }
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { return }
        registry.installed = true
        interruptionPipe = descriptors[1]
        let reader = descriptors[0]
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while read(reader, &byte, 1) != 1 {}
            let number = Int32(byte)
            let name = [SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP"][number] ?? "signal \(number)"
            runCleanups(reason: "interrupted by \(name)")
            _exit(128 + number)
        }
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(interruptionPipe, &byte, 1)
            }
        }
    }
}

/// The write end of `Interruption`'s pipe (set once, before any handler is installed).
nonisolated(unsafe) private var interruptionPipe: Int32 = -1
