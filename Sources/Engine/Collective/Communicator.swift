/// The collective operations of data-parallel training, over the ranks of one job.
///
/// The engine keeps this protocol and builds and tests without any transport; `MPITransport`
/// implements it over Open MPI. Every rank must make the same calls in the same order (as with MPI).
/// Results are the same bits on every rank: sums come from one reduction, gathers are copies.
public protocol Communicator: AnyObject {
    /// This process's rank, 0 ..< `size`.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }
    /// This process's index among the ranks on its own machine (the launcher's local rank; 0 when
    /// it does not say): a rank on a GPU takes the GPU of this index modulo their number.
    var localRank: Int { get }
    /// Sums `values` element-wise over all ranks, in place.
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>)
    /// Rank r's `counts[r]` bytes, concatenated in rank order into `output` (Σ counts bytes);
    /// `local` holds this rank's `counts[rank]` bytes.
    func allGather(_ local: UnsafeRawBufferPointer, counts: [Int], into output: UnsafeMutableRawBufferPointer)
    /// Rank `root`'s bytes into `buffer` on every rank (all pass buffers of the same size).
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, from root: Int)
}

extension Communicator {
    /// 0: a communicator that knows no machine layout.
    public var localRank: Int { 0 }

    /// Every rank's `local` values concatenated in rank order; rank r passes `counts[r]` values.
    public func allGather<T: BitwiseCopyable>(_ local: [T], counts: [Int]) -> [T] {
        precondition(counts.count == size && counts[rank] == local.count,
                     "Communicator.allGather: rank \(rank) passes \(local.count) values, counts \(counts)")
        let stride = MemoryLayout<T>.stride
        return [T](unsafeUninitializedCapacity: counts.reduce(0, +)) { buffer, initialized in
            local.withUnsafeBytes { bytes in
                allGather(bytes, counts: counts.map { $0 * stride }, into: UnsafeMutableRawBufferPointer(buffer))
            }
            initialized = buffer.count
        }
    }

    /// Every rank's `local` values (the same count on every rank), one array per rank.
    public func allGather<T: BitwiseCopyable>(_ local: [T]) -> [[T]] {
        let all = allGather(local, counts: Array(repeating: local.count, count: size))
        return (0..<size).map { Array(all[($0 * local.count)..<(($0 + 1) * local.count)]) }
    }

    /// Sums `values` element-wise over all ranks.
    public func allReduceSum(_ values: inout [Float]) {
        values.withUnsafeMutableBufferPointer { allReduceSum($0) }
    }
}

/// Which rows of a batch of `count` rows rank `rank` of `size` takes: a contiguous slice,
/// `⌊count·rank/size⌋ ..< ⌊count·(rank+1)/size⌋`, so the slices cover the batch in rank order.
public func rankSlice(of count: Int, rank: Int, size: Int) -> Range<Int> {
    precondition(size > 0 && rank >= 0 && rank < size, "rankSlice: rank \(rank) of \(size)")
    return (count * rank / size)..<(count * (rank + 1) / size)
}
