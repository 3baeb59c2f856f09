import XCTest
@testable import Engine

final class ElementwiseKernelTests: XCTestCase {
    func testReLUForwardBackwardAndFusedAdd() {
        // Large enough to take the parallel path, odd so chunks are uneven.
        let count = (1 << 16) + 3
        let a = kernelTestValues(count, seed: 1), b = kernelTestValues(count, seed: 2), g = kernelTestValues(count, seed: 3)
        withPools { pool in
            let ab = FloatBuffer(a), bb = FloatBuffer(b), gb = FloatBuffer(g)
            let y = FloatBuffer(count: count), dx = FloatBuffer(count: count), sum = FloatBuffer(count: count)
            withExtendedLifetime([ab, bb, gb]) {
                Activation.reluForward(input: ab.buffer, output: y.mutable, pool: pool)
                Activation.reluBackward(output: y.buffer, outputGradient: gb.buffer, inputGradient: dx.mutable, pool: pool)
                Activation.addReLUForward(ab.buffer, bb.buffer, output: sum.mutable, pool: pool)
            }
            XCTAssertEqual(y.array, a.map { max(0, $0) })
            XCTAssertEqual(dx.array, zip(a, g).map { $0 > 0 ? $1 : 0 })
            XCTAssertEqual(sum.array, zip(a, b).map { max(0, $0 + $1) })
            let dsum = FloatBuffer(count: count)
            withExtendedLifetime(gb) {
                Activation.addReLUBackward(output: sum.buffer, outputGradient: gb.buffer, inputGradient: dsum.mutable, pool: pool)
            }
            XCTAssertEqual(dsum.array, zip(zip(a, b), g).map { $0.0 + $0.1 > 0 ? $1 : 0 })
        }
    }

    /// The option-A shortcut against PyTorch's definition, odd sizes included, and its adjoint.
    func testShortcutForwardAndBackward() {
        for (n, h, w, c, p) in [(2, 8, 8, 16, 8), (3, 7, 5, 3, 2), (1, 1, 4, 4, 0)] {
            let oh = (h + 1) / 2, ow = (w + 1) / 2, oc = c + 2 * p
            let x = kernelTestValues(n * h * w * c, seed: 4), dy = kernelTestValues(n * oh * ow * oc, seed: 5)
            var expected = [Float](repeating: 0, count: dy.count), expectedDx = [Float](repeating: 0, count: x.count)
            for b in 0..<n { for i in 0..<oh { for j in 0..<ow { for k in 0..<c {
                let src = ((b * h + 2 * i) * w + 2 * j) * c + k, dst = ((b * oh + i) * ow + j) * oc + p + k
                expected[dst] = x[src]
                expectedDx[src] = dy[dst]
            } } } }
            withPools { pool in
                let xb = FloatBuffer(x), dyb = FloatBuffer(dy)
                let y = FloatBuffer(count: dy.count), dx = FloatBuffer(count: x.count)
                withExtendedLifetime([xb, dyb]) {
                    ShortcutA.forward(input: xb.buffer, batch: n, height: h, width: w, channels: c, padding: p,
                                      output: y.mutable, pool: pool)
                    ShortcutA.backward(outputGradient: dyb.buffer, batch: n, height: h, width: w, channels: c,
                                       padding: p, inputGradient: dx.mutable, pool: pool)
                }
                XCTAssertEqual(y.array, expected, "shortcut forward \(n)×\(h)×\(w)×\(c) pad \(p)")
                XCTAssertEqual(dx.array, expectedDx, "shortcut backward \(n)×\(h)×\(w)×\(c) pad \(p)")
            }
        }
    }

    func testGlobalAveragePoolForwardAndBackward() {
        let (n, pixels, c) = (3, 7 * 5, 13)
        let x = kernelTestValues(n * pixels * c, seed: 6), dy = kernelTestValues(n * c, seed: 7)
        var expected = [Double](repeating: 0, count: n * c), expectedDx = [Double](repeating: 0, count: x.count)
        for b in 0..<n { for q in 0..<pixels { for k in 0..<c {
            expected[b * c + k] += Double(x[(b * pixels + q) * c + k]) / Double(pixels)
            expectedDx[(b * pixels + q) * c + k] = Double(dy[b * c + k]) / Double(pixels)
        } } }
        withPools { pool in
            let xb = FloatBuffer(x), dyb = FloatBuffer(dy)
            let y = FloatBuffer(count: n * c), dx = FloatBuffer(count: x.count)
            withExtendedLifetime([xb, dyb]) {
                GlobalAveragePool.forward(input: xb.buffer, batch: n, pixels: pixels, channels: c, output: y.mutable, pool: pool)
                GlobalAveragePool.backward(outputGradient: dyb.buffer, batch: n, pixels: pixels, channels: c,
                                           inputGradient: dx.mutable, pool: pool)
            }
            assertClose(y.array, expected, rtol: 1e-5, atol: 1e-6, "pool forward")
            assertClose(dx.array, expectedDx, rtol: 1e-6, atol: 1e-7, "pool backward")
        }
    }
}
