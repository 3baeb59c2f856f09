import Foundation

/// Splits `0..<count` into one contiguous chunk per CPU thread (at least `minimumChunk` items
/// each) and runs `body` on the chunks in parallel. The split depends only on `count`, the
/// thread count and `minimumChunk`, never on timing, so per-chunk partial results combine
/// the same way every run.
@inline(__always)
public func parallelChunks(_ count: Int, minimumChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
    let chunks = Swift.max(1, Swift.min(CPUThreads.count, count / Swift.max(1, minimumChunk)))
    if chunks == 1 {
        if count > 0 { body(0..<count) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        body(chunkRange(c, of: chunks, count: count))
    }
}

/// The `index`-th of `chunks` near-equal contiguous pieces of `0..<count`.
@inline(__always)
public func chunkRange(_ index: Int, of chunks: Int, count: Int) -> Range<Int> {
    let base = count / chunks, extra = count % chunks
    let start = index * base + Swift.min(index, extra)
    return start..<(start + base + (index < extra ? 1 : 0))
}
