import XCTest
@testable import Engine

/// `GEMM.sgemm`: the product against Float64 in every transpose combination and both ways of
/// splitting (row blocks; reduction pieces for few rows and a long reduction), with β, and the same
/// bits on 1, 2, 3 and 5 threads (OpenBLAS's own threading does not give that).
final class GEMMTests: XCTestCase {
    /// (m, n, k): row blocks, a long reduction with few rows (pieces), a small product (one call).
    let shapes = [(300, 70, 90), (20, 33, 5000), (7, 5, 3)]

    func testProductMatchesFloat64AndHasTheSameBitsOnAnyThreadCount() {
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = kernelTestValues(m * k, seed: UInt64(m + k)), b = kernelTestValues(k * n, seed: UInt64(n + k))
                let c0 = kernelTestValues(m * n, seed: 7)
                let lda = ta ? m : k, ldb = tb ? k : n
                var expected = [Double](repeating: 0, count: m * n)
                for i in 0..<m {
                    for j in 0..<n {
                        var sum = 0.0
                        for p in 0..<k {
                            let av = ta ? a[p * lda + i] : a[i * lda + p], bv = tb ? b[j * ldb + p] : b[p * ldb + j]
                            sum += Double(av) * Double(bv)
                        }
                        expected[i * n + j] = 0.5 * Double(c0[i * n + j]) + 2 * sum
                    }
                }
                var reference: [Float]? = nil
                withPools([1, 2, 3, 5]) { pool in
                    var c = c0
                    a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in c.withUnsafeMutableBufferPointer { cb in
                        GEMM.sgemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 2, a: ab.baseAddress!, lda: lda,
                                   b: bb.baseAddress!, ldb: ldb, beta: 0.5, c: cb.baseAddress!, ldc: n, pool: pool)
                    } } }
                    let label = "\(m)×\(n)×\(k) ta \(ta) tb \(tb) threads \(pool.threadCount)"
                    assertClose(c, expected, rtol: 1e-4, atol: 1e-3, label)
                    if let reference { XCTAssertEqual(c, reference, label) } else { reference = c }
                }
            }
        }
    }
}
