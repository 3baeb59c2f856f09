import CBLAS

/// Matrix products through OpenBLAS, split over the engine's threads in chunks that depend only on
/// the shape, so a product has the same bits on 1 thread as on 16 (docs/performance.md, "Data parallelism").
///
/// OpenBLAS's own threading does not give that: measured on OpenBLAS 0.3.21 (Debian), sgemm's
/// results differ between 1 and 2 threads for almost every shape (512×512×128, 2048×128×2048,
/// 10×64×512, …). So OpenBLAS always runs single-threaded here (`singleThreaded()`), each chunk
/// being one OpenBLAS call made from a thread of `ThreadPool`:
/// - with enough output rows, the rows of C are cut into up to 16 blocks (each row's sum is then
///   one single-threaded OpenBLAS reduction, the same whoever computes it);
/// - with few rows and a long reduction (a weight gradient over all pixels), the reduction is cut
///   into up to 16 pieces, each summed into its own m × n partial, and the partials added in order.
public enum GEMM {
    /// Rows per block below which the rows are not split further.
    static let minimumRowsPerChunk = 32
    /// Reduction length per piece below which the reduction is not split.
    static let minimumDepthPerChunk = 1024

    /// Sets OpenBLAS to one thread (once per process; cheap to call again).
    public static func singleThreaded() {
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
    }

    /// `C = α·op(A)·op(B) + β·C`, row-major, `op(A)` m × k, `op(B)` k × n, C m × n with rows `ldc` apart.
    public static func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, pool: ThreadPool = .shared) {
        guard m > 0, n > 0 else { return }
        singleThreaded()
        let ta = transposeA ? CblasTrans : CblasNoTrans, tb = transposeB ? CblasTrans : CblasNoTrans
        let rowChunks = min(ThreadPool.reductionChunkLimit, max(1, m / minimumRowsPerChunk))
        let depthChunks = min(ThreadPool.reductionChunkLimit, max(1, k / minimumDepthPerChunk))
        if rowChunks >= 4 || depthChunks == 1 {
            // Row blocks: op(A)'s rows m0..<m1 start at row m0 of A, or at its column m0 when transposed.
            pool.parallelChunks(count: rowChunks) { _, chunkRange in
                for chunk in chunkRange {
                    let rows = ThreadPool.chunkRange(chunk, of: rowChunks, count: m)
                    guard !rows.isEmpty else { continue }
                    let aStart = transposeA ? a + rows.lowerBound : a + rows.lowerBound * lda
                    cblas_sgemm(CblasRowMajor, ta, tb, Int32(rows.count), Int32(n), Int32(k), alpha, aStart, Int32(lda),
                                b, Int32(ldb), beta, c + rows.lowerBound * ldc, Int32(ldc))
                }
            }
            return
        }
        // Reduction pieces: op(A)'s columns k0..<k1 and op(B)'s rows k0..<k1, each into a partial.
        var partials = [Float](repeating: 0, count: depthChunks * m * n)
        partials.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            pool.parallelChunks(count: depthChunks) { _, chunkRange in
                for chunk in chunkRange {
                    let depth = ThreadPool.chunkRange(chunk, of: depthChunks, count: k)
                    let aStart = transposeA ? a + depth.lowerBound * lda : a + depth.lowerBound
                    let bStart = transposeB ? b + depth.lowerBound : b + depth.lowerBound * ldb
                    cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(depth.count), alpha, aStart, Int32(lda),
                                bStart, Int32(ldb), 0, base + chunk * m * n, Int32(n))
                }
            }
            for i in 0..<m {
                for j in 0..<n {
                    var sum = base[i * n + j]
                    for chunk in 1..<depthChunks { sum += base[(chunk * m + i) * n + j] }
                    let target = c + i * ldc + j
                    target.pointee = beta == 0 ? sum : beta * target.pointee + sum
                }
            }
        }
    }
}
