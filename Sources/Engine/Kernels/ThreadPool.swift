import Foundation
import Synchronization

/// A pool of persistent worker threads that runs data-parallel loops for the CPU kernels.
///
/// Work is split deterministically: `parallelChunks(count:)` cuts `0..<count` into
/// `chunkCount(for: count)` contiguous ranges whose bounds depend only on `count` and the thread
/// count, and chunk `i` always covers the same range. Kernels that reduce (weight gradients, batch
/// statistics) keep one partial per chunk and sum the partials in chunk order, so their results are
/// bit-identical for a given thread count, whatever the timing.
///
/// A call made from inside a running loop body (a nested call) runs serially on the calling thread.
/// Calls from different threads are serialised: one loop runs at a time. Workers spin briefly on
/// an atomic generation counter before sleeping on a condition variable, so back-to-back small
/// loops cost a few microseconds rather than a kernel wake-up each.
public final class ThreadPool: @unchecked Sendable {
    // @unchecked Sendable: all mutable state is guarded by `lock` or is atomic; the job closure is
    // published under a release store of `generation` and read after an acquire load.

    /// The pool the kernels use unless given another; its thread count is the active processor count
    /// until `threadCount` is set (the CLI's `--threads`).
    public static let shared = ThreadPool(threadCount: ProcessInfo.processInfo.activeProcessorCount)

    private typealias Body = (Int, Range<Int>) -> Void

    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workAvailable = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let workDone = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Serialises callers from different threads, and `threadCount` changes.
    private let submitLock = Mutex<Void>(())

    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private var shutdown = false
    private var sleepers = 0
    private var workers: [Thread] = []
    private var exited: DispatchSemaphore = DispatchSemaphore(value: 0)
    private var currentBody: Body?
    private var currentCount = 0
    private var currentChunks = 0
    private var workerCount = 0  // threads besides the caller

    /// Spin iterations before a waiting thread sleeps (roughly 20-50 µs).
    private let spinLimit = 20_000

    /// Creates a pool that runs loops on `threadCount` threads: the caller plus `threadCount - 1` workers.
    public init(threadCount: Int) {
        precondition(threadCount >= 1, "ThreadPool: threadCount must be >= 1, got \(threadCount)")
        pthread_mutex_init(lock, nil)
        pthread_cond_init(workAvailable, nil)
        pthread_cond_init(workDone, nil)
        startWorkers(threadCount - 1)
    }

    deinit {
        stopWorkers()
        pthread_cond_destroy(workDone)
        pthread_cond_destroy(workAvailable)
        pthread_mutex_destroy(lock)
        lock.deallocate()
        workAvailable.deallocate()
        workDone.deallocate()
    }

    /// The number of threads a loop runs on, the caller included. Setting it stops the workers and
    /// starts new ones (not free: set it once, at start-up).
    public var threadCount: Int {
        get { submitLock.withLock { _ in workerCount + 1 } }
        set {
            precondition(newValue >= 1, "ThreadPool: threadCount must be >= 1, got \(newValue)")
            submitLock.withLock { _ in
                guard newValue != workerCount + 1 else { return }
                stopWorkers()
                startWorkers(newValue - 1)
            }
        }
    }

    /// How many chunks `parallelChunks(count:)` cuts `count` items into: `min(count, threadCount)`.
    public func chunkCount(for count: Int) -> Int {
        max(0, min(count, workerCount + 1))
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
        if ThreadPool.isInsideLoop || workerCount == 0 || count == 1 {
            let chunks = ThreadPool.isInsideLoop ? 1 : chunkCount(for: count)
            for c in 0..<chunks { body(c, ThreadPool.chunkRange(c, of: chunks, count: count)) }
            return
        }
        submitLock.withLock { _ in
            withoutActuallyEscaping(body) { escapable in
                run(count: count, body: escapable)
            }
        }
    }

    // MARK: - Running a loop

    private func run(count: Int, body: @escaping Body) {
        let chunks = min(count, workerCount + 1)
        currentBody = body
        currentCount = count
        currentChunks = chunks
        pending.store(workerCount, ordering: .relaxed)
        pthread_mutex_lock(lock)
        generation.add(1, ordering: .releasing)
        if sleepers > 0 { pthread_cond_broadcast(workAvailable) }
        pthread_mutex_unlock(lock)

        ThreadPool.isInsideLoop = true
        body(0, ThreadPool.chunkRange(0, of: chunks, count: count))
        ThreadPool.isInsideLoop = false

        var spins = 0
        while pending.load(ordering: .acquiring) != 0 && spins < spinLimit { spins += 1 }
        if pending.load(ordering: .acquiring) != 0 {
            pthread_mutex_lock(lock)
            while pending.load(ordering: .acquiring) != 0 { pthread_cond_wait(workDone, lock) }
            pthread_mutex_unlock(lock)
        }
        currentBody = nil
    }

    private func workerLoop(index: Int, startGeneration: Int) {
        ThreadPool.isInsideLoop = true
        var seen = startGeneration
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
                let stop = shutdown
                pthread_mutex_unlock(lock)
                if stop { break }
            }
            seen = generation.load(ordering: .acquiring)
            if index < currentChunks, let body = currentBody {
                body(index, ThreadPool.chunkRange(index, of: currentChunks, count: currentCount))
            }
            if pending.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                pthread_mutex_lock(lock)
                pthread_cond_signal(workDone)
                pthread_mutex_unlock(lock)
            }
        }
        exited.signal()
    }

    // MARK: - Workers

    private func startWorkers(_ count: Int) {
        shutdown = false
        workerCount = count
        exited = DispatchSemaphore(value: 0)
        // Workers start with the generation current now, so they never run an old job.
        let start = generation.load(ordering: .acquiring)
        workers = (0..<count).map { i in
            // unowned(unsafe): deinit joins the workers before the pool's memory goes away.
            let thread = Thread { [unowned(unsafe) self] in
                self.workerLoop(index: i + 1, startGeneration: start)
            }
            thread.stackSize = 1 << 20
            thread.name = "sbcl-worker-\(i + 1)"
            thread.start()
            return thread
        }
    }

    private func stopWorkers() {
        pthread_mutex_lock(lock)
        shutdown = true
        pthread_cond_broadcast(workAvailable)
        pthread_mutex_unlock(lock)
        for _ in workers { exited.wait() }
        workers = []
        workerCount = 0
    }

    // MARK: - Nesting

    private static let nestingKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// True on a thread that is running a loop body: nested loops then run serially.
    private static var isInsideLoop: Bool {
        get { pthread_getspecific(nestingKey) != nil }
        set { pthread_setspecific(nestingKey, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }
}
