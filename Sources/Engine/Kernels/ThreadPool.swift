import Foundation
import Synchronization

/// A pool of persistent worker threads that runs data-parallel loops for the CPU kernels.
///
/// Work is split deterministically: `parallelChunks(count:)` cuts `0..<count` into
/// `chunkCount(for: count)` contiguous ranges whose bounds depend only on `count` and the thread
/// count, and chunk `i` always covers the same range. Kernels that reduce (weight gradients, batch
/// statistics) use `parallelReductionChunks`, whose chunks do not depend on the thread count
/// either, keep one partial per chunk and sum the partials in chunk order, so their results are
/// bit-identical on any number of threads, whatever the timing.
///
/// A call made from inside a running loop body (a nested call) runs serially on the calling thread.
/// Calls from different threads are serialised: one loop runs at a time. Workers spin briefly on
/// an atomic generation counter before sleeping on a condition variable, so back-to-back small
/// loops cost a few microseconds rather than a kernel wake-up each.
public final class ThreadPool: @unchecked Sendable {
    // @unchecked Sendable: the mutable state lives in `Workers`, guarded by its lock or atomic;
    // `submitLock` serialises callers and thread-count changes.

    /// The pool the kernels use unless given another; its thread count is the active processor count
    /// until `threadCount` is set (the CLI's `--threads`).
    public static let shared = ThreadPool(threadCount: ProcessInfo.processInfo.activeProcessorCount)

    /// Serialises callers from different threads, and `threadCount` changes.
    private let submitLock = Mutex<Void>(())
    private var workers: Workers

    /// Creates a pool that runs loops on `threadCount` threads: the caller plus `threadCount - 1` workers.
    public init(threadCount: Int) {
        precondition(threadCount >= 1, "ThreadPool: threadCount must be >= 1, got \(threadCount)")
        workers = Workers(count: threadCount - 1)
    }

    deinit { workers.stop() }

    /// The number of threads a loop runs on, the caller included. Setting it stops the workers and
    /// starts new ones (not free: set it once, at start-up).
    public var threadCount: Int {
        get { submitLock.withLock { _ in workers.count + 1 } }
        set {
            precondition(newValue >= 1, "ThreadPool: threadCount must be >= 1, got \(newValue)")
            submitLock.withLock { _ in
                guard newValue != workers.count + 1 else { return }
                workers.stop()
                workers = Workers(count: newValue - 1)
            }
        }
    }

    /// How many chunks `parallelChunks(count:)` cuts `count` items into: `min(count, threadCount)`.
    public func chunkCount(for count: Int) -> Int {
        max(0, min(count, workers.count + 1))
    }

    /// Most chunks a reduction is cut into (see `reductionChunkCount`).
    public static let reductionChunkLimit = 16

    /// How many chunks a reduction over `count` items is cut into: `min(count, 16)`, whatever the
    /// thread count. Each chunk sums into its own partial and the partials are added in chunk order,
    /// so a reduction gives the same bits on 1 thread as on 16 (a cached artifact must not
    /// depend on who computed it). Loops with more threads than 16 leave the rest idle here.
    public static func reductionChunkCount(for count: Int) -> Int { max(0, min(count, reductionChunkLimit)) }

    /// Runs `body(chunk, range)` for each of `reductionChunkCount(for: count)` chunks of `0..<count`,
    /// the chunks (not their number) spread over the threads; `chunk` indexes per-chunk partials.
    public func parallelReductionChunks(count: Int, _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
        let chunks = ThreadPool.reductionChunkCount(for: count)
        guard chunks > 0 else { return }
        parallelChunks(count: chunks) { _, indices in
            for c in indices { body(c, ThreadPool.chunkRange(c, of: chunks, count: count)) }
        }
    }

    /// The range of items chunk `index` of `chunks` covers when `count` items are split.
    public static func chunkRange(_ index: Int, of chunks: Int, count: Int) -> Range<Int> {
        (index * count / chunks)..<((index + 1) * count / chunks)
    }

    /// Runs `body` over `0..<count`, split into contiguous ranges run in parallel.
    public func parallelFor(count: Int, _ body: (Range<Int>) -> Void) {
        parallelChunks(count: count) { _, range in body(range) }
    }

