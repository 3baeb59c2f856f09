@testable import Engine
import Foundation

/// An in-process communicator: `size` ranks on threads of one test process, for tests that run
/// several ranks of data-parallel training side by side.
///
/// The ranks take turns. One rank holds the baton at a time and runs until it enters a
/// collective, where it waits and hands the baton on; the last rank to arrive completes the
/// collective and runs on. Turns are needed because the engine's gradient mode and thread pool
/// belong to the process: two ranks computing at once would record into each other's graphs.
/// A rank that waits keeps its gradient mode (`GradMode.isEnabled`) and gets it back when it
/// resumes, since the rank that ran meanwhile may have left the process in another one (a
/// collective inside `withoutGradients`, the next one outside). The engine's other process-wide
/// scopes (`BatchNormGroups`, `BatchNormSync`) are not carried: the ranks must use the same ones.
///
/// Results are the same bits on every rank: a sum is formed once, adding the ranks' values in
/// rank order, and every rank copies it; gathers and broadcasts are copies.
public final class ThreadCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public var size: Int { hub.size }
    private let hub: Hub

    private init(rank: Int, hub: Hub) {
        self.rank = rank
        self.hub = hub
    }

    /// Runs `body` once per rank of `ranks`, each on its own thread with its rank's communicator,
    /// taking turns between collectives; returns the results in rank order once all have finished.
    public static func run<R>(ranks: Int, _ body: @escaping @Sendable (ThreadCommunicator) -> R) -> [R] {
        precondition(ranks >= 1, "ThreadCommunicator.run: \(ranks) ranks")
        let hub = Hub(size: ranks)
        let results = Results<R>(count: ranks)
        let finished = DispatchSemaphore(value: 0)
        let mode = GradMode.isEnabled
        for r in 0..<ranks {
            let communicator = ThreadCommunicator(rank: r, hub: hub)
            let thread = Thread {
                hub.condition.lock()
                GradMode.isEnabled = mode  // the caller's, whatever the rank before this one left
                let value = body(communicator)
                hub.condition.unlock()
                results.set(r, value)
                finished.signal()
            }
            thread.stackSize = 64 << 20  // a training step's recursion, as on the main thread
            thread.start()
        }
        for _ in 0..<ranks { finished.wait() }
        GradMode.isEnabled = mode
        return results.values.map { $0! }
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) {
        let sum = hub.exchange(rank: rank, Array(UnsafeRawBufferPointer(values))) { parts in
            precondition(parts.allSatisfy { $0.count == values.count * 4 },
                         "ThreadCommunicator.allReduceSum: the ranks pass \(parts.map { $0.count / 4 }) values")
            var total = [Float](repeating: 0, count: values.count)
            for part in parts {
                part.withUnsafeBytes { bytes in
                    for (i, x) in bytes.bindMemory(to: Float.self).enumerated() { total[i] += x }
                }
            }
            return total.withUnsafeBytes { Array($0) }
        }
        precondition(sum.count == values.count * 4, "ThreadCommunicator.allReduceSum: rank \(rank) passes \(values.count) values, the sum has \(sum.count / 4)")
        sum.withUnsafeBytes { UnsafeMutableRawBufferPointer(values).copyMemory(from: $0) }
    }

    public func allGather(_ local: UnsafeRawBufferPointer, counts: [Int], into output: UnsafeMutableRawBufferPointer) {
        precondition(counts.count == size && counts[rank] == local.count && output.count == counts.reduce(0, +),
                     "ThreadCommunicator.allGather: rank \(rank) passes \(local.count) bytes into \(output.count), counts \(counts)")
        let all = hub.exchange(rank: rank, Array(local)) { parts in
            precondition(parts.map(\.count) == counts, "ThreadCommunicator.allGather: the ranks' counts disagree")
            return parts.flatMap { $0 }
        }
        precondition(all.count == output.count, "ThreadCommunicator.allGather: the ranks' counts disagree")
        all.withUnsafeBytes { output.copyMemory(from: $0) }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, from root: Int) {
        let value = hub.exchange(rank: rank, Array(UnsafeRawBufferPointer(buffer))) { $0[root] }
        precondition(value.count == buffer.count, "ThreadCommunicator.broadcast: rank \(rank) passes \(buffer.count) bytes, rank \(root) \(value.count)")
        value.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }

    /// The ranks' meeting point; its condition's lock is the baton.
    private final class Hub: @unchecked Sendable {
        let size: Int
        let condition = NSCondition()
        var contributions: [[UInt8]]
        var arrived = 0, generation = 0
        var result: [UInt8] = []

        init(size: Int) {
            self.size = size
            contributions = Array(repeating: [], count: size)
        }

        /// Deposits this rank's bytes; the last to arrive combines all of them (in rank order)
        /// once, and every rank returns that. Called holding the baton.
        func exchange(rank: Int, _ bytes: [UInt8], combine: ([[UInt8]]) -> [UInt8]) -> [UInt8] {
            contributions[rank] = bytes
            arrived += 1
            let mine = generation
            if arrived == size {
                // The waiting ranks read `result` before it can change: the next collective
                // completes only when they have all arrived there.
                result = combine(contributions)
                contributions = Array(repeating: [], count: size)
                arrived = 0
                generation += 1
                condition.broadcast()
            } else {
                let mode = GradMode.isEnabled
                while generation == mine { condition.wait() }
                GradMode.isEnabled = mode
            }
            return result
        }
    }

    private final class Results<R>: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [R?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ value: R) { lock.lock(); values[index] = value; lock.unlock() }
    }
}
