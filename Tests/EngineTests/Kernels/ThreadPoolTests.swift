import Foundation
import XCTest
@testable import Engine

final class ThreadPoolTests: XCTestCase {
    /// Every index is visited exactly once, and chunks are the documented contiguous ranges.
    func testCoversEveryIndexOnceWithDeterministicChunks() {
        withPools([1, 2, 3, 5]) { pool in
            for count in [1, 2, 3, 7, 100, 1001] {
                let visits = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
                let chunkOf = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
                visits.initialize(repeating: 0)
                chunkOf.initialize(repeating: -1)
                pool.parallelChunks(count: count) { chunk, range in
                    for i in range { visits[i] += 1; chunkOf[i] = chunk }
                }
                XCTAssertEqual(Array(visits), [Int](repeating: 1, count: count), "count \(count)")
                let chunks = pool.chunkCount(for: count)
                XCTAssertEqual(chunks, min(count, pool.threadCount))
                for c in 0..<chunks {
                    for i in ThreadPool.chunkRange(c, of: chunks, count: count) { XCTAssertEqual(chunkOf[i], c) }
                }
                visits.deallocate()
                chunkOf.deallocate()
            }
        }
    }

    /// A loop started inside a loop body runs serially on that thread, as one chunk.
    func testNestedCallsRunSerially() {
        let pool = ThreadPool(threadCount: 3)
        let inner = UnsafeMutableBufferPointer<Int>.allocate(capacity: 3)
        inner.initialize(repeating: 0)
        pool.parallelChunks(count: 3) { chunk, _ in
            var chunksSeen = 0, total = 0
            pool.parallelChunks(count: 10) { c, range in chunksSeen += 1; total += range.count; XCTAssertEqual(c, 0) }
            inner[chunk] = chunksSeen * 100 + total
        }
        XCTAssertEqual(Array(inner), [110, 110, 110])
        inner.deallocate()
    }

    /// Many threads sharing one pool each get complete, correct loops.
    func testConcurrentCallersAreSerialisedSafely() {
        let pool = ThreadPool(threadCount: 2)
        let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: 8)
        results.initialize(repeating: 0)
        DispatchQueue.concurrentPerform(iterations: 8) { caller in
            for _ in 0..<200 {
                let sums = UnsafeMutableBufferPointer<Int>.allocate(capacity: 2)
                sums.initialize(repeating: 0)
                pool.parallelChunks(count: 1000) { chunk, range in sums[chunk] = range.reduce(0, +) }
                results[caller] = sums[0] + sums[1]
                sums.deallocate()
                if results[caller] != 499_500 { break }
            }
        }
        XCTAssertEqual(Array(results), [Int](repeating: 499_500, count: 8))
        results.deallocate()
    }

    func testThreadCountCanChangeAtRunTime() {
        let pool = ThreadPool(threadCount: 1)
        XCTAssertEqual(pool.threadCount, 1)
        pool.threadCount = 4
        XCTAssertEqual(pool.threadCount, 4)
        XCTAssertEqual(pool.chunkCount(for: 10), 4)
        var total = 0
        let lock = NSLock()
        pool.parallelFor(count: 10) { range in lock.lock(); total += range.count; lock.unlock() }
        XCTAssertEqual(total, 10)
        pool.threadCount = 2
        XCTAssertEqual(pool.chunkCount(for: 10), 2)
    }

    /// Small loops are cheap: the per-call overhead stays in microseconds, not a thread start-up.
    func testSmallLoopOverheadIsSmall() {
        let pool = ThreadPool(threadCount: 2)
        let start = DispatchTime.now().uptimeNanoseconds
        let calls = 2000
        for _ in 0..<calls { pool.parallelFor(count: 2) { _ in } }
        let perCall = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(calls) / 1000
        // Generous bound for a loaded 2-core machine; thread creation per call would be far above it.
        XCTAssertLessThan(perCall, 500, "µs per parallelFor call")
    }
}