    /// Runs `body(chunk, range)` for each of `chunkCount(for: count)` deterministic chunks of
    /// `0..<count`; `chunk` indexes per-chunk scratch or partial sums.
    public func parallelChunks(count: Int, _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
        guard count > 0 else { return }
        if Workers.isInsideLoop || workers.count == 0 || count == 1 {
            let chunks = Workers.isInsideLoop ? 1 : chunkCount(for: count)
            for c in 0..<chunks { body(c, ThreadPool.chunkRange(c, of: chunks, count: count)) }
            return
        }
        submitLock.withLock { _ in
            withoutActuallyEscaping(body) { escapable in
                workers.run(count: count, body: escapable)
            }
        }
    }
}

/// The worker threads of one pool and the state they share. Workers hold this object, never the
/// pool, so a pool can be released while its workers are parked.
private final class Workers: @unchecked Sendable {
    // @unchecked Sendable: fields are written by the submitting thread before the release store of
    // `generation` and read by workers after an acquire load; the rest is under `lock` or atomic.
    typealias Body = (Int, Range<Int>) -> Void

    let count: Int
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workAvailable = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let workDone = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let exited = DispatchSemaphore(value: 0)
    private var shutdown = false
    private var sleepers = 0
    private var body: Body?
    private var itemCount = 0
    private var chunks = 0

    /// Spin iterations before a waiting thread sleeps: short, because on a loaded machine a spinning
    /// thread can keep the one it waits for off the core.
    private let spinLimit = 4000

    init(count: Int) {
        self.count = count
        pthread_mutex_init(lock, nil)
        pthread_cond_init(workAvailable, nil)
        pthread_cond_init(workDone, nil)
        for i in 0..<count {
            let thread = Thread { [self] in self.workerLoop(index: i + 1) }
            thread.stackSize = 1 << 20
            thread.name = "sbcl-worker-\(i + 1)"
            thread.start()
        }
    }

    deinit {
        pthread_cond_destroy(workDone)
        pthread_cond_destroy(workAvailable)
        pthread_mutex_destroy(lock)
        lock.deallocate()
        workAvailable.deallocate()
        workDone.deallocate()
    }

    /// Asks every worker to exit and waits until they have.
    func stop() {
        pthread_mutex_lock(lock)
        shutdown = true
        pthread_cond_broadcast(workAvailable)
        pthread_mutex_unlock(lock)
        for _ in 0..<count { exited.wait() }
    }

    /// Runs one loop: chunk 0 on the caller, chunk i on worker i. The caller holds the pool's submit lock.
    func run(count itemCount: Int, body: @escaping Body) {
        self.body = body
        self.itemCount = itemCount
        chunks = min(itemCount, count + 1)
        pending.store(count, ordering: .relaxed)
        pthread_mutex_lock(lock)
        generation.add(1, ordering: .releasing)
        if sleepers > 0 { pthread_cond_broadcast(workAvailable) }
        pthread_mutex_unlock(lock)

        Workers.isInsideLoop = true
        body(0, ThreadPool.chunkRange(0, of: chunks, count: itemCount))
        Workers.isInsideLoop = false

        var spins = 0
        while pending.load(ordering: .acquiring) != 0 && spins < spinLimit { spins += 1 }
        if pending.load(ordering: .acquiring) != 0 {
            pthread_mutex_lock(lock)
            while pending.load(ordering: .acquiring) != 0 { pthread_cond_wait(workDone, lock) }
            pthread_mutex_unlock(lock)
        }
        self.body = nil
    }

    private func workerLoop(index: Int) {
        Workers.isInsideLoop = true
        // Created before any loop is submitted, so generation 0 is never a job.
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < spinLimit { spins += 1 }
            if generation.load(ordering: .acquiring) == seen {
                pthread_mutex_lock(lock)
                while generation.load(ordering: .acquiring) == seen && !shutdown {
                    sleepers += 1
                    pthread_cond_wait(workAvailable, lock)
                    sleepers -= 1
                }
                let stop = shutdown && generation.load(ordering: .acquiring) == seen
                pthread_mutex_unlock(lock)
                if stop { break }
            }
            seen = generation.load(ordering: .acquiring)
            if index < chunks, let body {
                body(index, ThreadPool.chunkRange(index, of: chunks, count: itemCount))
            }
            if pending.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                pthread_mutex_lock(lock)
                pthread_cond_signal(workDone)
                pthread_mutex_unlock(lock)
            }
        }
        exited.signal()
    }

    // MARK: - Nesting

    private static let nestingKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// True on a thread that is running a loop body: nested loops then run serially.
    static var isInsideLoop: Bool {
        get { pthread_getspecific(nestingKey) != nil }
        set { pthread_setspecific(nestingKey, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }
}
