import Engine
import CUDABackend
import TestSupport
import XCTest

/// Sums along axes and over everything, and matrix products through CLBlast, against the CPU
/// backend: ≤ 1e-4 relative.
final class ReductionAndGEMMParityTests: XCTestCase {
    func testSumsMatchTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 5)
        for n in [1, 2, 255, 257, 100_003, (1 << 20) + 3] {
            let x = random.tensor([n], 0, 1)
            assertMatches(x.moved(to: device).sum(), x.sum(), tolerance: 1e-4, "sum n=\(n)")
        }
        let x = random.tensor([13, 257, 3])
        let dx = x.moved(to: device)
        for axis in 0..<3 {
            assertMatches(dx.sum(axis: axis), x.sum(axis: axis), tolerance: 1e-4, "sum axis \(axis) of \(x.shape)")
            assertMatches(dx.mean(axis: axis, keepingDimension: true), x.mean(axis: axis, keepingDimension: true),
                          tolerance: 1e-4, "mean axis \(axis) keeping it")
        }
        assertMatches(dx.mean(), x.mean(), tolerance: 1e-4, "mean")
        let empty = Tensor(uninitializedShape: [4, 0, 3])
        XCTAssertEqual(empty.moved(to: device).sum(axis: 1).scalars, [Float](repeating: 0, count: 12), "an empty axis sums to 0")
    }

    func testMatrixProductsMatchTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 6)
        let cases: [(Int, Int, Int)] = [(1, 1, 1), (17, 33, 65), (129, 7, 300), (64, 512, 10), (3, 1000, 5)]
        for (m, k, n) in cases {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = random.tensor(ta ? [k, m] : [m, k]), b = random.tensor(tb ? [n, k] : [k, n])
                let gpu = Tensor.matmul(a.moved(to: device), b.moved(to: device), transposeA: ta, transposeB: tb)
                let cpu = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
                // Relative to Σ|a·b| per element: a sum of mixed signs can cancel to ~0, where a
                // relative error measures only the cancellation, not the kernel.
                let magnitude = Tensor.matmul(a.mapAbs(), b.mapAbs(), transposeA: ta, transposeB: tb).scalars
                let error = zip(zip(gpu.scalars, cpu.scalars), magnitude).map { abs($0.0 - $0.1) / max($1, 1e-6) }.max()!
                XCTAssertLessThanOrEqual(error, 1e-4, "matmul \(m)×\(k)·\(k)×\(n) ta=\(ta) tb=\(tb)")
                XCTAssertFalse(gpu.storage.isHost)
                ParityLog.note("matmul \(m)×\(k)·\(k)×\(n) ta=\(ta) tb=\(tb) (relative to Σ|a·b|)", error)
            }
        }
    }

    func testLinearLayerAndItsGradientsMatchTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 7)
        let x = random.tensor([37, 19]), w = random.tensor([11, 19]), b = random.tensor([11])
        let (cx, cw, cb) = (x.trackingGradients(), w.trackingGradients(), b.trackingGradients())
        let (dx, dw, db) = (x.moved(to: device).trackingGradients(), w.moved(to: device).trackingGradients(),
                            b.moved(to: device).trackingGradients())
        let cpu = (Tensor.linear(cx, weight: cw, bias: cb).relu() * 0.5).sum()
        let gpu = (Tensor.linear(dx, weight: dw, bias: db).relu() * 0.5).sum()
        assertMatches(gpu, cpu, tolerance: 1e-4, "linear forward")
        let (cg, dg) = (cpu.gradients(), gpu.gradients())
        assertMatches(dg[dx]!, cg[cx]!, tolerance: 1e-4, "∂/∂x")
        assertMatches(dg[dw]!, cg[cw]!, tolerance: 1e-4, "∂/∂W")
        assertMatches(dg[db]!, cg[cb]!, tolerance: 1e-4, "∂/∂b")
    }
}

private extension Tensor {
    /// |x| elementwise, on the CPU.
    func mapAbs() -> Tensor { Tensor(scalars.map(abs), shape: shape) }
}
