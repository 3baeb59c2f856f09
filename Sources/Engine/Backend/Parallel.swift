/// Splits `0..<count` into one contiguous chunk per pool thread (at least `minimumChunk` items
/// each) and runs `body` on the chunks on the persistent `ThreadPool`. The split depends only on
/// `count`, the thread count and `minimumChunk`, never on timing, so per-chunk partial results
/// combine the same way every run.
@inline(__always)
public func parallelChunks(_ count: Int, minimumChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
    let chunks = Swift.max(1, Swift.min(ThreadPool.shared.threadCount, count / Swift.max(1, minimumChunk)))
    if chunks == 1 {
        if count > 0 { body(0..<count) }
        return
    }
    ThreadPool.shared.parallelChunks(count: chunks) { _, range in
        for c in range { body(ThreadPool.chunkRange(c, of: chunks, count: count)) }
    }
}
